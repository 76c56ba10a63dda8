import { FieldValue, Timestamp, type Firestore } from '@google-cloud/firestore';
import { TERMINAL_JOB_STATUSES, JOB_STATUSES } from '@aiprod/contracts';
import { tracedTransaction } from './firestore';

/** A token request gives up after this long of contention on the window document. */
const LEASE_DEADLINE_MS = 10_000;
/** The longest jittered pause between two leasing rounds. */
const MAX_LEASE_BACKOFF_MS = 1_000;
/** A window's counter document is kept an hour past the window's end, then a TTL policy removes it. */
const WINDOW_RETENTION_MS = 3_600_000;

/** `yyyy-mm` of an instant, in UTC: the key of a tenant's monthly usage document. */
export const utcMonth = (at: Date) => at.toISOString().slice(0, 7);
/** `yyyy-mm-dd` of an instant, in UTC. */
export const utcDay = (at: Date) => at.toISOString().slice(0, 10);
/** The first instant of the next UTC month: when a monthly cap resets. */
export const nextUtcMonth = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
export const nextUtcDay = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1));

export interface MonthlyUsage {
  tenantId: string;
  month: string;
  spentUsd: number;
  updatedAt: Timestamp;
}

const usageRef = (db: Firestore, tenantId: string, at: Date) =>
  db.collection('usage').doc(`${tenantId}:${utcMonth(at)}`);

/**
 * Adds a cost to the tenant's month (`usage/{tenantId}:{yyyy-mm}`.spentUsd). With `entryId`
 * (the cost ledger's own line id) a redelivered message records nothing twice, even in the next
 * month: the entry's marker (`spendEntries/{tenantId}:{entryId}`) and the increment are written in
 * one transaction. Without it, a blind increment,
 * which never contends with other writers.
 */
export async function recordSpend(
  db: Firestore,
  tenantId: string,
  usd: number,
  at: Date = new Date(),
  options: { entryId?: string } = {},
): Promise<{ recorded: boolean }> {
  if (!Number.isFinite(usd) || usd < 0) throw new Error('spend must be a finite, non-negative amount');
  const ref = usageRef(db, tenantId, at);
  const data = {
    tenantId,
    month: utcMonth(at),
    spentUsd: FieldValue.increment(usd),
    updatedAt: Timestamp.now(),
  };
  if (!options.entryId) {
    await ref.set(data, { merge: true });
    return { recorded: true };
  }
  // The marker is the tenant's, not the month's: a redelivery after the month turned finds it too.
  const marker = db.collection('spendEntries').doc(`${tenantId}:${options.entryId}`);
  return tracedTransaction(db, 'recordSpend', async (tx) => {
    if ((await tx.get(marker)).exists) return { recorded: false };
    tx.create(marker, { usd, at: Timestamp.fromDate(at) });
    tx.set(ref, data, { merge: true });
    return { recorded: true };
  });
}

/** What the tenant has spent in the UTC month of `at` (0 when nothing was recorded). */
export async function getMonthlySpend(db: Firestore, tenantId: string, at: Date = new Date()): Promise<number> {
  const snap = await usageRef(db, tenantId, at).get();
  return snap.exists ? Number(snap.get('spentUsd') ?? 0) : 0;
}

export const NON_TERMINAL_JOB_STATUSES = JOB_STATUSES.filter((s) => !TERMINAL_JOB_STATUSES.includes(s));

/**
 * How many of the tenant's jobs are not finished, counted by an aggregation query (served from
 * the single-field indexes on tenantId and status; no composite index). `upTo` bounds the count,
 * which bounds its cost: a quota check only needs to know whether the limit is reached.
 */
export async function countActiveJobs(db: Firestore, tenantId: string, upTo?: number): Promise<number> {
  let query = db
    .collection('jobs')
    .where('tenantId', '==', tenantId)
    .where('status', 'in', [...NON_TERMINAL_JOB_STATUSES]);
  if (upTo !== undefined) query = query.limit(Math.max(1, upTo));
  const snap = await query.count().get();
  return snap.data().count;
}

export interface CounterWindow {
  /** Epoch ms, inclusive; also names the window's document. */
  start: number;
  /** Epoch ms, exclusive: when the window's limit resets. */
  end: number;
}

export interface WindowCounterOptions {
  /** Collection of the shared counter documents (`{collection}/{counterId}:{window start}`). */
  collection: string;
  /** Each lease takes this fraction of the limit (at least 1 token, at most maxLease). */
  leaseFraction?: number;
  maxLease?: number;
  /**
   * Lease the next block before the current one runs out, so requests rarely wait for a lease
   * (default true). Off where exactness matters more than a few ms: a prefetched block that goes
   * unused is lost for the window.
   */
  prefetch?: boolean;
}

interface Block {
  next: number;
  last: number;
}

interface CounterState {
  windowStart: number;
  blocks: Block[];
  /** Set once this instance has seen the shared count pass the limit: no more leases this window. */
  exhausted: boolean;
  leasing?: Promise<void>;
}

export interface TakeResult {
  granted: boolean;
  /** The token's number in the window (≤ limit when granted; limit + 1 when refused). */
  position: number;
  resetAt: Date;
}

/**
 * A counter of events per window shared by every instance through one Firestore document per
 * counter and window, without a write per event: each instance leases a block of token numbers
 * in one short transaction (never past the limit), then hands them out locally. So a window
 * never admits more than its limit, and hot documents see one transaction per block rather than
 * per request (the emulator serialises transactions on a document at ~150 ms each under
 * contention). Tokens leased but unused (another instance's block, a restart) are lost for that
 * window: admission can fall short of the limit by up to one block (plus one prefetched) per
 * instance. See docs/decisions/2026-11-rate-limits-and-quotas.md.
 */
export class LeasedWindowCounter {
  private readonly state = new Map<string, CounterState>();
  private readonly leaseFraction: number;
  private readonly maxLease: number;
  /** Every lease transaction not yet settled, prefetches included: what close() waits for. */
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly db: Firestore,
    private readonly options: WindowCounterOptions,
  ) {
    this.leaseFraction = options.leaseFraction ?? 0.05;
    this.maxLease = options.maxLease ?? 100;
  }

  leaseSize(limit: number): number {
    return Math.max(1, Math.min(this.maxLease, Math.floor(limit * this.leaseFraction)));
  }

  /**
   * Stops leasing (take() refuses from now on) and waits for the lease transactions still
   * running, prefetches nobody awaits included. Call it before the Firestore client is
   * terminated: @google-cloud/firestore 9.4 starts a read (the lease's tx.get) with
   * `void clientPool.run(...)`, so a read begun after terminate() leaves the pool's "client has
   * already been terminated" rejection unhandled and its own promise pending for ever. A
   * transaction retried after contention begins such a read long after it was started.
   */
  async close(): Promise<void> {
    this.closed = true;
    // A lease started while waiting is added to the set; bounded all the same.
    for (let round = 0; round < 10 && this.inFlight.size > 0; round++) {
      await Promise.allSettled([...this.inFlight]);
    }
  }

  async take(counterId: string, window: CounterWindow, limit: number): Promise<TakeResult> {
    if (this.closed) throw new Error('the counter is closed');
    const resetAt = new Date(window.end);
    if (limit <= 0) return { granted: false, position: 1, resetAt };
    // Each round hands out a token, learns the window is spent, or waits for a lease that many
    // concurrent callers share; bounded in rounds and time all the same.
    const deadline = Date.now() + LEASE_DEADLINE_MS;
    let lastError: unknown;
    for (let round = 0; round < 200 && Date.now() < deadline; round++) {
      // Closed during a backoff: the Firestore client may be terminated by now (see close()).
      if (this.closed) throw new Error('the counter is closed');
      const s = this.stateFor(counterId, window.start);
      const block = s.blocks[0];
      if (!block && s.exhausted) return { granted: false, position: limit + 1, resetAt };
      if (block) {
        const position = block.next++;
        if (block.next > block.last) s.blocks.shift();
        if (position > limit) {
          s.exhausted = true;
          s.blocks = [];
          return { granted: false, position: limit + 1, resetAt };
        }
        // Lease the next block in the background before this one runs out, so few requests wait.
        const left = s.blocks.reduce((n, b) => n + b.last - b.next + 1, 0);
        if (
          this.options.prefetch !== false &&
          !this.closed &&
          !s.leasing &&
          !s.exhausted &&
          left <= this.leaseSize(limit) / 4 &&
          position < limit
        ) {
          // Not awaited, but tracked: close() waits for it (and a waiting take() shares it).
          this.lease(counterId, window, limit, s).catch(() => undefined);
        }
        return { granted: true, position, resetAt };
      }
      try {
        await (s.leasing ?? this.lease(counterId, window, limit, s));
      } catch (error) {
        // Contention on the shared window document (lock timeouts, aborted transactions) is
        // transient: back off with jitter and lease again, within the same bound of rounds and time.
        lastError = error;
        await new Promise((r) =>
          setTimeout(r, Math.random() * Math.min(MAX_LEASE_BACKOFF_MS, 25 * 2 ** Math.min(round, 6))),
        );
      }
    }
    throw new Error(`could not lease rate-limit tokens${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
  }

  private stateFor(counterId: string, windowStart: number): CounterState {
    let s = this.state.get(counterId);
    if (!s || s.windowStart !== windowStart) {
      if (!s && this.state.size >= 10_000) this.state.delete(this.state.keys().next().value!);
      s = { windowStart, blocks: [], exhausted: false };
      this.state.set(counterId, s);
    }
    return s;
  }

  private lease(counterId: string, window: CounterWindow, limit: number, s: CounterState): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the counter is closed'));
    const size = this.leaseSize(limit);
    const ref = this.db.collection(this.options.collection).doc(`${counterId}:${window.start}`);
    // A short transaction per lease (not per event) gives this instance an exact, unshared range
    // of numbers; a blind increment cannot tell a writer where its own block starts.
    const work = (async () => {
      const block = await tracedTransaction(this.db, 'leaseCounterBlock', async (tx) => {
        const snap = await tx.get(ref);
        const count = Number(snap.get('count') ?? 0);
        const n = Math.min(size, Math.max(0, limit - count));
        if (n > 0) {
          tx.set(ref, {
            count: count + n,
            windowStart: Timestamp.fromMillis(window.start),
            // For a Firestore TTL policy in the cloud; the emulator keeps them (no TTL there).
            expiresAt: Timestamp.fromMillis(window.end + WINDOW_RETENTION_MS),
          });
        }
        return { first: count + 1, last: count + n };
      });
      if (s.windowStart !== window.start) return;
      // The shared count reached the limit: nothing more to lease in this window.
      if (block.last < block.first || block.last >= limit) s.exhausted = true;
      if (block.last >= block.first) s.blocks.push({ next: block.first, last: block.last });
    })();
    const leasing: Promise<void> = work.finally(() => {
      if (s.leasing === leasing) s.leasing = undefined;
      this.inFlight.delete(leasing);
    });
    s.leasing = leasing;
    this.inFlight.add(leasing);
    return leasing;
  }
}
