import {
  FieldPath,
  FieldValue,
  Timestamp,
  type CollectionReference,
  type DocumentReference,
  type Firestore,
  type Transaction,
} from '@google-cloud/firestore';
import {
  JOB_STATE_DEADLINE_SECONDS,
  isLegalJobTransition,
  isLegalShotTransition,
  isTerminal,
  type BackendName,
  type FailureReason,
  type JobStatus,
  type ShotSpec,
  type ShotStatus,
} from '@aiprod/contracts';
import { eraseJob, type EraseResult } from './erasure';
import { createJobOnce, type CreateJobOnceOptions, type CreatedJobOnce } from './create-job-once';
import { afterCommit, runJobTransaction, traceparentOfActiveSpan } from './firestore';
import { addIdempotencyCompletion, type IdempotencyCompletion } from './idempotency';
import { approvalWaitOnLeaving, recordJobCreated, recordJobTransition } from './job-metrics';
import { pendingShot, type Job, type JobEvent, type JobPlan, type Shot } from './types';

/** What a client's request makes a job of. */
export type NewJob = Pick<Job, 'jobId' | 'tenantId' | 'brief' | 'preset'>;

export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
}

/** The outcome of a compare-and-set: `changed` only for the one caller that moved the state. */
export type TransitionResult<T> =
  | { changed: true; value: T }
  | { changed: false; value: T | null; why: 'already_there' | 'state_mismatch' | 'not_found' };

export interface EventInput {
  type: string;
  data?: Record<string, unknown>;
  /** Deterministic id: writing the same event twice (a redelivery) keeps one. */
  key?: string;
}

/** What `casShot` changes on a shot: its status (default: unchanged), fields, and an event. */
export interface ShotChange {
  status?: ShotStatus;
  patch: Partial<Shot>;
  event?: EventInput & { key: string };
}

const asArray = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? v : [v as T]);
/**
 * The document id a key is stored under (events, reservations, the cost ledger's lines): keys are
 * free text, document ids are not. Whoever compares a key with stored ids compares this of it.
 */
export const eventKey = (key: string) => key.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 200);

/** How long a job may stay in each state; the defaults are JOB_STATE_DEADLINE_SECONDS. */
export type StateDeadlines = Partial<Record<JobStatus, number>>;

function deadlineFor(status: JobStatus, now: Timestamp, deadlines: StateDeadlines = {}): Timestamp | null {
  const seconds = deadlines[status] ?? JOB_STATE_DEADLINE_SECONDS[status];
  return seconds === undefined ? null : Timestamp.fromMillis(now.toMillis() + seconds * 1000);
}

/**
 * Jobs, their shots and their append-only timeline in Firestore: the source of truth. Every
 * status change is a compare-and-set inside a transaction, checked against the transition table.
 */
export class JobStore {
  readonly jobs: CollectionReference;

  constructor(
    readonly db: Firestore,
    /** A deployment may shorten or lengthen the state deadlines (the local platform's tests do). */
    private readonly deadlines: StateDeadlines = {},
  ) {
    this.jobs = db.collection('jobs');
  }

  private jobRef(jobId: string): DocumentReference {
    return this.jobs.doc(jobId);
  }
  private shotRef(jobId: string, shotId: string): DocumentReference {
    return this.jobRef(jobId).collection('shots').doc(shotId);
  }
  private eventRef(jobId: string, key: string): DocumentReference {
    return this.jobRef(jobId).collection('events').doc(eventKey(key));
  }

  private writeEvent(tx: Transaction, jobId: string, key: string, event: EventInput, at: Timestamp): void {
    tx.set(this.eventRef(jobId, key), { type: event.type, at, data: event.data ?? {} });
  }

  /** `completing`: the Idempotency-Key's answer, stored in the same commit (see createJobOnce). */
  async createJob(input: NewJob, completing?: (job: Job) => Promise<IdempotencyCompletion>): Promise<Job> {
    const now = Timestamp.now();
    const job: Job = {
      ...input,
      status: 'QUEUED',
      version: 1,
      createdAt: now,
      updatedAt: now,
      stateEnteredAt: now,
      deadlineAt: deadlineFor('QUEUED', now, this.deadlines),
      costUsd: 0,
      // The creating request's trace (the gateway's server span): what a message published later
      // outside any span (a sweep, a poller, a replay) joins. Absent when nothing traces the request.
      ...traceparentOfActiveSpan(),
    };
    const batch = this.db.batch();
    batch.create(this.jobRef(input.jobId), job);
    batch.create(this.eventRef(input.jobId, 'v1-QUEUED'), { type: 'job.created', at: now, data: { status: 'QUEUED' } });
    if (completing) addIdempotencyCompletion(this.db, batch, await completing(job));
    await batch.commit();
    recordJobCreated(job);
    return job;
  }

  /**
   * Creates the job unless a job with this id exists already, which is then returned as it is
   * (`created: false`): with an id derived from the request, a repeat of a create never stores a
   * second job, whatever happened to the first attempt after its write. See create-job-once.ts.
   */
  async createJobOnce(input: NewJob, options: CreateJobOnceOptions = {}): Promise<CreatedJobOnce> {
    return createJobOnce(this, input, options);
  }

  /**
   * Replaces a finished job with its tombstone and erases its records (see erasure.ts): refused
   * (`not_terminal`) for a job still running, which the caller cancels first. Idempotent.
   */
  async erase(jobId: string, options: { by: string; at?: Date }): Promise<EraseResult> {
    return eraseJob(this.db, jobId, options);
  }

  /** The job's stored trace (see createJob), for a Publisher's JobTraceLookup. */
  async traceparentOf(jobId: string): Promise<string | undefined> {
    return (await this.getJob(jobId))?.traceparent;
  }

  async getJob(jobId: string): Promise<Job | null> {
    const snap = await this.jobRef(jobId).get();
    return snap.exists ? (snap.data() as Job) : null;
  }

  /** Another tenant's job does not exist, as far as the caller can tell. */
  async getJobForTenant(tenantId: string, jobId: string): Promise<Job | null> {
    const job = await this.getJob(jobId);
    return job && job.tenantId === tenantId ? job : null;
  }

  /**
   * One page of a tenant's jobs, newest first, optionally of one status. `after` is the last job of
   * the previous page; ties on createdAt are broken by the document id, so pages never overlap.
   * Needs composite indexes (tenantId, createdAt desc, __name__ desc) and with status before createdAt.
   */
  async listJobsForTenant(
    tenantId: string,
    options: { limit: number; status?: JobStatus; after?: { createdAt: Timestamp; jobId: string } },
  ): Promise<{ jobs: Job[]; hasMore: boolean }> {
    let query = this.jobs.where('tenantId', '==', tenantId);
    if (options.status) query = query.where('status', '==', options.status);
    query = query.orderBy('createdAt', 'desc').orderBy(FieldPath.documentId(), 'desc');
    if (options.after) query = query.startAfter(options.after.createdAt, options.after.jobId);
    const snap = await query.limit(options.limit + 1).get();
    const jobs = snap.docs.slice(0, options.limit).map((d) => d.data() as Job);
    return { jobs, hasMore: snap.docs.length > options.limit };
  }

  /**
   * Follows a job's timeline live (a Firestore listener, not polling): `onEvents` gets every event
   * after `afterEventId` (or from the start) in timeline order, then each new one as it is written,
   * each exactly once (the first call, possibly empty, is the catch-up). An unknown `afterEventId`
   * replays from the start. Returns the unsubscribe.
   */
  async watchEvents(
    jobId: string,
    afterEventId: string | undefined,
    onEvents: (events: JobEvent[]) => void,
    onError: (error: Error) => void,
  ): Promise<() => void> {
    const events = this.jobRef(jobId).collection('events');
    let query = events.orderBy('at').orderBy(FieldPath.documentId());
    if (afterEventId) {
      const last = await events.doc(eventKey(afterEventId)).get();
      if (last.exists) query = query.startAfter(last);
    }
    return query.onSnapshot((snap) => {
      const added = snap
        .docChanges()
        .filter((c) => c.type === 'added')
        .map((c) => ({ id: c.doc.id, ...(c.doc.data() as Omit<JobEvent, 'id'>) }));
      // Called for the first snapshot even when it is empty, so a caller knows it has caught up.
      onEvents(added);
    }, onError);
  }

  /**
   * Moves a job from one of `expected` to `to`. Returns changed=false without writing when the job
   * is already in `to` (a redelivery) or in another state (someone else moved it first).
   */
  async transition(
    jobId: string,
    expected: JobStatus | readonly JobStatus[],
    to: JobStatus,
    /** `when`: a further condition on the stored job (e.g. its approved plan is the current one). */
    options: { patch?: Partial<Job>; event?: EventInput; when?: (job: Job) => boolean } = {},
  ): Promise<TransitionResult<Job>> {
    for (const from of asArray(expected)) {
      if (!isLegalJobTransition(from, to))
        throw new IllegalTransitionError(`job ${from} → ${to} is not a legal transition`);
    }
    return this.runTx('transition', async (tx) => {
      const snap = await tx.get(this.jobRef(jobId));
      if (!snap.exists) return { changed: false, value: null, why: 'not_found' } as const;
      const job = snap.data() as Job;
      if (job.status === to) return { changed: false, value: job, why: 'already_there' } as const;
      if (!asArray(expected).includes(job.status) || (options.when && !options.when(job)))
        return { changed: false, value: job, why: 'state_mismatch' } as const;
      return { changed: true, value: this.applyTransition(tx, job, to, options) } as const;
    });
  }

  private applyTransition(
    tx: Transaction,
    job: Job,
    to: JobStatus,
    options: { patch?: Partial<Job>; event?: EventInput },
  ): Job {
    const now = Timestamp.now();
    const next: Job = {
      ...job,
      ...options.patch,
      status: to,
      version: job.version + 1,
      updatedAt: now,
      stateEnteredAt: now,
      ...approvalWaitOnLeaving(job, now),
      deadlineAt: deadlineFor(to, now, this.deadlines),
      sweeps: 0,
      // A job that ends is due for the retention sweeper a day later (the shortest retention any
      // tenant may set); the sweeper then sets when it is next due.
      ...(isTerminal(to) ? { retentionDueAt: Timestamp.fromMillis(now.toMillis() + 86_400_000) } : {}),
    };
    tx.set(this.jobRef(job.jobId), next);
    afterCommit(tx, () => recordJobTransition(job, next, now));
    const event = options.event ?? { type: 'job.status' };
    this.writeEvent(
      tx,
      job.jobId,
      `v${next.version}-${to}`,
      { ...event, data: { ...event.data, from: job.status, status: to } },
      now,
    );
    return next;
  }

  /**
   * Fails a job from whatever non-terminal state it is in, with a recorded reason. `when`: a
   * further condition on the stored job, for a failure decided on a snapshot the job may have moved
   * on from (an approval window expiring as the client approves).
   */
  async fail(
    jobId: string,
    reason: FailureReason,
    message: string,
    options: { when?: (job: Job) => boolean } = {},
  ): Promise<TransitionResult<Job>> {
    return this.runTx('fail', async (tx) => {
      const snap = await tx.get(this.jobRef(jobId));
      if (!snap.exists) return { changed: false, value: null, why: 'not_found' } as const;
      const job = snap.data() as Job;
      if (job.status === 'FAILED') return { changed: false, value: job, why: 'already_there' } as const;
      if (isTerminal(job.status) || (options.when && !options.when(job)))
        return { changed: false, value: job, why: 'state_mismatch' } as const;
      const error = { reason, message: message.slice(0, 2000), at: Timestamp.now() };
      const next = this.applyTransition(tx, job, 'FAILED', {
        patch: { error },
        event: { type: 'job.failed', data: { reason, message: error.message } },
      });
      return { changed: true, value: next } as const;
    });
  }

  /** Appends to the timeline; a repeated key (a redelivery) is written once. */
  async appendEvent(jobId: string, event: EventInput & { key: string }): Promise<void> {
    // A create of a keyed event is idempotent (ALREADY_EXISTS is success), so an answer that says
    // nothing about whether it was written (UNKNOWN, DEADLINE_EXCEEDED, ABORTED, UNAVAILABLE — the
    // emulator answers a bare UNKNOWN now and then) is simply tried again, a bounded number of times.
    for (let tries = 1; ; tries++) {
      try {
        await this.eventRef(jobId, event.key).create({ type: event.type, at: Timestamp.now(), data: event.data ?? {} });
        return;
      } catch (e) {
        const code = (e as { code?: number }).code;
        if (code === 6 /* ALREADY_EXISTS */) return;
        if (tries >= 4 || !code || ![2, 4, 10, 14].includes(code)) throw e;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** tries));
      }
    }
  }

  async listEvents(jobId: string, options: { limit?: number } = {}): Promise<JobEvent[]> {
    const snap = await this.jobRef(jobId)
      .collection('events')
      .orderBy('at')
      .limit(options.limit ?? 500)
      .get();
    return snap.docs.map((d) => ({ id: d.id, ...(d.data() as Omit<JobEvent, 'id'>) }));
  }

  async listShots(jobId: string): Promise<Shot[]> {
    const snap = await this.jobRef(jobId).collection('shots').orderBy('index').get();
    return snap.docs.map((d) => d.data() as Shot);
  }

  async getShot(jobId: string, shotId: string): Promise<Shot | null> {
    const snap = await this.shotRef(jobId, shotId).get();
    return snap.exists ? (snap.data() as Shot) : null;
  }

  /**
   * Stores the plan and its shots and moves the job out of PLANNING in one transaction, so a
   * redelivered request can never produce a second plan.
   */
  async savePlan(
    jobId: string,
    plan: JobPlan,
    shots: { spec: ShotSpec; backend: BackendName }[],
    next: 'RENDERING' | 'AWAITING_APPROVAL',
  ): Promise<TransitionResult<Job>> {
    return this.runTx('savePlan', async (tx) => {
      const snap = await tx.get(this.jobRef(jobId));
      if (!snap.exists) return { changed: false, value: null, why: 'not_found' } as const;
      const job = snap.data() as Job;
      if (job.status !== 'PLANNING') {
        return { changed: false, value: job, why: job.status === next ? 'already_there' : 'state_mismatch' } as const;
      }
      const now = Timestamp.now();
      for (const { spec, backend } of shots) {
        tx.set(this.shotRef(jobId, spec.shotId), pendingShot(jobId, spec, backend, now));
      }
      const updated = this.applyTransition(tx, job, next, {
        patch: { plan },
        event: {
          type: 'job.planned',
          data: { shots: shots.length, director: plan.director, estimatedCostUsd: plan.estimatedCostUsd },
        },
      });
      return { changed: true, value: updated } as const;
    });
  }

  /**
   * Compare-and-set on one shot. `mutate` sees the current shot and returns the fields to change;
   * the shot's status must be one of `expected` (or already `to`, which reports already_there).
   */
  async transitionShot(
    jobId: string,
    shotId: string,
    expected: ShotStatus | readonly ShotStatus[],
    to: ShotStatus,
    mutate: (shot: Shot) => Partial<Shot> = () => ({}),
    event?: EventInput & { key: string },
  ): Promise<TransitionResult<Shot>> {
    for (const from of asArray(expected)) {
      if (from !== to && !isLegalShotTransition(from, to)) {
        throw new IllegalTransitionError(`shot ${from} → ${to} is not a legal transition`);
      }
    }
    let why: 'already_there' | 'state_mismatch' = 'state_mismatch';
    const r = await this.casShot(jobId, shotId, (shot) => {
      if (asArray(expected).includes(shot.status))
        return { status: to, patch: mutate(shot), ...(event ? { event } : {}) };
      why = shot.status === to ? 'already_there' : 'state_mismatch';
      return null;
    });
    if (!r.value) return { changed: false, value: null, why: 'not_found' };
    return r.changed ? { changed: true, value: r.value } : { changed: false, value: r.value, why };
  }

  /**
   * A compare-and-set on one shot where the caller decides, from the shot as stored, whether
   * anything changes: `decide` returns null for "no change" (a lost race, a redelivery), or the
   * new status (checked against the transition table), the fields to change and an event.
   */
  async casShot(
    jobId: string,
    shotId: string,
    decide: (shot: Shot) => ShotChange | null,
  ): Promise<{ changed: boolean; value: Shot | null }> {
    // Optimistic: read, decide, then write only if the shot has not changed since it was read
    // (an update time precondition), else read again. No lock is held between the read and the
    // write, so lease renewals and the sweep never queue behind one another — the Firestore
    // emulator's pessimistic transaction locks made them time out under load.
    const ref = this.shotRef(jobId, shotId);
    for (let tries = 1; ; tries++) {
      const snap = await ref.get();
      if (!snap.exists) return { changed: false, value: null };
      const shot = snap.data() as Shot;
      const change = decide(shot);
      if (!change) return { changed: false, value: shot };
      // The client drops undefined fields (ignoreUndefinedProperties): one would keep its old value.
      const dropped = Object.entries(change.patch).find(([, v]) => v === undefined)?.[0];
      if (dropped) throw new Error(`casShot: ${dropped} is undefined; a field is cleared with null`);
      const to = change.status ?? shot.status;
      if (to !== shot.status && !isLegalShotTransition(shot.status, to)) {
        throw new IllegalTransitionError(`shot ${shot.status} → ${to} is not a legal transition`);
      }
      const now = Timestamp.now();
      const next: Shot = { ...shot, ...change.patch, status: to, updatedAt: now };
      const batch = this.db.batch();
      batch.update(ref, { ...next } as Record<string, unknown>, { lastUpdateTime: snap.updateTime! });
      if (change.event) {
        batch.set(this.eventRef(jobId, change.event.key), {
          type: change.event.type,
          at: now,
          data: change.event.data ?? {},
        });
      }
      try {
        await batch.commit();
        return { changed: true, value: next };
      } catch (error) {
        const code = (error as { code?: number }).code;
        // FAILED_PRECONDITION: someone wrote the shot since it was read; decide again on what is there now.
        if (code !== 9 || tries >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * tries));
      }
    }
  }

  /**
   * Commits spend to a vendor task before it is created: refused when the job is finished, or
   * when what it has spent, what tasks in flight have committed and this task would together
   * pass the budget cap. Idempotent per key (a redelivery re-reserves nothing).
   */
  async reserveSpend(
    jobId: string,
    key: string,
    amountUsd: number,
    capUsd: number | undefined,
  ): Promise<
    | { ok: true }
    | { ok: false; why: 'terminal'; status: JobStatus }
    | { ok: false; why: 'budget'; spentUsd: number; committedUsd: number; capUsd: number }
    | { ok: false; why: 'not_found' }
  > {
    return this.runTx('reserveSpend', async (tx) => {
      const jobRef = this.jobRef(jobId);
      const marker = jobRef.collection('reservations').doc(eventKey(key));
      const [jobSnap, seen] = await Promise.all([tx.get(jobRef), tx.get(marker)]);
      if (!jobSnap.exists) return { ok: false, why: 'not_found' } as const;
      const job = jobSnap.data() as Job;
      if (isTerminal(job.status)) return { ok: false, why: 'terminal', status: job.status } as const;
      if (seen.exists) return { ok: true } as const;
      const spentUsd = job.costUsd ?? 0;
      const committedUsd = job.reservedUsd ?? 0;
      if (capUsd !== undefined && spentUsd + committedUsd + amountUsd > capUsd + 1e-9) {
        return { ok: false, why: 'budget', spentUsd, committedUsd: committedUsd + amountUsd, capUsd } as const;
      }
      tx.create(marker, { amountUsd, at: Timestamp.now() });
      tx.update(jobRef, { reservedUsd: FieldValue.increment(amountUsd) });
      return { ok: true } as const;
    });
  }

  /** Whether a reservation is still held (it is released when its task's ledger line is written). */
  async hasReservation(jobId: string, key: string): Promise<boolean> {
    return (await this.jobRef(jobId).collection('reservations').doc(eventKey(key)).get()).exists;
  }

  /** Gives a reservation back without a ledger line (the create failed: no task, no bill). */
  async releaseSpend(jobId: string, key: string): Promise<void> {
    await this.runTx('releaseSpend', async (tx) => {
      const jobRef = this.jobRef(jobId);
      const marker = jobRef.collection('reservations').doc(eventKey(key));
      const seen = await tx.get(marker);
      if (!seen.exists) return;
      tx.delete(marker);
      tx.update(jobRef, { reservedUsd: FieldValue.increment(-Number(seen.get('amountUsd') ?? 0)) });
    });
  }

  /**
   * Marks a shot PASSED and, when it was the last one, moves the job to ASSEMBLING — in one
   * transaction, so that shots passing at the same moment request assembly exactly once. The job
   * keeps the ids of its passed shots, so the transaction locks the job and this one shot only, not
   * every shot of the job (render workers renew leases on the others meanwhile).
   */
  async passShot(
    jobId: string,
    shotId: string,
    attempt: number,
    qa: Shot['qa'],
  ): Promise<{ shot: Shot | null; job: Job | null; assemblyRequested: boolean }> {
    return this.runTx('passShot', async (tx) => {
      const [jobSnap, shotSnap] = await Promise.all([tx.get(this.jobRef(jobId)), tx.get(this.shotRef(jobId, shotId))]);
      if (!jobSnap.exists) return { shot: null, job: null, assemblyRequested: false };
      const job = jobSnap.data() as Job;
      const shot = shotSnap.exists ? (shotSnap.data() as Shot) : null;
      if (!shot || shot.status !== 'RENDERED' || shot.attempt !== attempt)
        return { shot, job, assemblyRequested: false };
      // Jobs planned before the job kept its passed shots: read them once (the old, wider lock).
      const passedBefore =
        job.passedShotIds ??
        (await tx.get(this.jobRef(jobId).collection('shots'))).docs
          .map((d) => d.data() as Shot)
          .filter((s) => s.status === 'PASSED')
          .map((s) => s.shotId);
      const passedShotIds = [...new Set([...passedBefore, shotId])];
      const now = Timestamp.now();
      const key = String(attempt);
      const passed: Shot = {
        ...shot,
        status: 'PASSED',
        ...(qa ? { qa } : {}),
        attempts: { ...shot.attempts, [key]: { ...shot.attempts[key]!, status: 'PASSED', finishedAt: now } },
        updatedAt: now,
      };
      tx.set(this.shotRef(jobId, shotId), passed);
      // Only a clip QA passed is worth reusing: the render cache learns of it here, never before.
      const cache = shot.attempts[key]?.cache;
      const clipUri = shot.attempts[key]?.clipUri;
      if (cache && clipUri && cache.ttlSeconds > 0) {
        tx.set(this.db.collection('renderCache').doc(cache.key), {
          tenantId: job.tenantId,
          backend: shot.attempts[key]!.backend,
          model: cache.model,
          clipUri,
          sizeBytes: cache.sizeBytes,
          createdAt: now,
          expiresAt: Timestamp.fromMillis(now.toMillis() + cache.ttlSeconds * 1000),
        });
      }
      this.writeEvent(
        tx,
        jobId,
        `shot-${shotId}-a${attempt}-passed`,
        { type: 'shot.passed', data: { shotId, attempt } },
        now,
      );
      const allPassed = (job.plan?.shotIds ?? []).every((id) => passedShotIds.includes(id));
      if (allPassed && job.plan?.shotIds.length && job.status === 'RENDERING') {
        const next = this.applyTransition(tx, job, 'ASSEMBLING', {
          patch: { passedShotIds },
          event: { type: 'job.assembling' },
        });
        return { shot: passed, job: next, assemblyRequested: true };
      }
      tx.update(this.jobRef(jobId), { passedShotIds });
      return { shot: passed, job: { ...job, passedShotIds }, assemblyRequested: false };
    });
  }

  /** A transaction in a span, tried again when the emulator invalidates it: see runJobTransaction. */
  private runTx<T>(purpose: string, fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return runJobTransaction(this.db, purpose, fn);
  }

  /**
   * The cost ledger: one line per vendor task under jobs/{id}/costs/{key}, added to the job's
   * running total once (a redelivery finds the line and adds nothing). Free outcomes (refusals,
   * cache hits, the local backend) get a line too, so the ledger shows every attempt. The task's
   * spend reservation, if any, is released in the same transaction.
   */
  async addCost(
    jobId: string,
    key: string,
    costUsd: number,
    detail: Record<string, unknown> = {},
    options: { reservation?: string } = {},
  ): Promise<boolean> {
    return this.runTx('addCost', async (tx) => {
      const jobRef = this.jobRef(jobId);
      const marker = jobRef.collection('costs').doc(eventKey(key));
      const held = options.reservation ? jobRef.collection('reservations').doc(eventKey(options.reservation)) : null;
      const [seen, reserved] = await Promise.all([tx.get(marker), held ? tx.get(held) : Promise.resolve(null)]);
      const release = reserved?.exists ? Number(reserved.get('amountUsd') ?? 0) : 0;
      if (reserved?.exists) tx.delete(held!);
      if (seen.exists) {
        if (release) tx.update(jobRef, { reservedUsd: FieldValue.increment(-release) });
        return false;
      }
      tx.create(marker, { ...detail, costUsd, at: Timestamp.now() });
      if (costUsd > 0 || release) {
        tx.update(jobRef, {
          ...(costUsd > 0 ? { costUsd: FieldValue.increment(costUsd) } : {}),
          ...(release ? { reservedUsd: FieldValue.increment(-release) } : {}),
        });
      }
      return true;
    });
  }

  /** The cost ledger of a job, oldest first. */
  async listCosts(jobId: string): Promise<(Record<string, unknown> & { key: string; costUsd: number })[]> {
    const snap = await this.jobRef(jobId).collection('costs').orderBy('at').get();
    return snap.docs.map((d) => ({ ...(d.data() as { costUsd: number }), key: d.id }));
  }

  /**
   * Jobs in one of `statuses` whose state is overdue, oldest deadline first, for the sweeper of
   * those states. Filtered in the query, not after it: otherwise a page of overdue jobs in states
   * another service sweeps (one that is down) would hide these. Needs the composite index
   * (status, deadlineAt).
   */
  async overdueJobs(statuses: readonly JobStatus[], now: Timestamp, limit = 100): Promise<Job[]> {
    if (statuses.length === 0) return [];
    const snap = await this.jobs
      .where('status', 'in', [...statuses])
      .where('deadlineAt', '<=', now)
      .orderBy('deadlineAt')
      .limit(limit)
      .get();
    return snap.docs.map((d) => d.data() as Job);
  }

  /**
   * Claims one sweep of an overdue job: counts it, pushes the deadline out by the state's
   * deadline again and records it on the timeline. Only one of several sweepers racing for the
   * same job gets it back; the others get null.
   */
  async claimOverdue(jobId: string, status: JobStatus, now: Timestamp): Promise<Job | null> {
    return this.runTx('claimOverdue', async (tx) => {
      const snap = await tx.get(this.jobRef(jobId));
      if (!snap.exists) return null;
      const job = snap.data() as Job;
      if (job.status !== status || !job.deadlineAt || job.deadlineAt.toMillis() > now.toMillis()) return null;
      const sweeps = (job.sweeps ?? 0) + 1;
      const next: Job = { ...job, sweeps, deadlineAt: deadlineFor(status, now, this.deadlines), updatedAt: now };
      tx.set(this.jobRef(jobId), next);
      this.writeEvent(
        tx,
        jobId,
        `v${job.version}-overdue-${sweeps}`,
        { type: 'job.overdue', data: { status, sweep: sweeps } },
        now,
      );
      return next;
    });
  }
}
