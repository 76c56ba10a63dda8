import { Timestamp } from '@google-cloud/firestore';
import type { RenderRequest } from '@aiprod/contracts';
import { costLineId, eventKey, taskRef, type Job, type RenderTry } from '@aiprod/job-store';
import type { RenderDeps } from '../app';
import type { BackendUsage } from '../backends/backend';
import { recordTry } from '../render-metrics';

/**
 * Money, in the order that never loses it: a task's spend is reserved against the job's budget
 * before it is created, and its ledger line (the job's total, the tenant's month) is written
 * before any state that points at the task is cleared. Line and spend ids are derived from a
 * hash of the vendor's task id, so they are valid document ids for any vendor (Veo's task id is
 * a full operation name with slashes) and the same on every redelivery; a create that gave no
 * task id is keyed by its own mark (`costLineId`).
 */

/** What one task on this pool's backend is expected to cost: the reservation made before submitting. */
export const expectedCost = (deps: RenderDeps, msg: RenderRequest) =>
  deps.price(deps.backend.name, deps.backend.model, msg.spec, { outputSeconds: msg.spec.durationSeconds });

/** A try priced as the vendor bills it: `usage` when the vendor reported it, else the shot's length. */
export const billedCost = (deps: RenderDeps, msg: RenderRequest, charged: boolean, usage?: BackendUsage) =>
  charged
    ? deps.price(deps.backend.name, deps.backend.model, msg.spec, usage ?? { outputSeconds: msg.spec.durationSeconds })
    : 0;

/** The budget a job's spend may not pass: the brief's cap, as the plan recorded it. */
export const budgetCapOf = (job: Job): number | undefined => job.brief.budgetCapUsd ?? job.plan?.estimate?.budgetCapUsd;

/** The reservation key of the next task of an attempt: one per try, the same on a redelivery. */
export const reservationKey = (msg: RenderRequest, backend: string, triesSoFar: number) =>
  `${msg.shotId}-a${msg.attempt}-${backend}-r${triesSoFar}`;

export function tryEntry(
  deps: RenderDeps,
  outcome: RenderTry['outcome'],
  costUsd: number,
  detail: { taskId?: string; error?: { class: RenderTry['errorClass']; code: string; message: string } } = {},
): RenderTry {
  return {
    backend: deps.backend.name,
    model: deps.backend.model,
    ...(detail.taskId ? { vendorTaskId: detail.taskId } : {}),
    outcome,
    ...(detail.error ? { errorClass: detail.error.class, code: detail.error.code, message: detail.error.message } : {}),
    costUsd,
    at: Timestamp.now(),
  };
}

/**
 * Writes a try's ledger line (releasing its reservation) and adds a charge to the tenant's month.
 * Called before the attempt forgets the task; repeated on a redelivery, it records nothing twice.
 */
export async function settleSpend(
  deps: RenderDeps,
  msg: RenderRequest,
  entry: RenderTry,
  detail: {
    seconds: number;
    charged: boolean;
    reservation?: string;
    /** A create that gave no task id: when `beginSubmit` marked it, which keys its line. */
    createMarkedAt?: Timestamp;
  },
): Promise<void> {
  const line = costLineId(msg.shotId, msg.attempt, entry.backend, {
    ...(entry.vendorTaskId ? { taskId: entry.vendorTaskId } : {}),
    ...(detail.createMarkedAt ? { createMarkedAt: detail.createMarkedAt } : {}),
  });
  const added = await deps.jobs.addCost(
    msg.jobId,
    line,
    entry.costUsd,
    {
      shotId: msg.shotId,
      attempt: msg.attempt,
      backend: entry.backend,
      model: entry.model,
      outcome: entry.outcome,
      seconds: detail.charged ? detail.seconds : 0,
      charged: detail.charged,
      ...(entry.vendorTaskId ? { vendorTaskId: entry.vendorTaskId, taskRef: taskRef(entry.vendorTaskId) } : {}),
      ...(entry.errorClass ? { errorClass: entry.errorClass } : {}),
    },
    detail.reservation ? { reservation: detail.reservation } : {},
  );
  if (added) recordTry(entry);
  // Also on a redelivery (the line was already there): the month's spend dedupes on the line id.
  if (entry.costUsd > 0) await deps.recordSpend(msg.tenantId, entry.costUsd, `${msg.jobId}-${line}`);
}

/**
 * A create that gave no task id, found marked by a later delivery with its reservation already
 * released: its ledger line was written, but the delivery may have died before the tenant's month
 * was told (nothing else shows it). Tells the month again, which dedupes on the line id. A crash is
 * rare and a job has a handful of lines, so the ledger is read whole; its keys are stored as
 * `eventKey` makes them, so the line id is compared as that too.
 */
export async function resumeMonthOfCreate(deps: RenderDeps, msg: RenderRequest, createMarkedAt: Timestamp) {
  const line = costLineId(msg.shotId, msg.attempt, deps.backend.name, { createMarkedAt });
  const written = (await deps.jobs.listCosts(msg.jobId)).find((l) => l.key === eventKey(line));
  if (written && written.costUsd > 0) await deps.recordSpend(msg.tenantId, written.costUsd, `${msg.jobId}-${line}`);
}
