import { setTimeout as sleep } from 'node:timers/promises';
import { BrokenCircuitError } from 'cockatiel';
import { busyPolicyOf, isTerminal, type BackendName, type RenderRequest } from '@aiprod/contracts';
import type { Log } from '@aiprod/pubsub';
import type { RenderDeps } from '../app';
import {
  BackendFailure,
  type BackendError,
  type BackendOutput,
  type BackendUsage,
  type ErrorClass,
  type LoadedReference,
  type PollResult,
  type SentRequest,
} from '../backends/backend';
import { taskRef as taskRefOf } from '@aiprod/job-store';
import { backoffDelay, circuitOpenError } from './policy';

/** Reports progress on the timeline at most this often, so a slow task never looks hung. */
const PROGRESS_EVENT_MS = 30_000;

/** A loop bound only (polls are spaced by the backend's interval; the attempt timeout ends it first). */
const MAX_POLLS = 1_000_000;
/** The last poll for a cancelled task's bill: one quick call, never the whole poll budget. */
const FINAL_BILL_POLL_TIMEOUT_MS = 10_000;

/**
 * A poll that failed says nothing about the task, which keeps running and billing at the vendor
 * (5xx, 429, resets, our own timeout, even a 401 while a token is refreshed): the same task is
 * polled again, with backoff, until the attempt deadline. Only an answer that the task is gone
 * (the vendor no longer knows it, or refuses the request itself) gives it up, once confirmed.
 */
const TASK_GONE_CLASSES: readonly ErrorClass[] = ['no_output', 'invalid'];

/**
 * "Gone" answers in a row that give a task up. One is not proof: a vendor may answer 404 for a
 * task it has just created (eventual consistency) or through a load-balancer hiccup, and the task
 * it still runs and bills would be cancelled and paid for again on a new one. Any other answer in
 * between starts the count again. The re-polls wait like those after a transport fault (the
 * policy's backoff, each at most its `maxMs` unless the vendor asks for longer) and at least one
 * poll interval: a gone task is given up two waits later, and never after the attempt deadline.
 */
export const GONE_CONFIRMATIONS = 3;

/**
 * Creates the vendor task, through the backend's circuit breaker. Our own timeout on the call is
 * a timeout, never a cancellation (the policy treats those differently).
 */
export async function submitTask(
  deps: RenderDeps,
  msg: RenderRequest,
  references: readonly LoadedReference[],
): Promise<{ taskId: string; sent: SentRequest }> {
  // Not aborted by a shutdown: a create cut off mid-flight may still make a task whose id we
  // would never learn, and pay for it twice. It finishes (bounded), its id is stored, then handed back.
  const signal = AbortSignal.timeout(deps.timeouts.submitMs);
  try {
    return await deps.breaker.execute(async () => {
      try {
        return await deps.backend.submit(msg.spec, {
          attemptKey: `${msg.jobId}/${msg.shotId}/a${msg.attempt}`,
          signal,
          references,
        });
      } catch (error) {
        const detail = error instanceof BackendFailure ? error.detail : deps.backend.classify(error);
        throw new BackendFailure(callerTimeout(deps, detail));
      }
    });
  } catch (error) {
    if (error instanceof BrokenCircuitError) throw new BackendFailure(circuitOpenError(deps.backend.name, error));
    throw error;
  }
}

/** A vendor-side task failure that says the vendor is unwell counts against its circuit breaker. */
export async function countAgainstBreaker(deps: RenderDeps, error: BackendError): Promise<void> {
  if (!['transient', 'rate_limited'].includes(error.class)) return;
  await deps.breaker.execute(() => Promise.reject(new BackendFailure(error))).catch(() => undefined);
}

function callerTimeout(deps: RenderDeps, detail: BackendError): BackendError {
  if (detail.class !== 'canceled' || deps.shutdown.aborted) return detail;
  return { ...detail, class: 'timeout', code: 'client_timeout', message: `${deps.backend.name}: no answer in time` };
}

export type PollOutcome =
  | { kind: 'succeeded'; output: BackendOutput; usage: BackendUsage }
  /** The vendor says the task failed. */
  | { kind: 'failed'; error: BackendError }
  /** We give up on the task (attempt deadline; the vendor no longer knows it): cancel and settle it. */
  | { kind: 'abandon'; error: BackendError }
  /** This delivery stops following the task, which stays stored on the attempt. */
  | { kind: 'stopped'; why: 'shutdown' | 'lease_lost' | 'job_finished' }
  /**
   * The vendor held the task back past the policy's `onBusy.afterSeconds`, `to` has room, and the
   * task, still held back at a last look, was cancelled with this bill: move the attempt.
   */
  | { kind: 'busy'; to: BackendName; why: string; busyMs: number; bill: Bill };

/** Where a busy task could go now: a backend of the chain with room, or null to keep waiting. */
export type BusyTarget = () => Promise<{ to: BackendName; why: string } | { to: null; why: string }>;

/** How often a task held back past its `afterSeconds` asks the board again for a backend with room. */
const BUSY_RECHECK_MS = 1_000;

/**
 * Busy time as stored on the attempt: what earlier deliveries measured for this task, and how to
 * store more. Written when a busy spell ends, when this delivery stops, and at most this often
 * while the task stays held back (a crash loses at most that much, counted as running time).
 */
export interface BusyRecord {
  seconds: number;
  save(seconds: number): Promise<unknown>;
}
const BUSY_SAVE_MS = 10_000;

/**
 * Polls one stored task until it ends, the attempt's deadline passes, the job finishes, this
 * worker shuts down or loses the attempt's lease. Transport failures never end the task.
 */
export async function pollTask(
  deps: RenderDeps,
  msg: RenderRequest,
  taskId: string,
  submittedAtMs: number,
  leaseLost: AbortSignal,
  log: Log,
  busyTarget?: BusyTarget,
  busyRecord?: BusyRecord,
): Promise<PollOutcome> {
  const policy = deps.policy.backends[deps.backend.name];
  const onBusy = busyPolicyOf(deps.policy, deps.backend.name);
  const attemptKey = `${msg.jobId}/${msg.shotId}/a${msg.attempt}`;
  // Busy time (the vendor holding the task back for its capacity) is not running time: the
  // deadline moves with it, up to `maxWaitSeconds`, the bound that keeps a wait for room finite.
  // Measured by earlier deliveries of this task too: a hand-back or a crash does not reset it.
  let busyDoneMs = (busyRecord?.seconds ?? 0) * 1000;
  let busySince: number | undefined;
  const busyMs = () => busyDoneMs + (busySince !== undefined ? Date.now() - busySince : 0);
  let savedBusyMs = busyDoneMs;
  let lastBusySave = Date.now();
  const saveBusy = async (force: boolean) => {
    const ms = busyMs();
    if (!busyRecord || ms <= savedBusyMs || (!force && Date.now() - lastBusySave < BUSY_SAVE_MS)) return;
    lastBusySave = Date.now();
    try {
      await busyRecord.save(Math.floor(ms / 100) / 10);
      savedBusyMs = ms;
    } catch (error) {
      // Advisory: a lost write only makes a resumed task's deadline earlier, as before it was kept.
      log.warn('storing the busy time failed', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  const deadlineAt = () =>
    submittedAtMs + policy.attemptTimeoutSeconds * 1000 + Math.min(busyMs(), onBusy.maxWaitSeconds * 1000);
  let lastBusyCheck = 0;
  let saidWaiting = false;
  const stop = AbortSignal.any([deps.shutdown, leaseLost]);
  let lastJobCheck = 0;
  let lastProgress = Date.now();
  let faults = 0;
  let gone = 0;
  /** A state read by the last look before a move, handled as this iteration's poll. */
  let lastLook: PollResult | undefined;
  for (let polls = 0; polls < MAX_POLLS; polls++) {
    if (deps.shutdown.aborted) {
      await saveBusy(true);
      return { kind: 'stopped', why: 'shutdown' };
    }
    if (leaseLost.aborted) return { kind: 'stopped', why: 'lease_lost' };
    const deadline = deadlineAt();
    if (Date.now() > deadline) {
      return {
        kind: 'abandon',
        error: {
          class: 'timeout',
          code: 'attempt_timeout',
          message: `the vendor task did not finish within the attempt timeout (${policy.attemptTimeoutSeconds} s)`,
          charged: false,
        },
      };
    }
    if (Date.now() - lastJobCheck >= deps.timeouts.jobCheckMs) {
      lastJobCheck = Date.now();
      const job = await deps.jobs.getJob(msg.jobId);
      if (!job || isTerminal(job.status)) return { kind: 'stopped', why: 'job_finished' };
    }
    let state: PollResult;
    try {
      state =
        lastLook ??
        (await deps.backend.poll(taskId, AbortSignal.any([stop, AbortSignal.timeout(deps.timeouts.pollMs)])));
      lastLook = undefined;
    } catch (error) {
      if (deps.shutdown.aborted) {
        await saveBusy(true);
        return { kind: 'stopped', why: 'shutdown' };
      }
      if (leaseLost.aborted) return { kind: 'stopped', why: 'lease_lost' };
      const detail = error instanceof BackendFailure ? error.detail : deps.backend.classify(error);
      if (TASK_GONE_CLASSES.includes(detail.class)) {
        gone += 1;
        if (gone >= GONE_CONFIRMATIONS) return { kind: 'abandon', error: detail };
      } else gone = 0;
      faults += 1;
      const waitMs = Math.min(
        Math.max(backoffDelay(policy, faults), detail.retryAfterMs ?? 0, gone ? deps.backend.pollIntervalMs : 0),
        Math.max(0, deadline - Date.now()),
      );
      if (faults === 1 || faults % 10 === 0) {
        await deps.jobs.appendEvent(msg.jobId, {
          key: `shot-${msg.shotId}-a${msg.attempt}-poll-fault-${polls}`,
          type: 'render.poll_retry',
          data: { shotId: msg.shotId, attempt: msg.attempt, backend: deps.backend.name, class: detail.class, faults },
        });
      }
      log.warn('polling the vendor failed; polling the same task again', {
        class: detail.class,
        code: detail.code,
        faults,
        gone,
      });
      await sleep(waitMs, undefined, { signal: stop }).catch(() => undefined);
      continue;
    }
    faults = 0;
    gone = 0;
    const busyNow = state.state === 'pending' && state.busy === true;
    if (busyNow && busySince === undefined) {
      busySince = Date.now();
      deps.capacity?.reporter.setThrottled(attemptKey, true);
      await deps.jobs.appendEvent(msg.jobId, {
        key: `shot-${msg.shotId}-a${msg.attempt}-busy-${taskRefOf(taskId)}-${busyDoneMs}`,
        type: 'render.busy',
        data: {
          shotId: msg.shotId,
          attempt: msg.attempt,
          backend: deps.backend.name,
          detail: state.state === 'pending' ? state.detail : undefined,
          reason: `${deps.backend.name} holds the task back for its own capacity; waiting (not a failure)`,
        },
      });
    } else if (!busyNow && busySince !== undefined) {
      busyDoneMs += Date.now() - busySince;
      busySince = undefined;
      deps.capacity?.reporter.setThrottled(attemptKey, false);
      if (state.state === 'pending') await saveBusy(true);
    } else if (busyNow) await saveBusy(false);
    if (state.state === 'succeeded') return { kind: 'succeeded', output: state.output, usage: state.usage };
    if (state.state === 'failed') return { kind: 'failed', error: state.error };
    if (
      busyNow &&
      busyTarget &&
      onBusy.action === 'fallback' &&
      busyMs() >= onBusy.afterSeconds * 1000 &&
      Date.now() - lastBusyCheck >= Math.max(deps.backend.pollIntervalMs, BUSY_RECHECK_MS)
    ) {
      lastBusyCheck = Date.now();
      const target = await busyTarget();
      if (target.to) {
        // The vendor may have started the task while the board was read; a started task is
        // cancelled only if it is still held back at this last look.
        const look = await cancelIfStillBusy(deps, msg, taskId);
        if (look.cancelled) return { kind: 'busy', to: target.to, why: target.why, busyMs: busyMs(), bill: look.bill };
        log.info('the vendor took the task up while a backend with room was looked for; following it here');
        if (look.state) {
          lastLook = look.state;
          continue;
        }
      } else if (!saidWaiting) {
        // Never a failure for busyness alone: with no backend with room, the task keeps its place.
        saidWaiting = true;
        await deps.jobs.appendEvent(msg.jobId, {
          key: `shot-${msg.shotId}-a${msg.attempt}-busy-${taskRefOf(taskId)}-waiting`,
          type: 'render.busy',
          data: {
            shotId: msg.shotId,
            attempt: msg.attempt,
            backend: deps.backend.name,
            reason: `busy for ${Math.round(busyMs() / 1000)} s; ${target.why}; waiting`,
          },
        });
      }
    }
    if (Date.now() - lastProgress >= PROGRESS_EVENT_MS) {
      lastProgress = Date.now();
      await deps.jobs.appendEvent(msg.jobId, {
        key: `shot-${msg.shotId}-a${msg.attempt}-progress-${lastProgress}`,
        type: 'render.progress',
        data: { shotId: msg.shotId, backend: deps.backend.name, progress: state.progress, detail: state.detail },
      });
    }
    log.debug('vendor task pending', { polls, progress: state.progress });
    await sleep(deps.backend.pollIntervalMs, undefined, { signal: stop }).catch(() => undefined);
  }
  throw new Error('poll loop bound reached');
}

/** How many polls may confirm a cancelled task's final state. */
const CONFIRM_POLLS = 5;

export type Bill = { charged: boolean; usage?: BackendUsage };

/** Reads a task once, quickly: its state, or `gone` or `unknown` when the read failed. */
async function readOnce(deps: RenderDeps, taskId: string): Promise<PollResult | 'gone' | 'unknown'> {
  try {
    return await deps.backend.poll(
      taskId,
      AbortSignal.timeout(Math.min(deps.timeouts.pollMs, FINAL_BILL_POLL_TIMEOUT_MS)),
    );
  } catch (error) {
    const detail = error instanceof BackendFailure ? error.detail : deps.backend.classify(error);
    return TASK_GONE_CLASSES.includes(detail.class) ? 'gone' : 'unknown';
  }
}

/** Reads a task once; its bill when it has ended, `pending` when not, `gone` or `unknown` otherwise. */
async function finalBill(deps: RenderDeps, taskId: string): Promise<Bill | 'pending' | 'gone' | 'unknown'> {
  const state = await readOnce(deps, taskId);
  if (typeof state === 'string') return state;
  if (state.state === 'succeeded') return { charged: true, usage: state.usage };
  if (state.state === 'failed') {
    return { charged: state.error.charged, ...(state.error.usage ? { usage: state.error.usage } : {}) };
  }
  return 'pending';
}

/**
 * Cancels a task and finds out what the vendor bills for it: the task's own final state when a
 * poll can read it (it may have finished just before the cancel, or been filtered for free),
 * else what the cancel answer said; a task whose fate cannot be read is counted as billed, so
 * spend is never understated.
 */
export async function settleCancelled(deps: RenderDeps, msg: RenderRequest, taskId: string): Promise<Bill> {
  // First: it may have ended already (a DELETE would then remove a finished, billed task's record).
  const before = await finalBill(deps, taskId);
  if (typeof before === 'object') return before;
  return cancelAndSettle(deps, msg, taskId);
}

/**
 * Cancels a task moved for room only if the vendor still holds it back, read once right before
 * the cancel: a task the vendor started (or finished) meanwhile is running, maybe billing, and is
 * followed where it is. `state` is that read (null when it failed: the poll loop reads it again).
 */
export async function cancelIfStillBusy(
  deps: RenderDeps,
  msg: RenderRequest,
  taskId: string,
): Promise<{ cancelled: true; bill: Bill } | { cancelled: false; state: PollResult | null }> {
  const state = await readOnce(deps, taskId);
  if (typeof state === 'string') return { cancelled: false, state: null };
  if (state.state !== 'pending' || state.busy !== true) return { cancelled: false, state };
  return { cancelled: true, bill: await cancelAndSettle(deps, msg, taskId) };
}

/** Cancels a live task and confirms what the vendor bills for it (see `settleCancelled`). */
async function cancelAndSettle(deps: RenderDeps, msg: RenderRequest, taskId: string): Promise<Bill> {
  const cancelled = await deps.backend.cancel(taskId, msg.spec);
  for (let i = 0; i < CONFIRM_POLLS; i++) {
    const after = await finalBill(deps, taskId);
    if (typeof after === 'object')
      return { ...after, ...(after.usage || !cancelled.usage ? {} : { usage: cancelled.usage }) };
    // Gone after our cancel (cancelled and deleted, an expired operation): the cancel's word stands.
    if (after === 'gone') return cancelled;
    await sleep(100 * 2 ** i);
  }
  // Still running, or unreadable: it may yet finish and bill.
  return { charged: true, usage: cancelled.usage ?? { outputSeconds: msg.spec.durationSeconds } };
}
