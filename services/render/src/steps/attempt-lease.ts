import type { AttemptRef } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import type { RenderDeps } from '../app';
import type { AttemptEnd } from './attempt-end';

/**
 * Runs `work` while renewing the attempt's lease; `lost` aborts when another delivery took it, or
 * when the lease could not be renewed for its whole TTL (the job store unreachable): then the
 * request is handed back rather than acked, since nobody may hold the attempt.
 */
export async function withLease(
  deps: RenderDeps,
  ref: AttemptRef,
  holder: string,
  log: Log,
  work: (lost: AbortSignal) => Promise<AttemptEnd>,
): Promise<AttemptEnd> {
  const lost = new AbortController();
  let unreachable = false;
  let renewedAt = Date.now();
  let renewing: Promise<void> = Promise.resolve();
  let inFlight = false;
  const timer = setInterval(() => {
    // One renewal at a time: a slow one is not joined by the next.
    if (inFlight) return;
    inFlight = true;
    renewing = deps.attempts
      .renewLease(ref, holder, deps.lease.ttlMs)
      .then((kept) => {
        if (kept) renewedAt = Date.now();
        else if (!lost.signal.aborted) {
          log.warn('lost the attempt lease to another delivery; stopping here');
          lost.abort();
        }
      })
      .catch((error: unknown) => {
        log.warn('could not renew the attempt lease', { error });
        if (Date.now() - renewedAt > deps.lease.ttlMs && !lost.signal.aborted) {
          unreachable = true;
          lost.abort();
        }
      })
      .finally(() => {
        inFlight = false;
      });
  }, deps.lease.renewMs);
  try {
    const end = await work(lost.signal);
    return end === 'lease_lost' && unreachable ? 'hand_back' : end;
  } finally {
    clearInterval(timer);
    await renewing;
    // The attempt has ended here (or is handed back): nobody need wait for this lease.
    await deps.attempts.releaseLease(ref, holder).catch(() => undefined);
  }
}
