import { mkdtemp, rm } from 'node:fs/promises';
import { Timestamp } from '@google-cloud/firestore';
import { join } from 'node:path';
import { isTerminal, PermanentError, renderTopicFor } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { Shot } from '@aiprod/job-store';
import type { RenderDeps } from '../app';

export const clipKey = (tenantId: string, jobId: string, shotId: string, attempt: number) =>
  `tenants/${tenantId}/jobs/${jobId}/shots/${shotId}/attempt-${attempt}.mp4`;

/**
 * Renders one shot attempt. State first, publish second: the clip is stored and the attempt
 * recorded before `shot.rendered` goes out; a redelivery of a finished attempt only re-publishes.
 */
export const renderRequestHandler = (deps: RenderDeps) =>
  defineHandler(renderTopicFor(deps.backend.name), async (msg, ctx) => {
    const [job, shot] = await Promise.all([deps.jobs.getJob(msg.jobId), deps.jobs.getShot(msg.jobId, msg.shotId)]);
    if (!job || !shot || job.tenantId !== msg.tenantId) {
      throw new PermanentError('invalid_message', `shot ${msg.shotId} of job ${msg.jobId} does not exist`);
    }
    if (isTerminal(job.status)) {
      ctx.log.info('job already finished; render skipped', { status: job.status });
      return;
    }
    if (shot.attempt !== msg.attempt) {
      ctx.log.info('stale render request', { current: shot.attempt });
      return;
    }
    if (shot.status === 'RENDERED' || shot.status === 'PASSED') return publishRendered(deps, msg.tenantId, shot);
    if (shot.status !== 'RENDERING') {
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
            },
          },
        }),
        {
          key: `shot-${msg.shotId}-a${msg.attempt}-rendering`,
          type: 'shot.rendering',
          data: { shotId: msg.shotId, attempt: msg.attempt, backend: deps.backend.name },
        },
      );
      if (!started.changed && started.why === 'state_mismatch') {
        ctx.log.info('shot moved on meanwhile; render skipped', { status: started.value?.status });
        return;
      }
    }
    // RENDERING here is either ours or a crashed worker's; the local render is deterministic,
    // so doing it again yields the same clip under the same key.
    const dir = await mkdtemp(join(deps.workDir, 'render-'));
    try {
      const file = join(dir, 'clip.mp4');
      // The backend bounds its own work; this outer bound only guards against a backend that forgets to.
      const signal = AbortSignal.timeout(60 * 60_000);
      const { taskId } = await deps.backend.submit(msg.spec, {
        attemptKey: `${msg.jobId}/${msg.shotId}/${msg.attempt}`,
        signal,
      });
      const polled = await deps.backend.poll(taskId, signal);
      if (polled.state !== 'succeeded') throw new Error(`render did not finish: ${polled.state}`);
      await deps.backend.fetchResult(polled.output, file, signal);
      const costUsd = 0;
      const stored = await deps.storage.putFile(clipKey(msg.tenantId, msg.jobId, msg.shotId, msg.attempt), file, {
        contentType: 'video/mp4',
        move: true,
      });
      const done = await deps.jobs.transitionShot(
        msg.jobId,
        msg.shotId,
        'RENDERING',
        'RENDERED',
        (s) => ({
          attempts: {
            ...s.attempts,
            [String(msg.attempt)]: {
              ...s.attempts[String(msg.attempt)]!,
              status: 'RENDERED',
              clipUri: stored.uri,
              costUsd,
              finishedAt: Timestamp.now(),
            },
          },
        }),
        {
          key: `shot-${msg.shotId}-a${msg.attempt}-rendered`,
          type: 'shot.rendered',
          data: { shotId: msg.shotId, attempt: msg.attempt, sizeBytes: stored.sizeBytes },
        },
      );
      await deps.jobs.addCost(msg.jobId, `${msg.shotId}-a${msg.attempt}`, costUsd);
      if (done.value) await publishRendered(deps, msg.tenantId, done.value);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

async function publishRendered(deps: RenderDeps, tenantId: string, shot: Shot): Promise<void> {
  const attempt = shot.attempts[String(shot.attempt)];
  if (!attempt?.clipUri) throw new Error(`shot ${shot.shotId} attempt ${shot.attempt} has no clip recorded`);
  await deps.publisher.publish('aiprod.shot.rendered.v1', {
    v: 1,
    jobId: shot.jobId,
    tenantId,
    shotId: shot.shotId,
    attempt: shot.attempt,
    clipUri: attempt.clipUri,
    backend: attempt.backend,
    costUsd: attempt.costUsd ?? 0,
  });
}
