import { createHash } from 'node:crypto';
import { Timestamp } from '@google-cloud/firestore';
import { renderTopicFor, type BackendName, type RenderRequest, type ShotSpec, type TopicName } from '@aiprod/contracts';
import type { JobStore } from './job-store';
import type { AttemptCacheEntry, Job, QaReport, RenderTry, Shot, ShotAttempt } from './types';

/**
 * The shot state machine of rendering, in one place. Every operation is a compare-and-set on
 * what the caller expects to find (the backend that owns the attempt, the task id it replaces,
 * the lease it holds); a lost race is a no-op that reports what it found, never an error that
 * fails the job. Render and QA change attempts only through here.
 *
 *   claim      PENDING/REJECTED → RENDERING (a new attempt), or RENDERING → RENDERING (take the lease)
 *   renewLease / releaseLease   the holder keeps, or gives back, the attempt
 *   recordTask the vendor task id, stored before the first poll
 *   recordTry  a finished vendor task; clears the task in flight only if it is the one that finished
 *   complete   RENDERING → RENDERED with the clip
 *   handOver   the attempt moves to the next backend of the fallback chain
 *   fail       RENDERING → FAILED
 *   reject     RENDERED → REJECTED (QA: a retake follows)
 *   pass       RENDERED → PASSED (QA; the render cache learns of the clip here)
 */

/** A short, opaque, stable reference to a vendor task: safe in document ids, events and the API. */
export const taskRef = (vendorTaskId: string) => createHash('sha256').update(vendorTaskId).digest('hex').slice(0, 16);

/** The cost ledger line of one vendor task (or of a try that made none), valid for any vendor's id. */
export function costLineId(
  shotId: string,
  attempt: number,
  backend: BackendName,
  task: { taskId?: string; n?: number },
) {
  return `${shotId}-a${attempt}-${backend}-${task.taskId ? taskRef(task.taskId) : `n${task.n ?? 0}`}`;
}

/** The render request for a shot's current attempt, addressed to the backend that owns it. */
export function renderRequestFor(
  job: Pick<Job, 'jobId' | 'tenantId'>,
  shot: Shot,
): { topic: TopicName; message: RenderRequest } {
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
}

export interface Settled {
  entry: RenderTry;
  /** The task this try was; the stored task id is cleared only if it is this one. */
  taskId?: string;
}

const key = (ref: AttemptRef) => String(ref.attempt);
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
   * Stores the task id before the first poll; the first stored id wins. Returns the attempt as
   * stored, or null when the attempt is no longer this backend's to render.
   */
  async recordTask(
    ref: AttemptRef,
    taskId: string,
    reservation: string | undefined,
  ): Promise<{ attempt: ShotAttempt | null; stored: boolean }> {
    let stored = false;
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = shot.attempts[key(ref)];
      if (shot.status !== 'RENDERING' || a?.backend !== ref.backend || a.status !== 'RENDERING' || a.vendorTaskId)
        return null;
      stored = true;
      return {
        patch: {
          attempts: {
            ...shot.attempts,
            [key(ref)]: {
              ...a,
              vendorTaskId: taskId,
              submittedAt: Timestamp.now(),
              ...(reservation ? { reservation } : {}),
            },
          },
        },
        event: {
          key: `shot-${ref.shotId}-a${ref.attempt}-submitted-${taskRef(taskId)}`,
          type: 'render.submitted',
          data: { shotId: ref.shotId, attempt: ref.attempt, backend: ref.backend, task: taskRef(taskId) },
        },
      };
    });
    const a = r.value?.attempts[key(ref)];
    const ours = r.value?.status === 'RENDERING' && a?.backend === ref.backend && a.status === 'RENDERING';
    return { attempt: ours ? a : null, stored };
  }

  /**
   * Appends a finished vendor task to the attempt (once: a redelivery finds it). The task in
   * flight is cleared only when it is the one that finished, so a late report of an old task
   * never wipes a newer one.
   */
  async recordTry(ref: AttemptRef, settled: Settled): Promise<ShotAttempt | null> {
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = shot.attempts[key(ref)];
      if (!a || a.backend !== settled.entry.backend || a.status !== 'RENDERING') return null;
      const tries = a.tries ?? [];
      const seen = settled.taskId !== undefined && tries.some((t) => t.vendorTaskId === settled.taskId);
      const clears = (a.vendorTaskId ?? undefined) === settled.taskId;
      if (seen && !clears) return null;
      const { vendorTaskId: _t, submittedAt: _s, reservation: _r, ...rest } = a;
      const nextTries = seen ? tries : [...tries, settled.entry];
      const next: ShotAttempt = { ...(clears ? rest : a), tries: nextTries, costUsd: sum(nextTries) };
      return { patch: { attempts: { ...shot.attempts, [key(ref)]: next } } };
    });
    const a = r.value?.attempts[key(ref)];
    return a && a.backend === ref.backend && a.status === 'RENDERING' && r.value?.status === 'RENDERING' ? a : null;
  }

  /** RENDERING → RENDERED with the clip and the try that made it (or the cache hit). */
  async complete(
    ref: AttemptRef,
    clip: { clipUri: string; sizeBytes: number; cache?: AttemptCacheEntry },
    settled: Settled,
  ): Promise<Shot | null> {
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = shot.attempts[key(ref)];
      if (shot.status !== 'RENDERING' || a?.backend !== ref.backend || a.status !== 'RENDERING') return null;
      if ((a.vendorTaskId ?? undefined) !== settled.taskId) return null;
      const tries = [...(a.tries ?? []), settled.entry];
      const { vendorTaskId: _t, submittedAt: _s, reservation: _r, ...rest } = a;
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

  /** Moves the attempt to the next backend; true when this call (or an earlier one) did. */
  async handOver(ref: AttemptRef, to: BackendName, specFor: (spec: ShotSpec) => ShotSpec): Promise<Shot | null> {
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = shot.attempts[key(ref)];
      if (shot.status !== 'RENDERING' || a?.backend !== ref.backend || a.status !== 'RENDERING') return null;
      const { vendorTaskId: _t, submittedAt: _s, reservation: _r, ...rest } = a;
      return {
        patch: {
          backend: to,
          spec: specFor(shot.spec),
          attempts: {
            ...shot.attempts,
            [key(ref)]: { ...rest, backend: to, lease: null, handedOverAt: Timestamp.now() },
          },
        },
        event: {
          key: `shot-${ref.shotId}-a${ref.attempt}-fallback-${ref.backend}-${to}`,
          type: 'render.fallback',
          data: { shotId: ref.shotId, attempt: ref.attempt, from: ref.backend, to },
        },
      };
    });
    const a = r.value?.attempts[key(ref)];
    return r.value?.status === 'RENDERING' && a?.backend === to && a.status === 'RENDERING' ? r.value : null;
  }

  /** RENDERING → FAILED: the policy gave up on this attempt. */
  async fail(ref: AttemptRef, error: string): Promise<boolean> {
    const r = await this.jobs.casShot(ref.jobId, ref.shotId, (shot) => {
      const a = shot.attempts[key(ref)];
      if (shot.status !== 'RENDERING' || a?.backend !== ref.backend) return null;
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
