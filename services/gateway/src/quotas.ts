import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Firestore } from '@google-cloud/firestore';
import {
  LeasedWindowCounter,
  countActiveJobs,
  getMonthlySpend,
  nextUtcDay,
  nextUtcMonth,
  type Tenant,
} from '@aiprod/job-store';
import { HttpProblem } from './problem';

export type QuotaName = 'concurrent_jobs' | 'jobs_per_day' | 'monthly_spend' | 'estimates_per_day';

/** A 429 `quota_exceeded` problem that says which quota, its limit and when it resets (null: when jobs finish). */
export class QuotaExceeded extends HttpProblem {
  constructor(
    readonly quota: QuotaName,
    readonly limit: number,
    readonly resetsAt: Date | null,
    retryAfterSeconds: number,
  ) {
    const what = {
      concurrent_jobs: `at most ${limit} unfinished jobs at a time; retry when one finishes`,
      jobs_per_day: `at most ${limit} new jobs per UTC day; resets at ${resetsAt?.toISOString()}`,
      monthly_spend: `the monthly spend cap of ${limit} USD is reached; resets at ${resetsAt?.toISOString()}`,
      estimates_per_day: `at most ${limit} estimates per UTC day; resets at ${resetsAt?.toISOString()}`,
    }[quota];
    // Also as members, so a client can act on them without parsing the detail.
    super('quota_exceeded', `quota ${quota} exceeded: ${what}`, {
      retryAfterSeconds,
      members: { quota, limit, resetsAt: resetsAt ? resetsAt.toISOString() : null },
    });
  }
}

export interface QuotaDefaults {
  maxConcurrentJobs: number;
  maxJobsPerDay: number;
  /** null: no cap unless the tenant has one. */
  monthlySpendCapUsd: number | null;
}

export interface JobQuotasOptions {
  db: Firestore;
  defaults: QuotaDefaults;
  /**
   * The unfinished-jobs count is an aggregation query (tens of ms on the emulator). A count read
   * less than this long ago is reused, plus the jobs this process admitted since, while that sum
   * stays under 80 % of the limit; nearer the limit every check counts afresh. Default 2 s.
   */
  concurrentCacheMs?: number;
  /** How old a read of the month's spend may be. Default 2 s (spend is recorded as shots render, later anyway). */
  spendCacheMs?: number;
  /** Jobs-per-day tokens leased per write, as a fraction of the limit (default 1 %, at most 10). */
  dayLeaseFraction?: number;
  now?: () => Date;
}

const positiveOr = (v: unknown, fallback: number) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;

/**
 * Quotas on job creation: concurrent unfinished jobs, jobs per UTC day, monthly spend cap.
 * Checked before a job is created (after the brief is validated and after an idempotent replay
 * is answered, so neither consumes a day's job). Soft at the edges: requests racing each other
 * on several instances may pass the concurrent-jobs limit by the number racing; the day limit
 * is never exceeded (leased tokens); spend is only known as shots are paid, so a job started
 * just under the cap can finish over it (the per-job budget cap bounds by how much).
 */
export class JobQuotas {
  private readonly concurrent = new Map<string, { count: number; at: number; admitted: number }>();
  private readonly counting = new Map<string, Promise<number>>();
  private readonly spend = new Map<string, { usd: number; at: number; month: string }>();
  private readonly days: LeasedWindowCounter;
  private readonly now: () => Date;
  private closed = false;

  constructor(private readonly options: JobQuotasOptions) {
    this.days = new LeasedWindowCounter(options.db, {
      collection: 'quotaCounters',
      leaseFraction: options.dayLeaseFraction ?? 0.01,
      maxLease: 10,
      // A job creation can wait for a lease; a prefetched block left unused would be lost for the day.
      prefetch: false,
    });
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Waits for the Firestore work this object started and nobody awaits (a background recount,
   * a day-token lease) and starts no more. main.ts and the tests call it before terminating the
   * Firestore client: a read begun after terminate() is an unhandled rejection (see
   * LeasedWindowCounter.close).
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([this.days.close(), ...this.counting.values()]);
  }

  /** Throws QuotaExceeded when the tenant may not create a job now; otherwise takes one of the day's jobs. */
  async checkJobCreation(tenant: Tenant): Promise<void> {
    const now = this.now();
    const { defaults } = this.options;
    const maxConcurrent = positiveOr(tenant.maxConcurrentJobs, defaults.maxConcurrentJobs);
    const perDay = positiveOr(tenant.maxJobsPerDay, defaults.maxJobsPerDay);
    const cap = tenant.monthlySpendCapUsd ?? defaults.monthlySpendCapUsd;

    const [active, spent] = await Promise.all([
      this.activeJobs(tenant.tenantId, maxConcurrent, now),
      cap === null ? Promise.resolve(0) : this.monthlySpend(tenant.tenantId, now),
    ]);
    if (cap !== null && spent >= cap) {
      const resets = nextUtcMonth(now);
      throw new QuotaExceeded('monthly_spend', cap, resets, secondsUntil(resets, now));
    }
    if (active >= maxConcurrent) throw new QuotaExceeded('concurrent_jobs', maxConcurrent, null, 10);

    const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const dayEnd = nextUtcDay(now);
    const day = await this.days.take(`${tenant.tenantId}:jobs`, { start: dayStart, end: dayEnd.getTime() }, perDay);
    if (!day.granted) throw new QuotaExceeded('jobs_per_day', perDay, dayEnd, secondsUntil(dayEnd, now));
    const cached = this.concurrent.get(tenant.tenantId);
    if (cached) cached.admitted++;
  }

  private async activeJobs(tenantId: string, limit: number, now: Date): Promise<number> {
    const cacheMs = this.options.concurrentCacheMs ?? 2000;
    const hit = this.concurrent.get(tenantId);
    const age = hit ? now.getTime() - hit.at : Infinity;
    if (hit && age < cacheMs && hit.count + hit.admitted < limit * 0.8) {
      // Past half its life the count is refreshed in the background, so a fresh one has usually
      // landed before this one expires and requests seldom wait for count(). Nothing older than
      // cacheMs is ever used.
      // Not awaited but kept in `counting`, which close() waits for.
      if (age >= cacheMs / 2 && !this.closed) this.recount(tenantId, limit).catch(() => undefined);
      return hit.count + hit.admitted;
    }
    const count = await this.recount(tenantId, limit);
    const fresh = this.concurrent.get(tenantId);
    return fresh ? fresh.count + fresh.admitted : count;
  }

  /**
   * One count() per tenant at a time: requests that need a fresh count share the one in flight
   * instead of each starting one (on the emulator a count scans every job; under load a herd of
   * them was most of a request's time). Jobs this process admits while the count runs are added
   * on top, since the count may have missed them: errs towards the limit.
   */
  private recount(tenantId: string, limit: number): Promise<number> {
    const running = this.counting.get(tenantId);
    if (running) return running;
    const startedAt = this.now().getTime();
    const admittedBefore = this.concurrent.get(tenantId)?.admitted ?? 0;
    const work = countActiveJobs(this.options.db, tenantId, limit)
      .then((count) => {
        const admittedSince = Math.max(0, (this.concurrent.get(tenantId)?.admitted ?? 0) - admittedBefore);
        if (this.concurrent.size >= 10_000) this.concurrent.clear();
        this.concurrent.set(tenantId, { count, at: startedAt, admitted: admittedSince });
        return count;
      })
      .finally(() => this.counting.delete(tenantId));
    this.counting.set(tenantId, work);
    return work;
  }

  private async monthlySpend(tenantId: string, now: Date): Promise<number> {
    const cacheMs = this.options.spendCacheMs ?? 2000;
    const month = now.toISOString().slice(0, 7);
    const hit = this.spend.get(tenantId);
    if (hit && hit.month === month && now.getTime() - hit.at < cacheMs) return hit.usd;
    const usd = await getMonthlySpend(this.options.db, tenantId, now);
    if (this.spend.size >= 10_000) this.spend.clear();
    this.spend.set(tenantId, { usd, at: now.getTime(), month });
    return usd;
  }
}

export interface EstimateQuotasOptions {
  db: Firestore;
  defaults: { maxEstimatesPerDay: number };
  /** Estimate tokens leased per write, as a fraction of the limit (default 1 %, at most 10). */
  dayLeaseFraction?: number;
  now?: () => Date;
}

/**
 * Estimates per tenant and UTC day. An estimate creates nothing a client owns, but it costs a
 * director call (Gemini in production), so it gets its own daily count beside the general rate
 * limit. Counted like jobs per day: leased tokens on quotaCounters in Firestore, shared by every
 * gateway instance and never exceeded.
 */
export class EstimateQuotas {
  private readonly days: LeasedWindowCounter;
  private readonly now: () => Date;

  constructor(private readonly options: EstimateQuotasOptions) {
    this.days = new LeasedWindowCounter(options.db, {
      collection: 'quotaCounters',
      leaseFraction: options.dayLeaseFraction ?? 0.01,
      maxLease: 10,
      // As for jobs: a block prefetched and left unused would be lost for the day.
      prefetch: false,
    });
    this.now = options.now ?? (() => new Date());
  }

  /** Waits for lease transactions still running; call before terminating the Firestore client. */
  close(): Promise<void> {
    return this.days.close();
  }

  /** Throws QuotaExceeded when the tenant's estimates for today are used up; otherwise takes one. */
  async checkEstimate(tenant: Tenant): Promise<void> {
    const now = this.now();
    const perDay = positiveOr(tenant.maxEstimatesPerDay, this.options.defaults.maxEstimatesPerDay);
    const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const dayEnd = nextUtcDay(now);
    const day = await this.days.take(
      `${tenant.tenantId}:estimates`,
      { start: dayStart, end: dayEnd.getTime() },
      perDay,
    );
    if (!day.granted) throw new QuotaExceeded('estimates_per_day', perDay, dayEnd, secondsUntil(dayEnd, now));
  }
}

/** Middleware form for `POST /v1/estimates`: after authenticate, idempotent() and validation. */
export function enforceEstimateQuotas(quotas: EstimateQuotas): RequestHandler & { close(): Promise<void> } {
  const handler: RequestHandler = async (req: Request, _res: Response, next: NextFunction) => {
    if (!req.tenant) return next(new Error('enforceEstimateQuotas runs after authenticate'));
    await quotas.checkEstimate(req.tenant);
    next();
  };
  return Object.assign(handler, { close: () => quotas.close() });
}

const secondsUntil = (at: Date, now: Date) => Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 1000));

/**
 * Middleware form for `POST /v1/jobs`: after authenticate (needs req.tenant), validation and
 * idempotent(). Its close() is the quotas' (the gateway's close() calls it).
 */
export function enforceJobQuotas(quotas: JobQuotas): RequestHandler & { close(): Promise<void> } {
  const handler: RequestHandler = async (req: Request, _res: Response, next: NextFunction) => {
    if (!req.tenant) return next(new Error('enforceJobQuotas runs after authenticate'));
    await quotas.checkJobCreation(req.tenant);
    next();
  };
  return Object.assign(handler, { close: () => quotas.close() });
}
