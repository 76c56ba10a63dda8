import type { RenderRequest } from '@aiprod/contracts';
import type { AttemptRef } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import type { RenderDeps } from '../app';
import { billedCost, settleSpend, tryEntry } from './spend';
import { settleCancelled } from './vendor-call';

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
