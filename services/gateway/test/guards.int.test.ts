import request from 'supertest';
import { problemTypeUri } from '@aiprod/contracts';
import { IdempotencyStore } from '@aiprod/job-store';
import { idempotent } from '../src/idempotency';
import { enforceJobQuotas, JobQuotas } from '../src/quotas';
import { tenantRateLimit } from '../src/rate-limit';
import { BRIEF, startHarness, type Harness } from './harness';
import { SpecChecker } from './spec-checker';

/** The abuse controls are mounted where they belong: checked through the real routes. */
let h: Harness;
const spec = new SpecChecker();
const MAX_CONCURRENT = 3;
const PER_MINUTE = 40;

beforeAll(async () => {
  h = await startHarness('gateway-guards', {
    deps: ({ db, tenants }) => ({
      idempotency: idempotent(new IdempotencyStore(db)),
      jobQuotas: enforceJobQuotas(
        new JobQuotas({
          db,
          defaults: { maxConcurrentJobs: MAX_CONCURRENT, maxJobsPerDay: 1000, monthlySpendCapUsd: null },
          concurrentCacheMs: 0,
        }),
      ),
      rateLimit: tenantRateLimit({ db, tenants, defaultRequestsPerMinute: PER_MINUTE }),
    }),
  });
  // Tenant settings win over the defaults: A gets a small request rate, B a small job quota.
  await h.tenants.createTenant({ tenantId: h.tenantA, name: 'A', requestsPerMinute: PER_MINUTE });
  await h.tenants.createTenant({ tenantId: h.tenantB, name: 'B', maxConcurrentJobs: MAX_CONCURRENT });
}, 30_000);
afterAll(async () => {
  await h?.close();
});

async function post(url: string, key: string, body?: unknown, idempotencyKey?: string) {
  let r = request(h.app).post(url).set('Authorization', `Bearer ${key}`);
  if (idempotencyKey) r = r.set('Idempotency-Key', idempotencyKey);
  const res = body === undefined ? await r : await r.send(body as object);
  spec.check('post', url, res);
  return res;
}

it('replays POST /v1/jobs with the same Idempotency-Key and body, and refuses another body (422)', async () => {
  const first = await post('/v1/jobs', h.keys.readWrite, BRIEF, 'create-1');
  expect(first.status).toBe(202);
  const again = await post('/v1/jobs', h.keys.readWrite, BRIEF, 'create-1');
  expect(again.status).toBe(202);
  expect(again.headers['idempotent-replayed']).toBe('true');
  expect((again.body as { id: string }).id).toBe((first.body as { id: string }).id);
  const other = await post('/v1/jobs', h.keys.readWrite, { ...BRIEF, product: 'Other' }, 'create-1');
  expect(other.status).toBe(422);
  expect((other.body as { type: string }).type).toBe(problemTypeUri('idempotency_mismatch' as never));
  // One job, not two.
  expect((await h.jobs.listJobsForTenant(h.tenantA, { limit: 10 })).jobs).toHaveLength(1);
  const id = (first.body as { id: string }).id;
  const canceled = await post(`/v1/jobs/${id}/cancel`, h.keys.readWrite, undefined, 'cancel-1');
  const replayed = await post(`/v1/jobs/${id}/cancel`, h.keys.readWrite, undefined, 'cancel-1');
  expect([canceled.status, replayed.status]).toEqual([200, 200]);
  expect(replayed.headers['idempotent-replayed']).toBe('true');
});

it('refuses a job over the concurrent-jobs quota with 429, after the brief is validated', async () => {
  // A bad brief is a 400 and uses no quota.
  expect((await post('/v1/jobs', h.keys.other, { ...BRIEF, extra: 1 })).status).toBe(400);
  const statuses: number[] = [];
  for (let i = 0; i < MAX_CONCURRENT + 1; i++) statuses.push((await post('/v1/jobs', h.keys.other, BRIEF)).status);
  expect(statuses).toEqual([...Array<number>(MAX_CONCURRENT).fill(202), 429]);
});

it('limits requests per tenant per minute with 429 and Retry-After, leaving other tenants alone', async () => {
  let limited: request.Response | undefined;
  for (let i = 0; i < PER_MINUTE + 5 && !limited; i++) {
    const res = await request(h.app).get('/v1/presets').set('Authorization', `Bearer ${h.keys.read}`);
    if (res.status === 429) limited = res;
  }
  expect(limited).toBeDefined();
  spec.check('get', '/v1/presets', limited!);
  expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
  const other = await request(h.app).get('/v1/presets').set('Authorization', `Bearer ${h.keys.other}`);
  expect(other.status).toBe(200);
});

it('documented every answer', () => {
  expect(spec.failures).toEqual([]);
});
