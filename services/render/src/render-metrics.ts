import type { Firestore } from '@google-cloud/firestore';
import type { CircuitBreakerPolicy } from 'cockatiel';
import { getMonthlySpend, type RenderTry, type ShotAttempt, type TenantStore } from '@aiprod/job-store';
import { count, observe, secondsSince, setGauge } from '@aiprod/observability';
import type { BackendName } from '@aiprod/contracts';
import type { Log } from '@aiprod/pubsub';
import type { VideoBackend } from './backends/backend';

/**
 * The render pool's metrics, kept out of the steps: a backend wrapped to time every vendor call,
 * the breaker's state as a gauge, and the ledger's tries, failures and spend as counters.
 */

/** The same backend, with each vendor call timed by operation and outcome (ok, or its error class). */
export function timedBackend(backend: VideoBackend): VideoBackend {
  const timed =
    <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      let outcome = 'ok';
      try {
        return await call(...args);
      } catch (error) {
        outcome = backend.classify(error).class;
        throw error;
      } finally {
        observe('vendorRequestDuration', secondsSince(started), {
          backend: backend.name,
          operation,
          outcome,
        });
      }
    };
  return Object.assign(Object.create(backend) as VideoBackend, {
    submit: timed('submit', backend.submit.bind(backend)),
    poll: timed('poll', backend.poll.bind(backend)),
    fetchResult: timed('fetch_result', backend.fetchResult.bind(backend)),
    cancel: timed('cancel', backend.cancel.bind(backend)),
  });
}

/** 0 closed, 0.5 half-open, 1 open: the alert on an open circuit compares with 1. */
export function reportBreakerState(breaker: CircuitBreakerPolicy, backend: BackendName): void {
  setGauge('circuitBreakerState', 0, { backend });
  breaker.onBreak(() => setGauge('circuitBreakerState', 1, { backend }));
  breaker.onHalfOpen(() => setGauge('circuitBreakerState', 0.5, { backend }));
  breaker.onReset(() => setGauge('circuitBreakerState', 0, { backend }));
}

/** Series a pool owns from its start, at zero, so that dashboards and alerts see them before trouble. */
export function initRenderSeries(backend: BackendName, deployed: readonly BackendName[]): void {
  count('renderAttempts', { backend }, 0);
  count('renderTries', { backend, outcome: 'succeeded' }, 0);
  count('renderTries', { backend, outcome: 'failed' }, 0);
  count('renderFailures', { backend, error_class: 'transient' }, 0);
  count('renderCost', { backend }, 0);
  for (const to of deployed) {
    if (to === backend) continue;
    count('renderFallbacks', { from_backend: backend, to_backend: to }, 0);
    count('renderBusyReroutes', { from_backend: backend, to_backend: to }, 0);
  }
}

/** A backend took an attempt that had no task yet (a new attempt, or one handed over to it). */
export function recordAttemptTaken(backend: BackendName, attempt: ShotAttempt): void {
  if (!attempt.vendorTaskId && !(attempt.tries ?? []).some((t) => t.backend === backend))
    count('renderAttempts', { backend });
}

/** A try's ledger line was written for the first time (never on a redelivery). */
export function recordTry(entry: RenderTry): void {
  count('renderTries', { backend: entry.backend, outcome: entry.outcome });
  if (entry.errorClass) count('renderFailures', { backend: entry.backend, error_class: entry.errorClass });
  if (entry.costUsd > 0) count('renderCost', { backend: entry.backend }, entry.costUsd);
}

export function recordFallback(from: BackendName, to: BackendName): void {
  count('renderFallbacks', { from_backend: from, to_backend: to });
}

/** An attempt moved away from a busy vendor: counted apart from fallbacks, it is not a failure. */
export function recordBusyReroute(from: BackendName, to: BackendName): void {
  count('renderBusyReroutes', { from_backend: from, to_backend: to });
}

/** After a charge: the tenant's month against its cap (tenants without a cap are not reported). */
export async function reportSpendAgainstCap(
  db: Firestore,
  tenants: TenantStore,
  tenantId: string,
  log: Log,
): Promise<void> {
  try {
    // Read fresh (one read per charged try): a cap just lowered must show at once.
    const tenant = await tenants.getTenant(tenantId);
    const cap = tenant?.monthlySpendCapUsd;
    if (!cap) return;
    setGauge('tenantSpendCapRatio', (await getMonthlySpend(db, tenantId)) / cap, { tenant: tenantId });
  } catch (error) {
    // Best effort: the spend is booked; a failed read must not fail (and redeliver) the message.
    log.warn('could not report spend against the cap', { tenantId, error });
  }
}
