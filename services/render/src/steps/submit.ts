import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminal, PermanentError, type RenderRequest } from '@aiprod/contracts';
import type { AttemptRef, Job, ShotAttempt } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import type { RenderDeps } from '../app';
import { BackendFailure, type LoadedReference, type SentRequest } from '../backends/backend';
import { abandonTask } from './abandon-task';
import type { AttemptEnd } from './attempt-end';
import { onFailure } from './failed-try';
import {
  billedCost,
  budgetCapOf,
  expectedCost,
  reservationKey,
  resumeMonthOfCreate,
  settleSpend,
  tryEntry,
} from './spend';
import { loadReferences } from './references';
import { submitTask } from './vendor-call';

/** Waiting for other tasks to settle the budget: re-checked at least this often. */
const BUDGET_WAIT_MS = 5_000;
/** Storing a task id that was just created is retried this often before the task is given up. */
const RECORD_TASK_TRIES = 4;

type SubmitResult =
  | { kind: 'submitted'; taskId: string; attempt: ShotAttempt }
  | { kind: 'again'; attempt: ShotAttempt }
  | { kind: 'end'; end: AttemptEnd };

/**
 * One vendor create, in the order that never loses money: spend reserved against the budget, the
 * create marked on the attempt, the create, its task id stored. A create marked by an earlier
 * delivery and never stored (a crash mid-create) is booked as charged before trying again.
 */
export async function submitOnce(
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
  const settled = await settleCutOffCreate(deps, msg, ref, current, log);
  if (!settled) return { kind: 'end', end: 'lease_lost' };
  if (settled !== current) return { kind: 'again', attempt: settled };
  // Before any money is reserved or a create marked: a reference that cannot be read ends here.
  let references: LoadedReference[];
  try {
    references = await loadReferences(deps.storage, msg.spec);
  } catch (error) {
    // Never to be read (erased, or not the image the plan recorded): the attempt is over, and
    // says why, as a budget refusal does; one that may yet be read is retried as it stands.
    if (error instanceof PermanentError) await deps.attempts.fail(ref, `references: ${error.message}`);
    throw error;
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
  let sent: SentRequest;
  try {
    ({ taskId, sent } = await submitTask(deps, msg, references));
  } catch (error) {
    if (!(error instanceof BackendFailure)) throw error;
    const entry = tryEntry(deps, 'failed', billedCost(deps, msg, error.detail.charged, error.detail.usage), {
      error: error.detail,
    });
    await settleSpend(deps, msg, entry, {
      seconds: error.detail.usage?.outputSeconds ?? msg.spec.durationSeconds,
      charged: error.detail.charged,
      reservation,
      createMarkedAt: marked.submitting.at,
    });
    const end = await onFailure(deps, msg, job, ref, marked.attempt, { entry, error: error.detail }, log);
    return typeof end === 'string' ? { kind: 'end', end } : { kind: 'again', attempt: end };
  }

  // The task exists and bills: store its id, trying hard, and settle it if that cannot be done.
  for (let tries = 1; ; tries++) {
    try {
      // What the request carried is stored in the same write as its task id (provenance survives a crash).
      const recorded = await deps.attempts.recordTask(ref, taskId, sent);
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

/**
 * A create an earlier delivery marked and never stored a task id for. With its reservation still
 * held, that delivery died mid-create: the vendor may have made, and will bill, a task whose id we
 * never learnt. No vendor can be asked; it is booked at the expected price so spend is never
 * understated, and the try counts. With the reservation released, its line was written and only
 * the tenant's month may lack it. Returns the attempt after booking, `current` when there was
 * nothing to book, null when this delivery no longer holds the attempt.
 */
export async function settleCutOffCreate(
  deps: RenderDeps,
  msg: RenderRequest,
  ref: AttemptRef,
  current: ShotAttempt,
  log: Log,
): Promise<ShotAttempt | null> {
  const mark = current.submitting;
  if (!mark) return current;
  if (!(await deps.jobs.hasReservation(msg.jobId, mark.reservation))) {
    // Settled by a delivery that died before its try was stored: the month may not have its charge.
    await resumeMonthOfCreate(deps, msg, mark.at);
    return current;
  }
  const expected = expectedCost(deps, msg);
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
    reservation: mark.reservation,
    createMarkedAt: mark.at,
  });
  const after = await deps.attempts.settleTry(ref, { entry }, { kind: 'record' });
  if (!after) return null;
  log.warn('a create was cut off by a crash; booked at the expected price');
  return after.attempts[String(ref.attempt)]!;
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
