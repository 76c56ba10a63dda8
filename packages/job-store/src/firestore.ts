import { Firestore, type Transaction } from '@google-cloud/firestore';
import type { Span } from '@opentelemetry/api';
import { SpanKind, withSpan } from '@aiprod/observability';

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
export function tracedTransaction<T>(
  db: Firestore,
  purpose: string,
  fn: (tx: Transaction) => Promise<T>,
): Promise<T> {
  return withTransactionSpan(purpose, () => db.runTransaction(fn));
}
