import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { LeasedWindowCounter, TenantStore } from '@aiprod/job-store';
import { emulatorProject } from '@aiprod/testing';
import { HttpProblem, sendProblem } from './problem';
import { FirestoreRateLimitStore, tenantRateLimit } from './rate-limit';

const env = emulatorProject('gw-rate', 'gateway');
const { db } = env;
const tenants = new TenantStore(db);
/** Limiters and counters of this file: their background leases end before the client does. */
const closables: { close(): Promise<void> }[] = [];
const counter = (options: ConstructorParameters<typeof LeasedWindowCounter>[1]) => {
  const c = new LeasedWindowCounter(db, options);
  closables.push(c);
  return c;
};
afterAll(async () => {
  await Promise.all(closables.map((c) => c.close()));
  await env.close();
});

/** What the limiters logged when their store failed (they let the request through then). */
const storeErrors: string[] = [];

/** One "gateway instance": its own limiter (own leases), the shared Firestore. */
function instance(defaultRequestsPerMinute = 1000) {
  const app = express();
  app.use((req, _res, next) => {
    req.requestId = 'r';
    const tenantId = req.get('x-tenant');
    if (tenantId) req.principal = { tenantId, scopes: ['jobs:read'], keyPrefix: 'k', via: 'api_key' };
    next();
  });
  const limiter = tenantRateLimit({
    db,
    tenants,
    defaultRequestsPerMinute,
    tenantCacheMs: 0,
    log: { warn: () => undefined, error: (m, meta) => void storeErrors.push(`${m} ${JSON.stringify(meta)}`) },
  });
  closables.push(limiter);
  app.use(limiter);
  app.get('/ping', (_req, res) => void res.json({ ok: true }));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendProblem(res, error instanceof HttpProblem ? error : new HttpProblem('internal', 'x'), req.path, 'r');
  });
  return app;
}

/** Windows are whole minutes: start a burst early enough in one that it stays inside it. */
async function awayFromMinuteEdge(needMs = 15_000) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 100));
}

describe('tenantRateLimit', () => {
  it('answers 429 problem+json with Retry-After and RateLimit headers past the tenant limit', async () => {
    await tenants.createTenant({ tenantId: 'small', name: 'Small', requestsPerMinute: 5 });
    const app = instance();
    await awayFromMinuteEdge();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await request(app).get('/ping').set('x-tenant', 'small')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const refused = await request(app).get('/ping').set('x-tenant', 'small');
    expect(refused.status).toBe(429);
    expect(refused.type).toBe('application/problem+json');
    expect(refused.body.type).toBe('/problems/rate-limited');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-policy']).toMatch(/q=5; w=60/);
    expect(refused.headers.ratelimit).toMatch(/r=0/);
  }, 30_000);

  it('uses the default for tenants without their own limit; other tenants are not affected', async () => {
    const app = instance(3);
    await awayFromMinuteEdge();
    for (let i = 0; i < 3; i++) expect((await request(app).get('/ping').set('x-tenant', 'dflt')).status).toBe(200);
    expect((await request(app).get('/ping').set('x-tenant', 'dflt')).status).toBe(429);
    expect((await request(app).get('/ping').set('x-tenant', 'dflt2')).status).toBe(200);
  });

  it('holds across instances and restarts: never more than the limit in a window', async () => {
    await tenants.createTenant({ tenantId: 'shared', name: 'Shared', requestsPerMinute: 40 });
    // 60 requests in pairs take a few seconds alone, far longer on a loaded CI machine: start early
    // in a window so the burst stays inside it.
    await awayFromMinuteEdge(45_000);
    const window = Math.floor(Date.now() / 60_000);
    const a = instance();
    const b = instance();
    let ok = 0;
    for (let i = 0; i < 30; i++) {
      const [ra, rb] = await Promise.all([
        request(a).get('/ping').set('x-tenant', 'shared'),
        request(b).get('/ping').set('x-tenant', 'shared'),
      ]);
      ok += Number(ra.status === 200) + Number(rb.status === 200);
    }
    // 60 requests against a limit of 40: at most 40 pass; leases of 2 tokens (5 %) lose at most
    // one block per instance, plus a prefetched block each.
    expect({ sameWindow: Math.floor(Date.now() / 60_000) === window, storeErrors }).toEqual({
      sameWindow: true,
      storeErrors: [],
    });
    expect(ok).toBeLessThanOrEqual(40);
    expect(ok).toBeGreaterThanOrEqual(40 - 2 * 2 * 2);
    // A restarted instance (a new limiter) finds the window spent.
    const restarted = instance();
    expect((await request(restarted).get('/ping').set('x-tenant', 'shared')).status).toBe(429);
  }, 90_000);
});

describe('LeasedWindowCounter', () => {
  it('grants exactly the limit from one instance and never more than the limit from several', async () => {
    const window = { start: 1_000_000, end: 1_060_000 };
    const one = counter({ collection: 'counterTest', leaseFraction: 0.1, maxLease: 10 });
    const results = await Promise.all(Array.from({ length: 120 }, () => one.take('solo', window, 100)));
    expect(results.filter((r) => r.granted)).toHaveLength(100);
    const positions = results.filter((r) => r.granted).map((r) => r.position);
    expect(new Set(positions).size).toBe(100);
    expect(Math.max(...positions)).toBe(100);
    expect(results.find((r) => !r.granted)!.resetAt.getTime()).toBe(window.end);

    const instances = Array.from({ length: 4 }, () =>
      counter({ collection: 'counterTest', leaseFraction: 0.1, maxLease: 10 }),
    );
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => instances[i % 4]!.take('crowd', window, 100)));
    const granted = many.filter((r) => r.granted).length;
    expect(granted).toBeLessThanOrEqual(100);
    // No number is handed out twice, by any instance.
    const numbers = many.filter((r) => r.granted).map((r) => r.position);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(Math.max(...numbers)).toBeLessThanOrEqual(100);
    // Each instance may strand up to its lease (10) and one prefetched block (10).
    expect(granted).toBeGreaterThanOrEqual(100 - 4 * 20);
    // Once an instance has seen the window spent it stops writing.
    const before = (await db.collection('counterTest').doc('crowd:1000000').get()).get('count');
    await Promise.all(Array.from({ length: 20 }, () => instances[0]!.take('crowd', window, 100)));
    expect((await db.collection('counterTest').doc('crowd:1000000').get()).get('count')).toBe(before);
  });

  it('a limit of zero refuses without writing; a new window starts afresh', async () => {
    const c = counter({ collection: 'counterTest' });
    expect((await c.take('zero', { start: 0, end: 60_000 }, 0)).granted).toBe(false);
    expect((await db.collection('counterTest').doc('zero:0').get()).exists).toBe(false);
    expect((await c.take('w', { start: 0, end: 60_000 }, 1)).granted).toBe(true);
    expect((await c.take('w', { start: 0, end: 60_000 }, 1)).granted).toBe(false);
    expect((await c.take('w', { start: 60_000, end: 120_000 }, 1)).granted).toBe(true);
  });

  it('is also what FirestoreRateLimitStore reports to express-rate-limit', async () => {
    const s = new FirestoreRateLimitStore({ db, limitFor: () => 2, collection: 'storeTest' });
    closables.push({ close: () => s.shutdown() });
    s.init({ windowMs: 60_000 } as never);
    const hits = [await s.increment('t'), await s.increment('t'), await s.increment('t')];
    // Unless a minute boundary intervened: 1, 2, then over the limit (3).
    if (hits[0]!.resetTime!.getTime() === hits[2]!.resetTime!.getTime()) {
      expect(hits.map((h) => h.totalHits)).toEqual([1, 2, 3]);
    }
  });

  it('close() waits for the prefetch nobody awaits, then leases no more', async () => {
    const window = { start: 2_000_000, end: 2_060_000 };
    // Blocks of 4 out of 40: the third token leaves one, which starts the next block's lease.
    const c = new LeasedWindowCounter(db, { collection: 'counterTest', leaseFraction: 0.1, maxLease: 10 });
    for (let i = 1; i <= 3; i++) expect((await c.take('drain', window, 40)).position).toBe(i);
    await c.close();
    // The prefetched block is written: close() returned after its transaction, not before.
    expect((await db.collection('counterTest').doc('drain:2000000').get()).get('count')).toBe(8);
    await expect(c.take('drain', window, 40)).rejects.toThrow('the counter is closed');
  });

  it('a take() backing off after a failed lease leases nothing once close() has returned', async () => {
    // A client whose first lease transaction fails (contention) and that counts every later one:
    // after close() the real client is terminated, and a lease would read from it.
    let transactions = 0;
    let closing: Promise<void> | undefined;
    const flaky = new Proxy(db, {
      get(target, prop) {
        if (prop === 'runTransaction') {
          return (...args: Parameters<typeof db.runTransaction>) => {
            transactions += 1;
            if (transactions > 1) return target.runTransaction(...args);
            // The shutdown begins while the failed lease sends take() into its backoff.
            closing = c.close();
            return Promise.reject(new Error('10 ABORTED: Too much contention on these documents.'));
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const c = new LeasedWindowCounter(flaky, { collection: 'counterTest' });
    const taking = c.take('closing', { start: 3_000_000, end: 3_060_000 }, 40);
    await expect(taking).rejects.toThrow('the counter is closed');
    await closing;
    expect(transactions).toBe(1);
    expect((await db.collection('counterTest').doc('closing:3000000').get()).exists).toBe(false);
  });
});
