import { FieldPath, FieldValue, Timestamp, type Firestore } from '@google-cloud/firestore';
import type { BackendName } from '@aiprod/contracts';

/**
 * The live capacity board: `backend_capacity/{backend}`, one document per render backend, with an
 * entry per pool worker saying how many attempts it has in hand, how many of their vendor tasks
 * the vendor holds back (Runway's THROTTLED), its own limit and when it last reported. The render
 * pools write it; the planner and the fallback chain read it to prefer a backend with room
 * (docs/decisions/2026-12-capacity-aware-routing.md).
 */
export const CAPACITY_COLLECTION = 'backend_capacity';

/** A worker that has not reported for this long is presumed gone: its entry says nothing. */
export const CAPACITY_FRESH_MS = 30_000;

export interface WorkerCapacity {
  model: string;
  /** Attempts this worker has in hand (claimed and not finished), throttled ones included. */
  inFlight: number;
  /** Of those, tasks the vendor says it holds back for its own capacity (not started, not billed). */
  throttled: number;
  /** Attempts this worker takes at once (the policy's `maxConcurrent`). */
  limit: number;
  /** The vendor's own limit for the model, when the catalogue knows one (it counts across workers). */
  vendorLimit?: number;
  heartbeatAt: Timestamp;
}

export interface BackendCapacityDoc {
  backend: BackendName;
  workers: Record<string, WorkerCapacity>;
}

/** What the board says about one backend at one moment. */
export interface CapacityView {
  backend: BackendName;
  /** At least one worker reported within the freshness window; otherwise nothing is known. */
  known: boolean;
  hasRoom: boolean;
  inFlight: number;
  throttled: number;
  limit: number;
  /** One line for a timeline or a plan, e.g. `runway: 4 in flight of 4, 1 throttled`. */
  summary: string;
}

/**
 * The freshness rule, pure so the planner's choice is a function of the board it read: only
 * workers heard from within `freshMs` of `nowMs` count. A backend has room when some worker is
 * fresh, none of their tasks is THROTTLED (the vendor's own word that it is full), and the
 * attempts in hand are below the limit (the workers' limits, capped by the vendor's).
 */
export function capacityOf(
  backend: BackendName,
  doc: BackendCapacityDoc | undefined,
  nowMs: number,
  freshMs = CAPACITY_FRESH_MS,
): CapacityView {
  const fresh = Object.values(doc?.workers ?? {}).filter(
    (w) => w && w.heartbeatAt && nowMs - w.heartbeatAt.toMillis() <= freshMs,
  );
  const inFlight = fresh.reduce((s, w) => s + w.inFlight, 0);
  const throttled = fresh.reduce((s, w) => s + w.throttled, 0);
  const workerLimit = fresh.reduce((s, w) => s + w.limit, 0);
  const vendorLimits = fresh.flatMap((w) => (w.vendorLimit !== undefined ? [w.vendorLimit] : []));
  const limit = vendorLimits.length ? Math.min(workerLimit, ...vendorLimits) : workerLimit;
  const known = fresh.length > 0;
  return {
    backend,
    known,
    hasRoom: known && throttled === 0 && inFlight < limit,
    inFlight,
    throttled,
    limit,
    summary: known
      ? `${backend}: ${inFlight} in flight of ${limit}${throttled ? `, ${throttled} throttled by the vendor` : ''}`
      : `${backend}: no capacity report in the last ${Math.round(freshMs / 1000)} s`,
  };
}

/** Reads the board. Every read is one document per backend. */
export class CapacityBoard {
  constructor(
    private readonly db: Firestore,
    private readonly freshMs = CAPACITY_FRESH_MS,
  ) {}

  async read(backend: BackendName, nowMs = Date.now()): Promise<CapacityView> {
    const snap = await this.db.collection(CAPACITY_COLLECTION).doc(backend).get();
    return capacityOf(backend, snap.exists ? (snap.data() as BackendCapacityDoc) : undefined, nowMs, this.freshMs);
  }

  /** Several backends, read at the same moment (one batched read). */
  async readAll(backends: readonly BackendName[], nowMs = Date.now()): Promise<Map<BackendName, CapacityView>> {
    const out = new Map<BackendName, CapacityView>();
    if (!backends.length) return out;
    const snaps = await this.db.getAll(...backends.map((b) => this.db.collection(CAPACITY_COLLECTION).doc(b)));
    snaps.forEach((snap, i) => {
      const b = backends[i]!;
      out.set(b, capacityOf(b, snap.exists ? (snap.data() as BackendCapacityDoc) : undefined, nowMs, this.freshMs));
    });
    return out;
  }
}

export interface CapacityReporterOptions {
  backend: BackendName;
  model: string;
  workerId: string;
  limit: number;
  vendorLimit?: number;
  /** Changes are written at most this often (they are coalesced meanwhile). Default 2 s. */
  minIntervalMs?: number;
  /** An unchanged state is written again this often, so readers see the worker alive. Default 10 s. */
  heartbeatMs?: number;
  /** Told about a failed write (the board is advisory: a failed write never fails a render). */
  onError?: (error: unknown) => void;
}

/**
 * One worker's entry on the board. The render pool tells it which attempts it holds and which
 * are THROTTLED; it writes on change, at most every `minIntervalMs`, and a heartbeat every
 * `heartbeatMs` while started. Writes go one at a time, in order.
 */
export class CapacityReporter {
  private readonly held = new Set<string>();
  private readonly busy = new Set<string>();
  private readonly minIntervalMs: number;
  private readonly heartbeatMs: number;
  private lastWriteMs = 0;
  private pending: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly db: Firestore,
    private readonly options: CapacityReporterOptions,
  ) {
    this.minIntervalMs = options.minIntervalMs ?? 2_000;
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
  }

  /** An attempt is in hand (claimed). */
  begin(key: string): void {
    if (this.held.has(key)) return;
    this.held.add(key);
    this.changed();
  }

  /** The attempt left this worker (finished, handed over, handed back). */
  end(key: string): void {
    const had = this.held.delete(key);
    this.busy.delete(key);
    if (had) this.changed();
  }

  /** Whether the vendor holds this attempt's task back for its own capacity. */
  setThrottled(key: string, throttled: boolean): void {
    if (throttled === this.busy.has(key)) return;
    if (throttled) this.busy.add(key);
    else this.busy.delete(key);
    this.changed();
  }

  get state(): { inFlight: number; throttled: number } {
    return { inFlight: this.held.size, throttled: this.busy.size };
  }

  /** Writes the current state now and every `heartbeatMs` until `stop`. */
  start(): this {
    this.stopped = false;
    void this.flush();
    this.heartbeat = setInterval(() => void this.flush(), this.heartbeatMs);
    this.heartbeat.unref();
    return this;
  }

  /** Writes the current state; resolves when it (and every earlier write) is done. */
  flush(): Promise<void> {
    if (this.pending) {
      clearTimeout(this.pending);
      this.pending = undefined;
    }
    this.lastWriteMs = Date.now();
    const entry: WorkerCapacity = {
      model: this.options.model,
      inFlight: this.held.size,
      throttled: this.busy.size,
      limit: this.options.limit,
      ...(this.options.vendorLimit !== undefined ? { vendorLimit: this.options.vendorLimit } : {}),
      heartbeatAt: Timestamp.now(),
    };
    const write = () =>
      this.doc()
        .set({ backend: this.options.backend, workers: { [this.options.workerId]: entry } }, { merge: true })
        .then(() => undefined);
    this.chain = this.chain.then(write).catch((error: unknown) => this.options.onError?.(error));
    return this.chain;
  }

  /** Stops the heartbeat and removes this worker's entry, so readers do not wait for it to go stale. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.pending);
    this.pending = undefined;
    await this.chain;
    await this.doc()
      .update(new FieldPath('workers', this.options.workerId), FieldValue.delete())
      .catch((error: unknown) => this.options.onError?.(error));
  }

  private changed(): void {
    if (this.stopped || this.pending) return;
    const wait = this.lastWriteMs + this.minIntervalMs - Date.now();
    if (wait <= 0) {
      void this.flush();
      return;
    }
    this.pending = setTimeout(() => void this.flush(), wait);
    this.pending.unref();
  }

  private doc() {
    return this.db.collection(CAPACITY_COLLECTION).doc(this.options.backend);
  }
}
