import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminal, PermanentError, renderTopicFor, type RenderRequest } from '@aiprod/contracts';
import { isLeaseFresh, renderRequestFor, type AttemptRef, type Job } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { recordAttemptTaken } from '../render-metrics';
import type { RenderDeps } from '../app';
import { abandonTask } from './abandon-task';
import type { AttemptEnd } from './attempt-end';
import { withLease } from './attempt-lease';
import { renderAttempt } from './attempt-loop';
import { publishRendered } from './publish-rendered';
import { settleCutOffCreate } from './submit';

/** Beyond two lease TTLs, so a holder that renewed just before we looked has certainly lapsed. */
const STANDBY_SLACK_MS = 1_000;

/**
 * One render request for this pool's backend, of an existing job of its tenant. The attempt is
 * claimed with a lease before any vendor call (PENDING/REJECTED → RENDERING, or taking over a stale
 * lease), renewed while the work goes on, and released when it ends; a redelivery of a finished
 * attempt only re-publishes `shot.rendered`, and one of an attempt handed to another backend
 * re-sends it there.
 */
export async function serveRenderRequest(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  delivery: { messageId: string; log: Log },
): Promise<void> {
  const { messageId, log } = delivery;
  // One holder per delivery, naming its message: a second delivery of the same message (its
  // Pub/Sub lease ran out) is told apart from a duplicate message, which is acked while the holder works.
  const holder = `${deps.workerId}:${messageId}:${randomBytes(4).toString('hex')}`;
  const ref: AttemptRef = {
    jobId: msg.jobId,
    shotId: msg.shotId,
    attempt: msg.attempt,
    backend: deps.backend.name,
    holder,
  };
  if (isTerminal(job.status)) return stopFinishedJob(deps, msg, job, ref, holder, log);
  if (job.status !== 'RENDERING') {
    // Not due: the planner sends render requests only once the job is RENDERING (after its
    // client's approval when it needed one), so this one is replayed or stray. Claiming it would
    // pay a vendor for a job nobody approved; the planner sends it again when it is due.
    log.warn('render request of a job not RENDERING; nothing claimed', { status: job.status });
    return;
  }
  const end = await holdAndRender(deps, msg, job, ref, holder, messageId, log);
  if (end === 'hand_back') await handBack(deps, msg, job, ref, holder, log);
}

async function holdAndRender(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  ref: AttemptRef,
  holder: string,
  messageId: string,
  log: Log,
): Promise<AttemptEnd> {
  // Bounded: a lease that is not renewed goes stale within its TTL.
  const standbyUntil = Date.now() + 2 * deps.lease.ttlMs + STANDBY_SLACK_MS;
  for (;;) {
    const claim = await deps.attempts.claim(ref, holder, deps.lease.ttlMs);
    switch (claim.kind) {
      case 'done':
        await publishRendered(deps, msg.tenantId, claim.shot);
        return 'finished';
      case 'stale':
        if (claim.shot?.status === 'FAILED' && claim.shot.attempt === msg.attempt) {
          // The shot failed but the job did not follow (failing it threw): fail it again.
          const error = claim.shot.attempts[String(msg.attempt)]?.error ?? 'the shot could not be rendered';
          const reason = error.startsWith('budget:') ? 'budget_exceeded' : 'render_failed';
          throw new PermanentError(reason, `shot ${msg.shotId}: ${error}`);
        }
        log.info('stale render request; nothing to do', { why: claim.why });
        return 'finished';
      case 'elsewhere': {
        // Handed over (or planned) elsewhere: make sure the owner has it, unless it is visibly at work.
        const a = claim.shot.attempts[String(msg.attempt)];
        if (!isLeaseFresh(a) && deps.deployedBackends.includes(claim.owner)) {
          const request = renderRequestFor(job, claim.shot);
          await deps.publisher.publish(request.topic, request.message);
          log.info('attempt belongs to another backend; re-sent it there', { owner: claim.owner });
        }
        return 'finished';
      }
      case 'held': {
        if (!claim.holder.includes(`:${messageId}:`)) {
          // A duplicate message: the holder's own message stays unacked until it is done.
          log.info('attempt is held by another delivery; duplicate acked', { holder: claim.holder });
          return 'finished';
        }
        // This very message, redelivered: its earlier delivery may be dead. Wait for its lease to go
        // stale; if it is still renewed past the bound, that delivery is alive and will finish (and
        // the stale-attempt sweep is the backstop): ack, rather than spend a delivery attempt.
        if (Date.now() > standbyUntil) {
          log.info('the earlier delivery of this message is still at work; acked');
          return 'finished';
        }
        if (deps.shutdown.aborted) return 'hand_back';
        await sleep(Math.max(50, Math.min(claim.untilMs - Date.now() + 50, deps.lease.renewMs)), undefined, {
          signal: deps.shutdown,
        }).catch(() => undefined);
        continue;
      }
      case 'claimed': {
        recordAttemptTaken(deps.backend.name, claim.attempt);
        // On the capacity board for as long as this worker has the attempt in hand.
        const key = `${msg.jobId}/${msg.shotId}/a${msg.attempt}`;
        deps.capacity?.reporter.begin(key);
        try {
          return await withLease(deps, ref, holder, log, (lost) =>
            renderAttempt(deps, msg, job, claim.attempt, ref, lost, log),
          );
        } finally {
          deps.capacity?.reporter.end(key);
        }
      }
    }
  }
}

/**
 * Shutdown with a task in flight: the task id is stored, so the message is published again and
 * this one acked. A nack would spend one of the subscription's delivery attempts on every deploy.
 */
async function handBack(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  ref: AttemptRef,
  holder: string,
  log: Log,
): Promise<void> {
  await deps.attempts.releaseLease(ref, holder);
  const shot = await deps.jobs.getShot(msg.jobId, msg.shotId);
  const request = shot && shot.attempt === msg.attempt ? renderRequestFor(job, shot) : null;
  await deps.publisher.publish(request?.topic ?? renderTopicFor(deps.backend.name), request?.message ?? msg);
  log.info('shutting down; render request handed back with its task id stored');
}

/** A finished job's task may still be running at the vendor: stop paying for it, once. */
async function stopFinishedJob(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  ref: AttemptRef,
  holder: string,
  log: Log,
): Promise<void> {
  const claim = await deps.attempts.claim(ref, holder, deps.lease.ttlMs, { start: false });
  if (claim.kind !== 'claimed') {
    log.info('job already finished; render skipped', { status: job.status });
    return;
  }
  try {
    const taskId = claim.attempt.vendorTaskId;
    if (taskId) await abandonTask(deps, msg, ref, taskId, log);
    else {
      // A create a crash cut off is booked (as charged) before the attempt closes: nobody else will.
      if (!(await settleCutOffCreate(deps, msg, ref, claim.attempt, log))) return;
      await deps.attempts.fail(ref, `the job is ${job.status}`);
    }
    log.info('job already finished; render stopped', { status: job.status, hadTask: !!taskId });
  } finally {
    await deps.attempts.releaseLease(ref, holder);
  }
}
