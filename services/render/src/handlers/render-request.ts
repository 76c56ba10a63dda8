import { Timestamp } from '@google-cloud/firestore';
import { isTerminal, PermanentError, renderTopicFor } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { RenderDeps } from '../app';
import { publishRendered, renderAttempt } from '../render-shot';

/**
 * One render request for this pool's backend. State first, publish second: the attempt is claimed
 * (PENDING/REJECTED → RENDERING) before any vendor call, and a redelivery of a finished attempt
 * only re-publishes `shot.rendered`.
 */
export const renderRequestHandler = (deps: RenderDeps) =>
  defineHandler(renderTopicFor(deps.backend.name), async (msg, ctx) => {
    const [job, shot] = await Promise.all([deps.jobs.getJob(msg.jobId), deps.jobs.getShot(msg.jobId, msg.shotId)]);
    if (!job || !shot || job.tenantId !== msg.tenantId) {
      throw new PermanentError('invalid_message', `shot ${msg.shotId} of job ${msg.jobId} does not exist`);
    }
    const attempt = shot.attempts[String(msg.attempt)];
    if (isTerminal(job.status)) {
      // A cancelled job's task may still be running at the vendor: stop paying for it.
      if (attempt?.vendorTaskId && attempt.backend === deps.backend.name && attempt.status === 'RENDERING') {
        await deps.backend.cancel(attempt.vendorTaskId);
      }
      ctx.log.info('job already finished; render skipped', { status: job.status });
      return;
    }
    if (shot.attempt !== msg.attempt) {
      ctx.log.info('stale render request', { current: shot.attempt });
      return;
    }
    if (shot.status === 'RENDERED' || shot.status === 'PASSED') return publishRendered(deps, msg.tenantId, shot);
    let current = shot;
    if (shot.status === 'PENDING' || shot.status === 'REJECTED') {
      const started = await deps.jobs.transitionShot(
        msg.jobId,
        msg.shotId,
        ['PENDING', 'REJECTED'],
        'RENDERING',
        (s) => ({
          backend: deps.backend.name,
          attempts: {
            ...s.attempts,
            [String(msg.attempt)]: {
              attempt: msg.attempt,
              backend: deps.backend.name,
              status: 'RENDERING',
              startedAt: Timestamp.now(),
              tries: [],
            },
          },
        }),
        {
          key: `shot-${msg.shotId}-a${msg.attempt}-rendering`,
          type: 'shot.rendering',
          data: { shotId: msg.shotId, attempt: msg.attempt, backend: deps.backend.name },
        },
      );
      if (!started.value || (!started.changed && started.why === 'state_mismatch')) {
        ctx.log.info('shot moved on meanwhile; render skipped', { status: started.value?.status });
        return;
      }
      current = started.value;
    }
    if (current.status !== 'RENDERING') return;
    await renderAttempt(deps, msg, job, current, ctx.log);
  });
