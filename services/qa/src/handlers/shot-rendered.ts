import { Timestamp } from '@google-cloud/firestore';
import { isTerminal, PermanentError, renderTopicFor } from '@aiprod/contracts';
import { defineHandler, type Log } from '@aiprod/pubsub';
import type { Job, QaReport, Shot } from '@aiprod/job-store';
import type { QaDeps } from '../app';
import { technicalChecks } from '../technical';

const CHECK_TIMEOUT_MS = 120_000;

async function requestAssembly(deps: QaDeps, job: Job): Promise<void> {
  await deps.publisher.publish('aiprod.job.assemble.v1', { v: 1, jobId: job.jobId, tenantId: job.tenantId });
}

async function requestRerender(deps: QaDeps, job: Job, shot: Shot): Promise<void> {
  await deps.publisher.publish(renderTopicFor(shot.backend), {
    v: 1,
    jobId: job.jobId,
    tenantId: job.tenantId,
    shotId: shot.shotId,
    attempt: shot.attempt,
    spec: shot.spec,
  });
}

/** What QA needs to know about one rendered attempt: the message, or the stored shot. */
export interface RenderedAttempt {
  jobId: string;
  tenantId: string;
  shotId: string;
  attempt: number;
  clipUri: string;
}

/**
 * Checks one rendered attempt. Pass → the shot is PASSED, and the last shot to pass requests
 * assembly (once, in the same transaction). Reject → a new attempt, up to the limit, then the
 * job fails with the checks that failed. Repeats re-publish what the state says was due.
 */
export async function checkRenderedShot(deps: QaDeps, msg: RenderedAttempt, log: Log): Promise<void> {
  const [job, shot] = await Promise.all([deps.jobs.getJob(msg.jobId), deps.jobs.getShot(msg.jobId, msg.shotId)]);
  if (!job || !shot || job.tenantId !== msg.tenantId) {
    throw new PermanentError('invalid_message', `shot ${msg.shotId} of job ${msg.jobId} does not exist`);
  }
  if (isTerminal(job.status)) return;
  if (shot.status === 'PASSED' && shot.attempt === msg.attempt) {
    if (job.status === 'ASSEMBLING') await requestAssembly(deps, job);
    return;
  }
  if (shot.status === 'REJECTED' && shot.attempt === msg.attempt + 1) return requestRerender(deps, job, shot);
  if (shot.status !== 'RENDERED' || shot.attempt !== msg.attempt) {
    log.info('stale QA request', { status: shot.status, current: shot.attempt });
    return;
  }

  const checks = await deps.storage.withLocalFile(deps.storage.keyFromUri(msg.clipUri), (file) =>
    technicalChecks(file, shot.spec, CHECK_TIMEOUT_MS),
  );
  const failed = checks.filter((c) => c.verdict === 'fail');
  const report: QaReport = {
    attempt: msg.attempt,
    verdict: failed.length ? 'reject' : 'pass',
    checks,
    at: Timestamp.now(),
  };
  log.info('QA verdict', { verdict: report.verdict, failed: failed.map((c) => c.name) });

  if (!failed.length) {
    const result = await deps.jobs.passShot(msg.jobId, msg.shotId, msg.attempt, report);
    if (result.job?.status === 'ASSEMBLING') await requestAssembly(deps, result.job);
    return;
  }
  const summary = failed
    .map((c) => `${c.name}: measured ${String(c.measured)}, expected ${c.expected ?? '?'}`)
    .join('; ');
  if (msg.attempt >= deps.maxAttempts) {
    await deps.jobs.transitionShot(msg.jobId, msg.shotId, 'RENDERED', 'FAILED', (s) => ({
      qa: report,
      attempts: s.attempts,
    }));
    throw new PermanentError('qa_failed', `shot ${msg.shotId} failed QA after ${msg.attempt} attempts: ${summary}`);
  }
  const rejected = await deps.jobs.transitionShot(
    msg.jobId,
    msg.shotId,
    'RENDERED',
    'REJECTED',
    (s) => ({
      qa: report,
      attempt: msg.attempt + 1,
      attempts: { ...s.attempts, [String(msg.attempt)]: { ...s.attempts[String(msg.attempt)]!, status: 'REJECTED' } },
    }),
    {
      key: `shot-${msg.shotId}-a${msg.attempt}-rejected`,
      type: 'shot.rejected',
      data: { shotId: msg.shotId, attempt: msg.attempt, failed: summary },
    },
  );
  if (rejected.value?.status === 'REJECTED') await requestRerender(deps, job, rejected.value);
}

export const shotRenderedHandler = (deps: QaDeps) =>
  defineHandler('aiprod.shot.rendered.v1', (msg, ctx) => checkRenderedShot(deps, msg, ctx.log));

/**
 * The sweeper's nudge for an overdue RENDERING job: shots waiting to render are requested again,
 * rendered shots are checked again. A shot still RENDERING is left to its message, which Pub/Sub
 * keeps redelivering until it succeeds or dead-letters.
 */
export async function resumeRendering(deps: QaDeps, job: Job, log: Log): Promise<void> {
  for (const shot of await deps.jobs.listShots(job.jobId)) {
    const clipUri = shot.attempts[String(shot.attempt)]?.clipUri;
    if (shot.status === 'PENDING' || shot.status === 'REJECTED') await requestRerender(deps, job, shot);
    else if (shot.status === 'RENDERED' && clipUri) {
      await checkRenderedShot(
        deps,
        { jobId: job.jobId, tenantId: job.tenantId, shotId: shot.shotId, attempt: shot.attempt, clipUri },
        log,
      );
    }
  }
}
