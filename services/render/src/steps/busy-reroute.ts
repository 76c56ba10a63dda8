import { fallbackChain, type RenderRequest } from '@aiprod/contracts';
import { renderRequestFor, type AttemptRef, type Job, type ShotAttempt } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import type { RenderDeps } from '../app';
import { recordBusyReroute } from '../render-metrics';
import type { AttemptEnd } from './attempt-end';
import { allowedTargets, specFor } from './failed-try';
import { modelOf, preferredTargets, recordReferenceDrop } from './reference-routing';
import { billedCost, settleSpend, tryEntry } from './spend';
import type { BusyTarget, PollOutcome } from './vendor-call';

/** The code on a try given up because its vendor was busy: a reroute, never a failure. */
export const VENDOR_BUSY_CODE = 'vendor_busy';

/**
 * Where a task the vendor holds back may go: the first backend of this backend's chain (as the
 * preset and the deployment allow, not yet tried by this attempt) that the capacity board says
 * has room now. Without a board, or with no backend with room, nowhere: the task keeps waiting.
 */
export function busyTargetFor(deps: RenderDeps, job: Job, msg: RenderRequest, current: ShotAttempt): BusyTarget {
  const me = deps.backend.name;
  return async () => {
    const tried = new Set((current.tries ?? []).map((t) => t.backend));
    const chain = fallbackChain(deps.policy, me, allowedTargets(deps, job, msg)).filter((b) => !tried.has(b));
    if (!chain.length) return { to: null, why: 'no backend is left in the chain' };
    if (!deps.capacity) return { to: null, why: 'no capacity board to say which backend has room' };
    const views = await deps.capacity.board.readAll(chain);
    const withRoom = chain.filter((b) => views.get(b)?.hasRoom);
    // Of those with room, one that takes the shot's image first (see preferredTargets).
    const roomy = preferredTargets(deps, msg.spec, withRoom)[0];
    if (roomy) return { to: roomy, why: `${roomy} has room (${views.get(roomy)!.summary})` };
    return {
      to: null,
      why: `no backend of the chain has room (${chain.map((b) => views.get(b)!.summary).join('; ')})`,
    };
  };
}

/**
 * Moves an attempt whose task the vendor held back past the policy's `onBusy.afterSeconds` to a
 * backend with room. The task was cancelled (by `pollTask`, only if still held back at a last
 * look) and settled as the vendor bills it (a THROTTLED task has not started: nothing); the try is recorded without an error class, so it is counted
 * neither as a failure nor against the circuit breaker, and the hand-over says `render.rerouted`.
 */
export async function rerouteBusy(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  ref: AttemptRef,
  current: ShotAttempt,
  taskId: string,
  busy: Extract<PollOutcome, { kind: 'busy' }>,
  log: Log,
): Promise<AttemptEnd> {
  // Cancelled by the poll loop, only once a last look found it still held back.
  const bill = busy.bill;
  const seconds = bill.usage?.outputSeconds || msg.spec.durationSeconds;
  const reason = `${deps.backend.name} held the task back for its capacity for ${Math.round(busy.busyMs / 1000)} s; ${busy.why}`;
  const entry = {
    ...tryEntry(deps, 'canceled', billedCost(deps, msg, bill.charged, { ...bill.usage, outputSeconds: seconds }), {
      taskId,
    }),
    code: VENDOR_BUSY_CODE,
    message: reason,
  };
  await settleSpend(deps, msg, entry, {
    seconds,
    charged: bill.charged,
    ...(current.reservation ? { reservation: current.reservation } : {}),
  });
  const after = await deps.attempts.settleTry(
    ref,
    { entry, taskId },
    {
      kind: 'hand_over',
      to: busy.to,
      spec: (spec) => specFor(busy.to, spec, modelOf(deps, busy.to)),
      rerouted: { reason },
    },
  );
  if (!after) {
    log.info('the attempt moved on meanwhile; nothing more to do here');
    return 'lease_lost';
  }
  await recordReferenceDrop(
    deps,
    msg,
    {
      to: busy.to,
      triesSoFar: (current.tries ?? []).length + 1,
      kind: 'busy',
    },
    log,
  );
  recordBusyReroute(ref.backend, busy.to);
  const request = renderRequestFor(job, after);
  await deps.publisher.publish(request.topic, request.message);
  log.info('vendor busy; attempt rerouted', { to: busy.to, busyMs: busy.busyMs, charged: bill.charged });
  return 'finished';
}
