import { setTimeout as sleep } from 'node:timers/promises';
import { Timestamp } from '@google-cloud/firestore';
import {
  isTerminal,
  PermanentError,
  presetOf,
  type BackendName,
  type RenderRequest,
  type ShotSpec,
} from '@aiprod/contracts';
import {
  renderCacheKey,
  renderRequestFor,
  type AttemptRef,
  type Job,
  type NextStep,
  type RenderTry,
  type Shot,
  type ShotAttempt,
} from '@aiprod/job-store';
import { BACKEND_CAPABILITIES, isAllowedDuration } from '@aiprod/planning';
import type { Log } from '@aiprod/pubsub';
import { shotClipKey } from '@aiprod/storage';
import type { RenderDeps } from './app';
import { BackendFailure, type BackendError } from './backends/backend';
import { ingestClip } from './clip-ingest';
import { decide, type Decision } from './policy';
import { billedCost, budgetCapOf, expectedCost, reservationKey, settleSpend, tryEntry } from './spend';
import { countAgainstBreaker, pollTask, settleCancelled, submitTask } from './vendor-call';

/** Waiting for other tasks to settle the budget: re-checked at least this often. */
const BUDGET_WAIT_MS = 5_000;

/** How a delivery's work on an attempt ended. */
export type AttemptEnd =
  /** Rendered, handed to another backend, failed, or the job finished: ack. */
  | 'finished'
  /** This worker is shutting down (or cannot reach the job store) with work left: hand the message back. */
  | 'hand_back'
  /** Another delivery took the attempt over (this one was presumed dead): ack, it follows the task. */
  | 'lease_lost';

/** Downloading a finished clip may fail in transit; it is paid for, so it is fetched again this often. */
const INGEST_TRIES = 3;
/** Storing a task id that was just created is retried this often before the task is given up. */
const RECORD_TASK_TRIES = 4;

/**
 * Renders one shot attempt on this pool's backend, from wherever a previous delivery left it.
 * The caller holds the attempt's lease (`ref.holder`); every change below requires it still does.
 *
 *   cache hit?  → reuse a clip QA passed before, cost 0
 *   no task yet → reserve its spend against the budget, mark the create, submit, store the task id
 *   task stored → poll it through transport faults (a restarted worker resumes it, never pays twice)
 *   finished    → ledger first, then download, store, RENDERED, shot.rendered
 *   failed      → ledger first, then the try and the policy's decision in one transaction: retry
 *                 here after a backoff, hand over to the next deployed backend, or fail the shot.
 */
export async function renderAttempt(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  claimed: ShotAttempt,
  ref: AttemptRef,
  leaseLost: AbortSignal,
  log: Log,
): Promise<AttemptEnd> {
  const me = deps.backend.name;
  const cacheKey = renderCacheKey(msg.tenantId, me, deps.backend.model, msg.spec);
  if (!claimed.vendorTaskId && !claimed.tries?.length && !claimed.submitting) {
    if (await reuseCachedClip(deps, msg, ref, cacheKey, log)) return 'finished';
  }

  let current = claimed;
  let ingestFailures = 0;
  for (let steps = 0; steps < 60; steps++) {
    if (leaseLost.aborted) return 'lease_lost';
    let taskId = current.vendorTaskId;
    if (!taskId) {
      // Never start a create while shutting down: hand the request back instead.
      if (deps.shutdown.aborted) return 'hand_back';
      const waitMs = (current.retryAt?.toMillis() ?? 0) - Date.now();
      if (waitMs > 0) {
        // A backoff the policy chose; the job is looked at meanwhile, so a cancel does not wait for it.
        await sleep(Math.min(waitMs, deps.timeouts.jobCheckMs), undefined, {
          signal: AbortSignal.any([deps.shutdown, leaseLost]),
        }).catch(() => undefined);
        const fresh = await deps.jobs.getJob(msg.jobId);
        if (!fresh || isTerminal(fresh.status)) {
          await deps.attempts.fail(ref, `the job is ${fresh?.status ?? 'gone'}`);
          return 'finished';
        }
        continue;
      }
      const submitted = await submitOnce(deps, msg, job, ref, current, log);
      if (submitted.kind === 'end') return submitted.end;
      if (submitted.kind === 'again') {
        current = submitted.attempt;
        continue;
      }
      taskId = submitted.taskId;
      current = submitted.attempt;
    }

    const polled = await pollTask(deps, msg, taskId, current.submittedAt?.toMillis() ?? Date.now(), leaseLost, log);
    if (polled.kind === 'stopped') {
      if (polled.why === 'shutdown') return 'hand_back';
      if (polled.why === 'lease_lost') return 'lease_lost';
      // The job was cancelled or failed (another shot, the budget, a deadline): stop paying.
      await abandonTask(deps, msg, ref, taskId, log);
      return 'finished';
    }
    if (polled.kind === 'succeeded') {
      // Paid for now: the ledger line is written before anything can go wrong with the file.
      const seconds = polled.usage.outputSeconds > 0 ? polled.usage.outputSeconds : msg.spec.durationSeconds;
      const settled = tryEntry(
        deps,
        'succeeded',
        billedCost(deps, msg, true, { ...polled.usage, outputSeconds: seconds }),
        {
          taskId,
        },
      );
      await settleSpend(deps, msg, settled, {
        seconds,
        charged: true,
        ...(current.reservation ? { reservation: current.reservation } : {}),
      });
      let clip: Awaited<ReturnType<typeof ingestClip>>;
      try {
        clip = await ingestClip(deps, msg, polled.output);
      } catch (error) {
        if (deps.shutdown.aborted) return 'hand_back';
        const detail =
          error instanceof BackendFailure
            ? error.detail
            : ({
                class: 'transient',
                code: 'ingest_failed',
                message: `storing the clip failed: ${error instanceof Error ? error.message : String(error)}`.slice(
                  0,
                  300,
                ),
                charged: true,
              } satisfies BackendError);
        ingestFailures += 1;
        if (['transient', 'timeout', 'rate_limited'].includes(detail.class) && ingestFailures < INGEST_TRIES) {
          // Paid for and still at the vendor: poll again (a fresh output URL) and fetch again.
          log.warn('fetching the finished clip failed; fetching it again', { code: detail.code });
          await sleep(backoffMs(deps, ingestFailures), undefined, { signal: deps.shutdown }).catch(() => undefined);
          continue;
        }
        // The same ledger line (keyed by the task) as the charge above: recorded once, as a failed try.
        const entry = tryEntry(deps, 'failed', settled.costUsd, { taskId, error: detail });
        const end = await onFailure(
          deps,
          msg,
          job,
          ref,
          current,
          { entry, error: { ...detail, charged: true }, taskId },
          log,
        );
        if (typeof end === 'string') return end;
        current = end;
        continue;
      }
      const done = await deps.attempts.complete(
        ref,
        {
          clipUri: clip.clipUri,
          sizeBytes: clip.sizeBytes,
          ...(deps.cacheTtlSeconds > 0
            ? {
                cache: {
                  key: cacheKey,
                  ttlSeconds: deps.cacheTtlSeconds,
                  model: deps.backend.model,
                  sizeBytes: clip.sizeBytes,
                },
              }
            : {}),
        },
        { entry: settled, taskId },
      );
      if (done) await publishRendered(deps, msg.tenantId, done);
      else log.info('the attempt moved on while the clip was stored; the ledger has its cost');
      return 'finished';
    }

    let error = polled.error;
    let usage = error.usage;
    if (polled.kind === 'failed') await countAgainstBreaker(deps, error);
    else {
      // A task is only ever given up after it was cancelled, and costs what the vendor bills for it.
      const bill = await settleCancelled(deps, msg, taskId);
      error = { ...error, charged: bill.charged };
      usage = bill.usage;
    }
    const seconds = usage?.outputSeconds || msg.spec.durationSeconds;
    const entry = tryEntry(
      deps,
      error.code === 'attempt_timeout' ? 'abandoned' : 'failed',
      billedCost(deps, msg, error.charged, { ...usage, outputSeconds: seconds }),
      { taskId, error },
    );
    await settleSpend(deps, msg, entry, {
      seconds,
      charged: error.charged,
      ...(current.reservation ? { reservation: current.reservation } : {}),
    });
    const end = await onFailure(deps, msg, job, ref, current, { entry, error, taskId }, log);
    if (typeof end === 'string') return end;
    current = end;
  }
  throw new Error(`shot ${msg.shotId} attempt ${msg.attempt}: gave up after 60 steps`);
}

type SubmitResult =
  | { kind: 'submitted'; taskId: string; attempt: ShotAttempt }
  | { kind: 'again'; attempt: ShotAttempt }
  | { kind: 'end'; end: AttemptEnd };

/**
 * One vendor create, in the order that never loses money: spend reserved against the budget, the
 * create marked on the attempt, the create, its task id stored. A create marked by an earlier
 * delivery and never stored (a crash mid-create) is booked as charged before trying again.
 */
async function submitOnce(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  ref: AttemptRef,
  current: ShotAttempt,
  log: Log,
): Promise<SubmitResult> {
  const me = deps.backend.name;
  const n = current.tries?.length ?? 0;
  const expected = expectedCost(deps, msg);
  if (current.submitting && (await deps.jobs.hasReservation(msg.jobId, current.submitting.reservation))) {
    // A previous delivery died mid-create (its reservation was never settled): the vendor may have
    // made, and will bill, a task whose id we never learnt. No vendor can be asked; it is booked at
    // the expected price so spend is never understated, and the try counts.
    const entry = tryEntry(deps, 'unconfirmed', expected, {
      error: {
        class: 'transient',
        code: 'create_unconfirmed',
        message: 'a create was cut off; its task, if any, is unknown',
      },
    });
    await settleSpend(deps, msg, entry, {
      seconds: msg.spec.durationSeconds,
      charged: expected > 0,
      reservation: current.submitting.reservation,
      n,
    });
    const after = await deps.attempts.settleTry(ref, { entry }, { kind: 'record' });
    if (!after) return { kind: 'end', end: 'lease_lost' };
    log.warn('a create was cut off by a crash; booked at the expected price');
    return { kind: 'again', attempt: after.attempts[String(ref.attempt)]! };
  }
  const reservation = reservationKey(msg, me, n);
  if (expected > 0) {
    const reserved = await reserveWithinBudget(deps, msg, job, reservation, expected, log);
    if (reserved !== 'ok') {
      if (reserved === 'finished') return { kind: 'end', end: 'finished' };
      if (reserved === 'stopped') return { kind: 'end', end: deps.shutdown.aborted ? 'hand_back' : 'lease_lost' };
      await deps.attempts.fail(ref, `budget: ${reserved.why}`);
      throw new PermanentError('budget_exceeded', `shot ${msg.shotId}: ${reserved.why}`);
    }
  } else {
    // A free task (the local animatic) commits nothing: only the job's status matters, read without a lock.
    const fresh = await deps.jobs.getJob(msg.jobId);
    if (!fresh || isTerminal(fresh.status)) return { kind: 'end', end: 'finished' };
  }
  const marked = await deps.attempts.beginSubmit(ref, reservation);
  if (!marked) return { kind: 'end', end: 'lease_lost' };
  let taskId: string;
  try {
    taskId = await submitTask(deps, msg);
  } catch (error) {
    if (!(error instanceof BackendFailure)) throw error;
    const entry = tryEntry(deps, 'failed', billedCost(deps, msg, error.detail.charged, error.detail.usage), {
      error: error.detail,
    });
    await settleSpend(deps, msg, entry, {
      seconds: error.detail.usage?.outputSeconds ?? msg.spec.durationSeconds,
      charged: error.detail.charged,
      reservation,
      n,
    });
    const end = await onFailure(deps, msg, job, ref, marked.attempt, { entry, error: error.detail }, log);
    return typeof end === 'string' ? { kind: 'end', end } : { kind: 'again', attempt: end };
  }

  // The task exists and bills: store its id, trying hard, and settle it if that cannot be done.
  for (let tries = 1; ; tries++) {
    try {
      const recorded = await deps.attempts.recordTask(ref, taskId);
      if (recorded.attempt?.vendorTaskId === taskId) {
        log.info('vendor task submitted', { backend: me });
        return { kind: 'submitted', taskId, attempt: recorded.attempt };
      }
      // The attempt moved on, or this delivery lost its lease meanwhile: the task is surplus.
      await abandonTask(deps, msg, { ...ref }, taskId, log, { record: false, reservation });
      return { kind: 'end', end: 'lease_lost' };
    } catch (error) {
      if (tries < RECORD_TASK_TRIES) {
        await sleep(200 * 2 ** tries);
        continue;
      }
      await abandonTask(deps, msg, ref, taskId, log, { record: false, reservation }).catch(() => undefined);
      throw error;
    }
  }
}

type Reserved = 'ok' | 'finished' | 'stopped' | { why: string };

/**
 * Reserves a task's expected cost against the job's budget cap. When only other tasks' reservations
 * stand in the way (they may settle for less), it waits for them rather than failing the job.
 */
async function reserveWithinBudget(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  key: string,
  amount: number,
  log: Log,
): Promise<Reserved> {
  const cap = budgetCapOf(job);
  for (let waits = 0; ; waits++) {
    const r = await deps.jobs.reserveSpend(msg.jobId, key, amount, cap);
    if (r.ok) return 'ok';
    if (r.why !== 'budget') return 'finished';
    const without = r.spentUsd + amount;
    const onlyCommitted = without <= r.capUsd + 1e-9;
    if (!onlyCommitted || waits >= 60) {
      return {
        why:
          `a further ${deps.backend.name} task (${amount.toFixed(2)} USD) would bring spend to ` +
          `${(r.spentUsd + r.committedUsd).toFixed(2)} USD, above the budget cap of ${r.capUsd} USD`,
      };
    }
    log.info('other tasks in flight hold the rest of the budget; waiting for them to settle');
    await sleep(Math.min(deps.timeouts.jobCheckMs, BUDGET_WAIT_MS), undefined, { signal: deps.shutdown }).catch(
      () => undefined,
    );
    if (deps.shutdown.aborted) return 'stopped';
  }
}

const backoffMs = (deps: RenderDeps, n: number) => {
  const b = deps.policy.backends[deps.backend.name].backoff;
  return Math.min(b.initialMs * b.multiplier ** (n - 1), b.maxMs);
};

/**
 * Cancels a task this delivery will not follow and settles what the vendor bills for it. With
 * `record` (the default) the try is recorded and the attempt forgets the task; without, the
 * attempt never pointed at it (a surplus task).
 */
export async function abandonTask(
  deps: RenderDeps,
  msg: RenderRequest,
  ref: AttemptRef,
  taskId: string,
  log: Log,
  options: { record?: boolean; reservation?: string } = {},
): Promise<void> {
  const bill = await settleCancelled(deps, msg, taskId);
  const seconds = bill.usage?.outputSeconds || msg.spec.durationSeconds;
  const entry = tryEntry(
    deps,
    'canceled',
    billedCost(deps, msg, bill.charged, { ...bill.usage, outputSeconds: seconds }),
    {
      taskId,
    },
  );
  const shot = options.record === false ? null : await deps.jobs.getShot(msg.jobId, msg.shotId);
  const reservation = options.reservation ?? shot?.attempts[String(msg.attempt)]?.reservation;
  await settleSpend(deps, msg, entry, { seconds, charged: bill.charged, ...(reservation ? { reservation } : {}) });
  if (options.record !== false) {
    await deps.attempts.settleTry(ref, { entry, taskId }, { kind: 'fail', error: 'the job finished; task cancelled' });
  }
  await deps.jobs.appendEvent(msg.jobId, {
    key: `shot-${msg.shotId}-a${msg.attempt}-canceled-${entry.at.toMillis()}`,
    type: 'render.canceled',
    data: { shotId: msg.shotId, attempt: msg.attempt, backend: ref.backend, costUsd: entry.costUsd },
  });
  log.info('vendor task cancelled', { charged: bill.charged });
}

/**
 * Applies the fallback policy to a failed try whose spend is already in the ledger: the try and
 * the decision are stored in one transaction (a crash cannot forget the decision), then acted on.
 * Returns the attempt to go on with (retry here), or how this delivery ends.
 */
async function onFailure(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  ref: AttemptRef,
  current: ShotAttempt,
  failed: { entry: RenderTry; error: BackendError; taskId?: string },
  log: Log,
): Promise<ShotAttempt | AttemptEnd> {
  const { error, entry, taskId } = failed;
  const tries = [...(current.tries ?? []), entry];
  const decision: Decision = decide({
    policy: deps.policy,
    backend: ref.backend,
    error,
    triesHere: tries.filter((t) => t.backend === ref.backend).length,
    tried: [...new Set(tries.map((t) => t.backend))],
    // Only backends this deployment runs a pool for, and that can make this shot's length (Veo: 4/6/8 s).
    allowed: presetOf(job.preset).allowedBackends.filter(
      (b) => deps.deployedBackends.includes(b) && isAllowedDuration(b, msg.spec.durationSeconds, msg.spec.fps),
    ),
  });
  const next: NextStep =
    decision.action === 'retry'
      ? { kind: 'retry', notBefore: Timestamp.fromMillis(Date.now() + (decision.delayMs ?? 0)) }
      : decision.action === 'fallback' && decision.to
        ? { kind: 'hand_over', to: decision.to, spec: (spec) => specFor(decision.to!, spec) }
        : { kind: 'fail', error: `${error.class}: ${error.message}` };
  const after = await deps.attempts.settleTry(ref, { entry, ...(taskId ? { taskId } : {}) }, next);
  if (!after) {
    log.info('the attempt moved on meanwhile; nothing more to do here');
    return 'lease_lost';
  }
  await deps.jobs.appendEvent(msg.jobId, {
    key: `shot-${msg.shotId}-a${msg.attempt}-decision-${tries.length}`,
    type: 'render.decision',
    data: {
      shotId: msg.shotId,
      attempt: msg.attempt,
      backend: ref.backend,
      class: error.class,
      code: error.code,
      action: decision.action,
      to: decision.to,
      delayMs: decision.delayMs,
      why: decision.why,
      costUsd: entry.costUsd,
    },
  });
  log.warn('vendor task failed', { class: error.class, code: error.code, action: decision.action, to: decision.to });
  if (next.kind === 'retry') return after.attempts[String(ref.attempt)]!;
  if (next.kind === 'hand_over') {
    const request = renderRequestFor(job, after);
    await deps.publisher.publish(request.topic, request.message);
    return 'finished';
  }
  throw new PermanentError(
    'render_failed',
    `shot ${msg.shotId} could not be rendered: ${decision.why}: ${error.message}`,
  );
}

/** The shot as the next backend can make it: no vendor sound asked of a backend that has none. */
function specFor(to: BackendName, spec: ShotSpec): ShotSpec {
  if (!spec.audio || BACKEND_CAPABILITIES[to].nativeAudio) return spec;
  const { audio: _audio, ...silent } = spec;
  return silent;
}

async function reuseCachedClip(
  deps: RenderDeps,
  msg: RenderRequest,
  ref: AttemptRef,
  cacheKey: string,
  log: Log,
): Promise<boolean> {
  const hit = await deps.cache.lookup(cacheKey);
  if (!hit) return false;
  const source = deps.storage.keyFromUri(hit.clipUri);
  if (!(await deps.storage.exists(source))) {
    await deps.cache.forget(cacheKey);
    return false;
  }
  const target = shotClipKey(msg);
  const stored =
    source === target
      ? { uri: hit.clipUri, sizeBytes: hit.sizeBytes }
      : await deps.storage.withLocalFile(source, (path) =>
          deps.storage.putFile(target, path, { contentType: 'video/mp4' }),
        );
  const entry = tryEntry(deps, 'cache_hit', 0);
  await settleSpend(deps, msg, entry, { seconds: 0, charged: false });
  const done = await deps.attempts.complete(ref, { clipUri: stored.uri, sizeBytes: stored.sizeBytes }, { entry });
  if (done) await publishRendered(deps, msg.tenantId, done);
  log.info('render cache hit', { from: hit.clipUri });
  return true;
}

export async function publishRendered(deps: RenderDeps, tenantId: string, shot: Shot): Promise<void> {
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
