import { createHash, randomBytes } from 'node:crypto';
import { Timestamp } from '@google-cloud/firestore';
import {
  renderTopicFor,
  type BackendName,
  type RenderRequest,
  type RenderTopicName,
  type ShotSpec,
  type VendorRequestSummary,
} from '@aiprod/contracts';
import type { JobStore } from './job-store';
import type { AttemptCacheEntry, Job, QaReport, RenderTry, Shot, ShotAttempt } from './types';

/**
 * The shot state machine of rendering, in one place. Every operation is a compare-and-set on
 * what the caller expects to find (the backend that owns the attempt, the task id it replaces,
 * the lease it holds); a lost race is a no-op that reports what it found, never an error that
 * fails the job. Render and QA change attempts only through here.
 *
 *   claim       PENDING/REJECTED → RENDERING (a new attempt), or RENDERING → RENDERING (take the lease)
 *   renewLease / releaseLease   the holder keeps, or gives back, the attempt
 *   beginSubmit marks a vendor create about to happen (a crash mid-create is then visible; the mark
 *               keys the ledger line of a create that gives no task id)
 *   recordTask  the vendor task id, stored before the first poll
 *   recordBusy  how long the vendor has held the stored task back for its capacity
 *   settleTry   a finished vendor task and what the policy decided, in one transaction: retry here
 *               (not before `retryAt`), hand over to the next backend, or RENDERING → FAILED
 *   complete    RENDERING → RENDERED with the clip
 *   fail        RENDERING → FAILED
 *
 * With `ref.holder`, every change requires that the caller still holds the attempt's lease: a
 * delivery that lost it (presumed dead, then woke up) can no longer act on the attempt.
 *   reject     RENDERED → REJECTED (QA: a retake follows)
 *   pass       RENDERED → PASSED (QA; the render cache learns of the clip here)
 */

/** A short, opaque, stable reference to a vendor task: safe in document ids, events and the API. */
export const taskRef = (vendorTaskId: string) => createHash('sha256').update(vendorTaskId).digest('hex').slice(0, 16);

/**
 * The cost ledger line of one vendor task, valid for any vendor's id: keyed by a hash of the task
 * id; for a create that gave us no task id, by when that create was marked (`submitting.at`, stored
 * by `beginSubmit` before it was sent), never by the try count. A crash after such a line was
 * written but before its try was stored leaves the count where it was, so the next create would
 * reuse the line and its charge would be lost; its mark is its own, and a redelivery that settles
 * the same create again finds the same mark. The creates of one attempt are marked one after
 * another by its lease holder, transactions apart, so no two share a millisecond. Anything else
 * (a cache hit) is keyed by `n`.
 */
export function costLineId(
  shotId: string,
  attempt: number,
  backend: BackendName,
  task: { taskId?: string; createMarkedAt?: Timestamp; n?: number },
) {
  const which = task.taskId
    ? taskRef(task.taskId)
    : task.createMarkedAt
      ? `c${task.createMarkedAt.toMillis()}`
      : `n${task.n ?? 0}`;
  return `${shotId}-a${attempt}-${backend}-${which}`;
}

/** The render request for a shot's current attempt, addressed to the backend that owns it. */
export function renderRequestFor(
  job: Pick<Job, 'jobId' | 'tenantId'>,
  shot: Shot,
): { topic: RenderTopicName; message: RenderRequest } {
  const owner = shot.attempts[String(shot.attempt)]?.backend ?? shot.backend;
  return {
    topic: renderTopicFor(owner),
    message: {
      v: 1,
      jobId: job.jobId,
      tenantId: job.tenantId,
      shotId: shot.shotId,
      attempt: shot.attempt,
      spec: shot.spec,
    },
  };
}

export const isLeaseFresh = (a: ShotAttempt | undefined, nowMs = Date.now()) =>
  !!a?.lease && a.lease.until.toMillis() > nowMs;

export type ClaimResult =
  /** This delivery holds the attempt now. */
  | { kind: 'claimed'; shot: Shot; attempt: ShotAttempt }
  /** Another live delivery holds it (its lease is fresh). */
  | { kind: 'held'; shot: Shot; holder: string; untilMs: number }
  /** The attempt belongs to another backend (handed over, or planned there). */
  | { kind: 'elsewhere'; shot: Shot; owner: BackendName }
  /** Rendered already: only `shot.rendered` may be due again. */
  | { kind: 'done'; shot: Shot }
  /** The message is stale: another attempt, a failed shot, no such shot. */
  | { kind: 'stale'; shot: Shot | null; why: string };

export interface AttemptRef {
  jobId: string;
  shotId: string;
  attempt: number;
  /** The backend this caller renders on; every operation checks it still owns the attempt. */
  backend: BackendName;
  /** The lease holder this caller is; when given, every change requires it still holds the lease. */
  holder?: string;
}

/** What the fallback policy decided about a failed try, applied in the same transaction. */
export type NextStep =
  | { kind: 'retry'; notBefore: Timestamp }
  | {
      kind: 'hand_over';
      to: BackendName;
      spec: (spec: ShotSpec) => ShotSpec;
      /** Moved because this backend was busy (not because it failed): the timeline says `render.rerouted`. */
      rerouted?: { reason: string };
    }
  | { kind: 'fail'; error: string }
  /** Only record the try (a task this attempt stops following for another reason). */
  | { kind: 'record' };

export interface Settled {
  entry: RenderTry;
  /** The task this try was; the stored task id is cleared only if it is this one. */
  taskId?: string;
}

const key = (ref: AttemptRef) => String(ref.attempt);

/** The attempt is RENDERING on the caller's backend and, when it names itself, under its lease. */
function owned(shot: Shot, ref: AttemptRef): ShotAttempt | null {
  const a = shot.attempts[key(ref)];
  if (shot.status !== 'RENDERING' || shot.attempt !== ref.attempt || !a || a.status !== 'RENDERING') return null;
  if (a.backend !== ref.backend) return null;
  if (ref.holder !== undefined && a.lease?.holder !== ref.holder) return null;
  return a;
}
/** Whether the attempt already holds the try with this write token (written by this very call). */
const hasTry = (shot: Shot, ref: AttemptRef, tryKey: string) =>
  shot.attempts[key(ref)]?.tries?.some((t) => t.key === tryKey) ?? false;
/** The try with what its request carried, when the attempt stored that with this very task. */
const withSent = (entry: RenderTry, a: ShotAttempt, settled: Settled): RenderTry =>
  !entry.sent && a.sent && settled.taskId !== undefined && a.vendorTaskId === settled.taskId
    ? { ...entry, sent: a.sent }
    : entry;
const sum = (tries: RenderTry[]) => Math.round(tries.reduce((s, t) => s + t.costUsd, 0) * 1e6) / 1e6;

export class ShotAttempts {
  constructor(private readonly jobs: JobStore) {}

  /** Takes the attempt for one delivery (`holder`), creating it on a fresh shot unless `start` is false. */
  async claim(
    ref: AttemptRef,
    holder: string,
    leaseMs: number,
    options: { start?: boolean } = {},
  ): Promise<ClaimResult> {
    let result: ClaimResult = { kind: 'stale', shot: null, why: 'not_found' };
    await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const now = Timestamp.now();
      const lease = { holder, until: Timestamp.fromMillis(now.toMillis() + leaseMs) };
      const a = shot.attempts[key(ref)];
      if (shot.attempt !== ref.attempt) {
        result = { kind: 'stale', shot, why: `attempt ${shot.attempt} is current` };
        return null;
      }
      if (shot.status === 'RENDERED' || shot.status === 'PASSED') {
        result = { kind: 'done', shot };
        return null;
      }
      if (shot.status === 'PENDING' || shot.status === 'REJECTED') {
        if (options.start === false) {
          result = { kind: 'stale', shot, why: `shot is ${shot.status}` };
          return null;
        }
        if (shot.backend !== ref.backend) {
          result = { kind: 'elsewhere', shot, owner: shot.backend };
          return null;
        }
        const attempt: ShotAttempt = {
          attempt: ref.attempt,
          backend: ref.backend,
          status: 'RENDERING',
          startedAt: now,
          tries: [],
          lease,
        };
        result = { kind: 'claimed', shot: { ...shot, status: 'RENDERING' }, attempt };
        return {
          status: 'RENDERING',
          patch: { attempts: { ...shot.attempts, [key(ref)]: attempt } },
          event: {
            key: `shot-${ref.shotId}-a${ref.attempt}-rendering`,
            type: 'shot.rendering',
            data: { shotId: ref.shotId, attempt: ref.attempt, backend: ref.backend },
          },
        };
      }
      if (shot.status !== 'RENDERING' || !a || a.status !== 'RENDERING') {
        result = { kind: 'stale', shot, why: `shot is ${shot.status}` };
        return null;
      }
      if (a.backend !== ref.backend) {
        result = { kind: 'elsewhere', shot, owner: a.backend };
        return null;
      }
      if (a.lease && a.lease.holder !== holder && a.lease.until.toMillis() > now.toMillis()) {
        result = { kind: 'held', shot, holder: a.lease.holder, untilMs: a.lease.until.toMillis() };
        return null;
      }
      const attempt = { ...a, lease };
      result = { kind: 'claimed', shot, attempt };
      return { patch: { attempts: { ...shot.attempts, [key(ref)]: attempt } } };
    });
    return result;
  }

  /** Extends the holder's lease; false when it has lost the attempt (taken over, moved on). */
  async renewLease(ref: AttemptRef, holder: string, leaseMs: number): Promise<boolean> {
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = shot.attempts[key(ref)];
      if (shot.status !== 'RENDERING' || a?.backend !== ref.backend || a.lease?.holder !== holder) return null;
      const until = Timestamp.fromMillis(Date.now() + leaseMs);
      return { patch: { attempts: { ...shot.attempts, [key(ref)]: { ...a, lease: { holder, until } } } } };
    });
    return r.changed;
  }

  /** Gives the attempt back (shutdown, or done with it) so the next delivery need not wait. */
  async releaseLease(ref: AttemptRef, holder: string): Promise<void> {
    await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = shot.attempts[key(ref)];
      if (a?.lease?.holder !== holder) return null;
      return { patch: { attempts: { ...shot.attempts, [key(ref)]: { ...a, lease: null } } } };
    });
  }

  /**
   * Marks a create about to happen, with its spend reservation. Null when the caller no longer
   * holds the attempt, or a task is already stored. A later delivery that finds the mark without a
   * task id knows a create may have been cut off.
   */
  async beginSubmit(
    ref: AttemptRef,
    reservation: string,
  ): Promise<{ attempt: ShotAttempt; submitting: { reservation: string; at: Timestamp } } | null> {
    let out: { attempt: ShotAttempt; submitting: { reservation: string; at: Timestamp } } | null = null;
    await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      out = null;
      const a = owned(shot, ref);
      if (!a || a.vendorTaskId) return null;
      const submitting = { reservation, at: Timestamp.now() };
      const next: ShotAttempt = { ...a, submitting, reservation };
      out = { attempt: next, submitting };
      return { patch: { attempts: { ...shot.attempts, [key(ref)]: next } } };
    });
    return out;
  }

  /**
   * Stores the task id before the first poll; the first stored id wins. Returns the attempt as
   * stored, or null when the attempt is no longer this caller's to render.
   */
  async recordTask(
    ref: AttemptRef,
    taskId: string,
    sent?: VendorRequestSummary,
  ): Promise<{ attempt: ShotAttempt | null; stored: boolean }> {
    let stored = false;
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      stored = false;
      const a = owned(shot, ref);
      if (!a || a.vendorTaskId) return null;
      stored = true;
      const { submitting: _s, busySeconds: _b, ...rest } = a;
      return {
        patch: {
          attempts: {
            ...shot.attempts,
            [key(ref)]: { ...rest, vendorTaskId: taskId, submittedAt: Timestamp.now(), ...(sent ? { sent } : {}) },
          },
        },
        event: {
          key: `shot-${ref.shotId}-a${ref.attempt}-submitted-${taskRef(taskId)}`,
          type: 'render.submitted',
          data: { shotId: ref.shotId, attempt: ref.attempt, backend: ref.backend, task: taskRef(taskId) },
        },
      };
    });
    const a = r.value ? owned(r.value, ref) : null;
    return { attempt: a, stored };
  }

  /**
   * Stores how long the vendor has held the stored task back for its capacity (busy time, which
   * does not count toward the attempt timeout), so a delivery that resumes the task keeps it.
   * Only for the task stored and only upward; false when nothing was written.
   */
  async recordBusy(ref: AttemptRef, taskId: string, busySeconds: number): Promise<boolean> {
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = owned(shot, ref);
      if (!a || a.vendorTaskId !== taskId || (a.busySeconds ?? 0) >= busySeconds) return null;
      return { patch: { attempts: { ...shot.attempts, [key(ref)]: { ...a, busySeconds } } } };
    });
    return r.changed;
  }

  /**
   * Appends a finished vendor task (or a lost create) to the attempt, clears it from the attempt,
   * and applies the policy's next step — in one transaction, so a crash can never leave a try
   * recorded and its decision forgotten. A no-op (null) unless the caller still holds the attempt
   * and the task is the one stored (`taskId` undefined: none was stored). Returns the shot after.
   * The try carries a write token: when the commit applied but its answer was lost, the re-run
   * finds its own try (the task already cleared, a retry's attempt otherwise unchanged) and
   * reports the write as done instead of appending the try again or taking it for a lost race.
   */
  async settleTry(ref: AttemptRef, settled: Settled, next: NextStep): Promise<Shot | null> {
    const entry: RenderTry = { ...settled.entry, key: randomBytes(8).toString('hex') };
    let written = false;
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      written = hasTry(shot, ref, entry.key!);
      const a = owned(shot, ref);
      if (written || !a || (a.vendorTaskId ?? undefined) !== settled.taskId) return null;
      const tries = [...(a.tries ?? []), withSent(entry, a, settled)];
      const {
        vendorTaskId: _t,
        submittedAt: _at,
        reservation: _r,
        submitting: _s,
        retryAt: _ra,
        sent: _sent,
        busySeconds: _busy,
        ...rest
      } = a;
      const base: ShotAttempt = { ...rest, tries, costUsd: sum(tries) };
      const now = Timestamp.now();
      switch (next.kind) {
        case 'record':
          return { patch: { attempts: { ...shot.attempts, [key(ref)]: base } } };
        case 'retry':
          return { patch: { attempts: { ...shot.attempts, [key(ref)]: { ...base, retryAt: next.notBefore } } } };
        case 'hand_over':
          return {
            patch: {
              backend: next.to,
              spec: next.spec(shot.spec),
              attempts: {
                ...shot.attempts,
                [key(ref)]: { ...base, backend: next.to, lease: null, handedOverAt: now },
              },
            },
            event: next.rerouted
              ? {
                  key: `shot-${ref.shotId}-a${ref.attempt}-rerouted-${ref.backend}-${next.to}`,
                  type: 'render.rerouted',
                  data: {
                    shotId: ref.shotId,
                    attempt: ref.attempt,
                    from: ref.backend,
                    to: next.to,
                    reason: next.rerouted.reason,
                  },
                }
              : {
                  key: `shot-${ref.shotId}-a${ref.attempt}-fallback-${ref.backend}-${next.to}`,
                  type: 'render.fallback',
                  data: { shotId: ref.shotId, attempt: ref.attempt, from: ref.backend, to: next.to },
                },
          };
        case 'fail':
          return {
            status: 'FAILED',
            patch: {
              attempts: {
                ...shot.attempts,
                [key(ref)]: { ...base, status: 'FAILED', error: next.error, lease: null, finishedAt: now },
              },
            },
          };
      }
    });
    return r.changed || written ? r.value : null;
  }

  /** RENDERING → RENDERED with the clip and the try that made it (or the cache hit). */
  async complete(
    ref: AttemptRef,
    clip: { clipUri: string; sizeBytes: number; cache?: AttemptCacheEntry },
    settled: Settled,
  ): Promise<Shot | null> {
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = owned(shot, ref);
      if (!a || (a.vendorTaskId ?? undefined) !== settled.taskId) return null;
      const tries = [...(a.tries ?? []), withSent(settled.entry, a, settled)];
      const {
        vendorTaskId: _t,
        submittedAt: _s,
        reservation: _r,
        submitting: _m,
        retryAt: _ra,
        sent: _sent,
        busySeconds: _busy,
        ...rest
      } = a;
      return {
        status: 'RENDERED',
        patch: {
          attempts: {
            ...shot.attempts,
            [key(ref)]: {
              ...rest,
              ...(settled.taskId ? { vendorTaskId: settled.taskId } : {}),
              status: 'RENDERED',
              clipUri: clip.clipUri,
              ...(clip.cache ? { cache: clip.cache } : {}),
              costUsd: sum(tries),
              tries,
              lease: null,
              finishedAt: Timestamp.now(),
            },
          },
        },
        event: {
          key: `shot-${ref.shotId}-a${ref.attempt}-rendered`,
          type: settled.entry.outcome === 'cache_hit' ? 'render.cache_hit' : 'shot.rendered',
          data: {
            shotId: ref.shotId,
            attempt: ref.attempt,
            backend: ref.backend,
            sizeBytes: clip.sizeBytes,
            costUsd: settled.entry.costUsd,
          },
        },
      };
    });
    return r.value && (r.value.status === 'RENDERED' || r.value.status === 'PASSED') && r.value.attempt === ref.attempt
      ? r.value
      : null;
  }

  /**
   * RENDERING → FAILED with no vendor task in flight (the budget refused the next one, or the job
   * finished and its task was settled). Never wipes a stored task.
   */
  async fail(ref: AttemptRef, error: string): Promise<boolean> {
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = owned(shot, ref);
      if (!a || a.vendorTaskId) return null;
      return {
        status: 'FAILED',
        patch: {
          attempts: {
            ...shot.attempts,
            [key(ref)]: { ...a, status: 'FAILED', error, lease: null, finishedAt: Timestamp.now() },
          },
        },
      };
    });
    return r.changed;
  }

  /** RENDERED → REJECTED by QA, with the retake's spec: the next attempt is requested after this. */
  async reject(
    jobId: string,
    shotId: string,
    attempt: number,
    qa: QaReport,
    retake: (spec: ShotSpec) => ShotSpec,
    summary: string,
  ): Promise<Shot | null> {
    const r = await this.jobs.casShot(jobId, shotId, (shot) => {
      const a = shot.attempts[String(attempt)];
      if (shot.status !== 'RENDERED' || shot.attempt !== attempt || !a) return null;
      return {
        status: 'REJECTED',
        patch: {
          qa,
          attempt: attempt + 1,
          spec: retake(shot.spec),
          attempts: { ...shot.attempts, [String(attempt)]: { ...a, status: 'REJECTED' } },
        },
        event: {
          key: `shot-${shotId}-a${attempt}-rejected`,
          type: 'shot.rejected',
          data: { shotId, attempt, failed: summary },
        },
      };
    });
    return r.value?.status === 'REJECTED' && r.value.attempt === attempt + 1 ? r.value : null;
  }

  /** RENDERED → FAILED by QA: out of retakes. */
  async failQa(jobId: string, shotId: string, attempt: number, qa: QaReport): Promise<void> {
    await this.jobs.casShot(jobId, shotId, (shot) => {
      const a = shot.attempts[String(attempt)];
      if (shot.status !== 'RENDERED' || shot.attempt !== attempt || !a) return null;
      return {
        status: 'FAILED',
        patch: { qa, attempts: { ...shot.attempts, [String(attempt)]: { ...a, status: 'FAILED' } } },
      };
    });
  }

  /** RENDERED → PASSED; the last shot to pass moves the job to ASSEMBLING (one transaction). */
  pass(jobId: string, shotId: string, attempt: number, qa: QaReport) {
    return this.jobs.passShot(jobId, shotId, attempt, qa);
  }
}
