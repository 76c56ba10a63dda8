import { Firestore, type Transaction } from '@google-cloud/firestore';
import type { Span } from '@opentelemetry/api';
import { injectTraceContext, SpanKind, withSpan } from '@aiprod/observability';

/** One Firestore client per process, built in main.ts. The emulator is picked up from FIRESTORE_EMULATOR_HOST. */
export function createFirestore(projectId: string): Firestore {
  return new Firestore({ projectId, ignoreUndefinedProperties: true });
}

/** A span around one Firestore transaction, named for its purpose (`firestore.transaction transition`). */
export function withTransactionSpan<T>(purpose: string, fn: (span: Span) => Promise<T>): Promise<T> {
  return withSpan(
    `firestore.transaction ${purpose}`,
    fn,
    { 'db.system.name': 'firestore', 'db.operation.name': 'transaction', 'aiprod.transaction.purpose': purpose },
    { kind: SpanKind.CLIENT, tracer: '@aiprod/job-store' },
  );
}

/** `db.runTransaction` in a span named for its purpose: every transaction of this package goes through here. */
export function tracedTransaction<T>(db: Firestore, purpose: string, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return withTransactionSpan(purpose, () => db.runTransaction(fn));
}

/**
 * A transaction in one span for its whole purpose (retries included: what the caller waited
 * for), tried again when the Firestore emulator invalidates it under lock contention
 * ("Transaction is invalid or closed", where Firestore itself answers ABORTED and the client
 * retries on its own). Bounded; the callback must be safe to run again, as every one here is.
 */
export function runJobTransaction<T>(db: Firestore, purpose: string, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return withTransactionSpan(purpose, async (span) => {
    for (let tries = 1; ; tries++) {
      span.setAttribute('aiprod.transaction.tries', tries);
      try {
        // The client may run fn more than once; only the last run's transaction commits.
        let last: Transaction | undefined;
        const result = await db.runTransaction((tx) => {
          last = tx;
          committedHooks.set(tx, []);
          return fn(tx);
        });
        runCommittedHooks(last);
        return result;
      } catch (error) {
        const invalidated = /Transaction is invalid or closed/.test((error as Error)?.message ?? '');
        if (!invalidated || tries >= 4) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** tries));
      }
    }
  });
}

/** Work to do once a transaction has committed (metrics), keyed by the transaction. */
const committedHooks = new WeakMap<Transaction, (() => void)[]>();

/** Runs `hook` if and when `tx` (run by runJobTransaction) commits; never for a run that was retried. */
export function afterCommit(tx: Transaction, hook: () => void): void {
  committedHooks.get(tx)?.push(hook);
}

/** Hooks only report on work that is done: one that throws must not turn a commit into an error
 *  (the caller would retry a change that is already made, and may skip what follows it). */
function runCommittedHooks(tx: Transaction | undefined): void {
  for (const hook of (tx && committedHooks.get(tx)) ?? []) {
    try {
      hook();
    } catch {
      // a metric lost, nothing else
    }
  }
}

/** The active span's W3C traceparent, to store on a job as its trace (see JobStore.createJob). */
export function traceparentOfActiveSpan(): { traceparent?: string } {
  const { traceparent } = injectTraceContext();
  return traceparent ? { traceparent } : {};
}
