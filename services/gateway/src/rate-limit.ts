import type { RequestHandler } from 'express';
import { rateLimit, type IncrementResponse, type Options, type Store } from 'express-rate-limit';
import type { Firestore } from '@google-cloud/firestore';
import { LeasedWindowCounter, type TenantStore } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { HttpProblem } from './problem';

/** Limits are requests per minute, so the window is one minute. */
const RATE_WINDOW_MS = 60_000;

export interface FirestoreRateLimitStoreOptions {
  db: Firestore;
  /** The limit of a key (a tenant id) for one window. */
  limitFor: (key: string) => number | Promise<number>;
  /** Documents `{collection}/{tenantId}:{window start ms}`. Default `rateLimits`. */
  collection?: string;
  /** Tokens leased per Firestore round trip, as a fraction of the limit (default 5 %, at most maxLease = 100). */
  leaseFraction?: number;
  maxLease?: number;
}

/**
 * An express-rate-limit store whose counts live in Firestore, so a limit holds across restarts
 * and across gateway instances, without a write per request: tokens are leased in blocks (see
 * LeasedWindowCounter). Fixed windows aligned on the epoch; the total never exceeds the limit
 * in a window; see docs/decisions/2026-11-rate-limits-and-quotas.md for what it can fall short by.
 */
export class FirestoreRateLimitStore implements Store {
  readonly localKeys = false;
  readonly prefix: string;
  private windowMs = RATE_WINDOW_MS;
  private readonly counter: LeasedWindowCounter;

  constructor(private readonly options: FirestoreRateLimitStoreOptions) {
    this.prefix = `${options.collection ?? 'rateLimits'}:`;
    this.counter = new LeasedWindowCounter(options.db, {
      collection: options.collection ?? 'rateLimits',
      leaseFraction: options.leaseFraction ?? 0.05,
      maxLease: options.maxLease ?? 100,
    });
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const now = Date.now();
    const start = now - (now % this.windowMs);
    const limit = await this.options.limitFor(key);
    const taken = await this.counter.take(key, { start, end: start + this.windowMs }, limit);
    return { totalHits: taken.position, resetTime: taken.resetAt };
  }

  /** Leased tokens cannot be handed back to other instances; a decrement is a no-op (skip* options are not used). */
  decrement(): void {}

  /** Local only: the shared window document keeps its count until the window ends. */
  resetKey(): void {}

  /**
   * Waits for the token leases still running (prefetches nobody awaits) and leases no more:
   * before the Firestore client is terminated (see LeasedWindowCounter.close).
   */
  shutdown(): Promise<void> {
    return this.counter.close();
  }
}

export interface TenantRateLimitOptions {
  db: Firestore;
  tenants: TenantStore;
  /** For tenants without `requestsPerMinute`. */
  defaultRequestsPerMinute: number;
  /** How old a cached tenant document may be when reading its limit. Default 5 s. */
  tenantCacheMs?: number;
  windowMs?: number;
  log?: Pick<Log, 'warn' | 'error'>;
  /** Tests: a store with other lease settings. */
  store?: Store;
}

/**
 * Per-tenant request limit; mount after `authenticate` (unauthenticated requests are not counted
 * here: they are refused before costing more than the offline key check). Over the limit: 429
 * problem with `Retry-After` and the IETF draft-8 `RateLimit`/`RateLimit-Policy` headers. If
 * Firestore fails, requests pass (logged): an outage of the limiter must not take the API down.
 */
export function tenantRateLimit(options: TenantRateLimitOptions): RequestHandler & { close(): Promise<void> } {
  const limitFor = async (tenantId: string) => {
    const tenant = await options.tenants.getTenant(tenantId, { maxAgeMs: options.tenantCacheMs ?? 5000 });
    const rpm = tenant?.requestsPerMinute;
    return typeof rpm === 'number' && Number.isInteger(rpm) && rpm >= 0 ? rpm : options.defaultRequestsPerMinute;
  };
  const windowMs = options.windowMs ?? RATE_WINDOW_MS;
  const store = options.store ?? new FirestoreRateLimitStore({ db: options.db, limitFor });
  const limiter = rateLimit({
    windowMs,
    store,
    limit: (req) => limitFor(req.principal!.tenantId),
    skip: (req) => !req.principal,
    keyGenerator: (req) => req.principal!.tenantId,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    passOnStoreError: true,
    logger: {
      warn: (message: unknown) => options.log?.warn('rate limiter', { message: String(message) }),
      error: (error: unknown) =>
        options.log?.error('rate limiter store failed; request let through', {
          error: error instanceof Error ? error.message : String(error),
        }),
    },
    handler: (req, _res, next) => {
      const info = (req as { rateLimit?: { limit: number; resetTime?: Date } }).rateLimit;
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil(((info?.resetTime?.getTime() ?? Date.now()) - Date.now()) / 1000),
      );
      next(
        new HttpProblem(
          'rate_limited',
          `this tenant may send ${info?.limit ?? 'a limited number of'} requests per ${Math.round(windowMs / 1000)} s; retry in ${retryAfterSeconds} s`,
          { retryAfterSeconds },
        ),
      );
    },
  });
  // The gateway's close() calls it: the store's background leases end before Firestore does.
  return Object.assign(limiter, { close: async () => void (await store.shutdown?.()) });
}
