import type { Firestore, Transaction } from '@google-cloud/firestore';

/** Work to do once a transaction has committed (metrics), keyed by the transaction. */
const committedHooks = new WeakMap<Transaction, (() => void)[]>();

/** Runs `hook` if and when `tx` commits; never for a run of the callback that was retried. */
export function afterCommit(tx: Transaction, hook: () => void): void {
  committedHooks.get(tx)?.push(hook);
}

/**
 * A transaction, tried again when the Firestore emulator invalidates it under lock contention
 * ("Transaction is invalid or closed", where Firestore itself answers ABORTED and the client
 * retries on its own). Bounded; the callback must be safe to run again, as every one here is.
 */
export async function runRetriedTransaction<T>(db: Firestore, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      // The client may run fn more than once; only the last run's transaction commits.
      let last: Transaction | undefined;
      const result = await db.runTransaction((tx) => {
        last = tx;
        committedHooks.set(tx, []);
        return fn(tx);
      });
      for (const hook of (last && committedHooks.get(last)) ?? []) hook();
      return result;
    } catch (error) {
      const invalidated = /Transaction is invalid or closed/.test((error as Error)?.message ?? '');
      if (!invalidated || tries >= 4) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** tries));
    }
  }
}
