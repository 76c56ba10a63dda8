import request from 'supertest';
import { problemTypeUri, type Brief } from '@aiprod/contracts';
import { EstimateStore, IdempotencyStore } from '@aiprod/job-store';
import type { Publisher } from '@aiprod/pubsub';
import { estimateBrief } from '@aiprod/planning';
import { waitFor } from '@aiprod/testing';
import { buildGateway } from '../src/app';
import { idempotent } from '../src/idempotency';
import { EstimateQuotas, enforceEstimateQuotas } from '../src/quotas';
import { PENDING_ESTIMATE_BOUND_MS } from '../src/routes/estimates';
import { BRIEF, startHarness, type Harness } from './harness';
import { SpecChecker } from './spec-checker';

/**
 * The gateway's side of an estimate: the record it writes, the request it publishes, and how it
 * waits for and shows the planner's answer. The test plays the planner by writing the answer on
 * the record, as the planner does; the planning itself is tested in services/planner, and both
 * together in test/estimates.
 */
let h: Harness;
let estimates: EstimateStore;
const spec = new SpecChecker();

beforeAll(async () => {
  h = await startHarness('gateway-estimates');
  estimates = new EstimateStore(h.db);
}, 30_000);
afterAll(async () => {
  await h?.close();
});

const requested = () => h.published('aiprod.estimate.requested.v1') as { jobId: string; tenantId: string }[];
const quoteOf = (brief: Brief) => estimateBrief(brief) as unknown as Record<string, unknown>;

async function post(app: Harness['app'], key: string, body: unknown, headers: Record<string, string> = {}) {
  let r = request(app).post('/v1/estimates').set('Authorization', `Bearer ${key}`);
  for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
  const res = await r.send(body as object);
  spec.check('post', '/v1/estimates', res);
  return res;
}
async function get(app: Harness['app'], key: string, url: string) {
  const res = await request(app).get(url).set('Authorization', `Bearer ${key}`);
  spec.check('get', url, res);
  return res;
}

/** Answers the next estimate request published after `seen` with `outcome`, as the planner would. */
async function answerNext(
  seen: number,
  outcome: (id: string) => Parameters<EstimateStore['answer']>[1],
): Promise<string> {
  const msg = await waitFor(() => requested()[seen], { timeoutMs: 10_000, what: 'an estimate request' });
  await estimates.answer(msg.jobId, outcome(msg.jobId));
  return msg.jobId;
}

describe('POST /v1/estimates', () => {
  it('stores the brief, asks the planner, and answers 200 with its estimate; no job is created', async () => {
    const before = (await h.jobs.listJobsForTenant(h.tenantA, { limit: 100 })).jobs.length;
    const seen = requested().length;
    const brief = { ...BRIEF, budgetCapUsd: 50, preset: undefined } as Brief;
    const quote = quoteOf(brief);
    const [res, id] = await Promise.all([
      post(h.app, h.keys.read, brief),
      answerNext(seen, () => ({ status: 'READY', estimate: quote })),
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(quote);
    expect(requested()[seen]).toEqual({ v: 1, jobId: id, tenantId: h.tenantA });
    const record = (await estimates.get(id))!;
    // The preset the job would get is decided here, as POST /v1/jobs decides it.
    expect(record).toMatchObject({ tenantId: h.tenantA, status: 'READY', preset: 'social_quick' });
    expect(record.brief).toMatchObject({ budgetCapUsd: 50, durationSeconds: BRIEF.durationSeconds });
    expect(record.expiresAt.toMillis() - record.createdAt.toMillis()).toBe(24 * 3600_000);
    expect((await h.jobs.listJobsForTenant(h.tenantA, { limit: 100 })).jobs.length).toBe(before);
  });

  it('refuses an invalid brief before asking anyone, and needs jobs:read', async () => {
    const seen = requested().length;
    const bad = await post(h.app, h.keys.read, { ...BRIEF, durationSeconds: 1 });
    expect(bad.status).toBe(400);
    expect((bad.body as { errors: unknown[] }).errors).toEqual([
      expect.objectContaining({ field: '/durationSeconds', rule: 'minimum' }),
    ]);
    expect((await post(h.app, h.keys.write, BRIEF)).status).toBe(403);
    await new Promise((r) => setTimeout(r, 300));
    expect(requested().length).toBe(seen);
  });

  it('answers 202 with Location when the planner is slow; GET shows it pending, then the estimate; other tenants get 404', async () => {
    const quick = buildGateway({ ...h.deps, estimateWaitMs: 200 });
    const seen = requested().length;
    const res = await post(quick, h.keys.read, BRIEF);
    expect(res.status).toBe(202);
    expect(res.headers['retry-after']).toBe('2');
    const id = (res.body as { estimateId: string }).estimateId;
    expect(res.headers.location).toBe(`/v1/estimates/${id}`);
    expect(res.body).toEqual({ estimateId: id, status: 'PENDING' });
    expect((await waitFor(() => requested()[seen], { timeoutMs: 10_000, what: 'the estimate request' })).jobId).toBe(
      id,
    );

    expect((await get(quick, h.keys.read, `/v1/estimates/${id}`)).status).toBe(202);
    const quote = quoteOf(BRIEF as Brief);
    await estimates.answer(id, { status: 'READY', estimate: quote });
    const ready = await get(quick, h.keys.read, `/v1/estimates/${id}`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual(quote);

    const foreign = await get(quick, h.keys.other, `/v1/estimates/${id}`);
    expect(foreign.status).toBe(404);
    expect((foreign.body as { type: string }).type).toBe(problemTypeUri('not_found'));
    expect((await get(quick, h.keys.read, '/v1/estimates/est_000000000000000000000000')).status).toBe(404);
    expect((await get(quick, h.keys.write, `/v1/estimates/${id}`)).status).toBe(403);
    await quick.close();
  });

  it('answers 422 estimate_failed with the planner’s reason, on POST and on GET', async () => {
    const seen = requested().length;
    const reason = 'gemini:gemini-2.5-flash director: the model’s safety filter blocked the brief (PROHIBITED_CONTENT)';
    const [res, id] = await Promise.all([
      post(h.app, h.keys.read, BRIEF),
      answerNext(seen, () => ({ status: 'FAILED', reason })),
    ]);
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: problemTypeUri('estimate_failed'), status: 422, detail: reason });
    expect((await get(h.app, h.keys.read, `/v1/estimates/${id}`)).body).toMatchObject({ detail: reason });
  });

  it('honours Idempotency-Key: a retry names the same estimate and replays its answer', async () => {
    const keyed = buildGateway({
      ...h.deps,
      estimateWaitMs: 200,
      idempotency: idempotent(new IdempotencyStore(h.db)),
    });
    const headers = { 'Idempotency-Key': `estimate-${Date.now()}` };
    const first = await post(keyed, h.keys.read, BRIEF, headers);
    expect(first.status).toBe(202);
    const again = await post(keyed, h.keys.read, BRIEF, headers);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    // Another tenant's request with the same key is its own estimate.
    const other = await post(keyed, h.keys.other, BRIEF, headers);
    expect((other.body as { estimateId: string }).estimateId).not.toBe(
      (first.body as { estimateId: string }).estimateId,
    );
    await keyed.close();
  });
});

/** The gateway's publisher, refusing every estimate request while `down` is set, as when Pub/Sub is unreachable. */
function unreachable(real: Publisher<'gateway'>, down: { now: boolean }): Publisher<'gateway'> {
  const publish = (topic: string, payload: unknown, options?: unknown) =>
    down.now && topic === 'aiprod.estimate.requested.v1'
      ? Promise.reject(new Error(`pubsub unavailable publishing ${topic}`))
      : (real.publish as (t: string, p: unknown, o?: unknown) => Promise<string>)(topic, payload, options);
  return Object.assign(Object.create(real) as Publisher<'gateway'>, { publish });
}

/** The estimate records made from a brief (its call to action is unique per test). */
async function recordsFor(brief: Brief) {
  const snap = await h.db.collection('estimates').where('brief.callToAction', '==', brief.callToAction).get();
  return snap.docs.map((d) => d.data() as { estimateId: string; status: string });
}
const uniqueBrief = (tag: string) => ({ ...BRIEF, callToAction: `${tag} ${Date.now()}` }) as Brief;

describe('an estimate nobody can answer', () => {
  it('is not left pending when its request cannot be published: 503 with Retry-After, and no record remains', async () => {
    const down = { now: true };
    const gw = buildGateway({ ...h.deps, publisher: unreachable(h.deps.publisher, down), estimateWaitMs: 200 });
    const brief = uniqueBrief('unpublished');
    const res = await post(gw, h.keys.read, brief);
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatchObject({ type: problemTypeUri('unavailable'), status: 503 });
    expect(await recordsFor(brief)).toEqual([]);
    await gw.close();
  });

  it('with an Idempotency-Key: the 503 is not stored, so the retry with the same key publishes and is answered', async () => {
    const down = { now: true };
    const gw = buildGateway({
      ...h.deps,
      publisher: unreachable(h.deps.publisher, down),
      estimateWaitMs: 200,
      idempotency: idempotent(new IdempotencyStore(h.db)),
    });
    const brief = uniqueBrief('keyed-unpublished');
    const headers = { 'Idempotency-Key': `estimate-down-${Date.now()}` };
    expect((await post(gw, h.keys.read, brief, headers)).status).toBe(503);
    expect(await recordsFor(brief)).toEqual([]);

    down.now = false;
    const seen = requested().length;
    const retry = await post(gw, h.keys.read, brief, headers);
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const id = (retry.body as { estimateId: string }).estimateId;
    expect(
      (await waitFor(
        () =>
          requested()
            .slice(seen)
            .find((m) => m.jobId === id),
        { timeoutMs: 10_000, what: "the retry's request" },
      ))!.jobId,
    ).toBe(id);
    expect(await recordsFor(brief)).toEqual([expect.objectContaining({ estimateId: id, status: 'PENDING' })]);
    await gw.close();
  });

  it(`answers a record pending for longer than ${PENDING_ESTIMATE_BOUND_MS / 60_000} minutes FAILED on GET, once and for good`, async () => {
    const stale = `est_${'5'.repeat(20)}${Date.now().toString(16).slice(-4)}`;
    const fresh = `est_${'6'.repeat(20)}${Date.now().toString(16).slice(-4)}`;
    const brief = { ...BRIEF, preset: undefined } as Brief;
    const then = new Date(Date.now() - PENDING_ESTIMATE_BOUND_MS - 1_000);
    await estimates.createOnce({ estimateId: stale, tenantId: h.tenantA, brief, preset: 'social_quick' }, then);
    await estimates.createOnce({ estimateId: fresh, tenantId: h.tenantA, brief, preset: 'social_quick' });

    const res = await get(h.app, h.keys.read, `/v1/estimates/${stale}`);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ type: problemTypeUri('estimate_failed') });
    expect((res.body as { detail: string }).detail).toContain(
      `not answered within ${PENDING_ESTIMATE_BOUND_MS / 60_000} minutes`,
    );
    expect(await estimates.get(stale)).toMatchObject({ status: 'FAILED' });
    // A late answer from the planner changes nothing: the client was told it failed.
    expect(await estimates.answer(stale, { status: 'READY', estimate: quoteOf(brief) })).toBe(false);
    expect((await get(h.app, h.keys.read, `/v1/estimates/${stale}`)).status).toBe(422);
    // Within the bound it is still pending.
    expect((await get(h.app, h.keys.read, `/v1/estimates/${fresh}`)).status).toBe(202);
  });
});

describe('the daily estimate quota', () => {
  it('refuses a tenant past its estimates per day with 429 quota_exceeded and Retry-After; other tenants are not affected', async () => {
    const tenantId = `tenant-est-quota-${Date.now()}`;
    await h.tenants.createTenant({ tenantId, name: 'Q', maxEstimatesPerDay: 2 });
    const key = (await h.tenants.createApiKey(tenantId, ['jobs:read'], 'test')).key;
    const quotas = new EstimateQuotas({ db: h.db, defaults: { maxEstimatesPerDay: 1000 } });
    const gw = buildGateway({ ...h.deps, estimateWaitMs: 0, estimateQuotas: enforceEstimateQuotas(quotas) });

    const seen = requested().length;
    expect((await post(gw, key, BRIEF)).status).toBe(202);
    expect((await post(gw, key, BRIEF)).status).toBe(202);
    // A brief that fails validation costs nothing.
    expect((await post(gw, key, { ...BRIEF, durationSeconds: 1 })).status).toBe(400);
    const refused = await post(gw, key, BRIEF);
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(24 * 3600);
    expect(refused.body).toMatchObject({
      type: problemTypeUri('quota_exceeded'),
      quota: 'estimates_per_day',
      limit: 2,
    });
    // The refused request asked the planner nothing.
    await new Promise((r) => setTimeout(r, 300));
    expect(
      requested()
        .slice(seen)
        .filter((m) => m.tenantId === tenantId),
    ).toHaveLength(2);
    // Tenant A has no limit of its own: the default applies, far from reached.
    expect((await post(gw, h.keys.read, BRIEF)).status).toBe(202);
    await gw.close();
  });

  it('counts across gateway instances in Firestore, and a limit of 0 refuses every estimate', async () => {
    const tenantId = `tenant-est-shared-${Date.now()}`;
    await h.tenants.createTenant({ tenantId, name: 'S', maxEstimatesPerDay: 3 });
    const key = (await h.tenants.createApiKey(tenantId, ['jobs:read'], 'test')).key;
    const instances = [0, 1].map(() =>
      buildGateway({
        ...h.deps,
        estimateWaitMs: 0,
        estimateQuotas: enforceEstimateQuotas(new EstimateQuotas({ db: h.db, defaults: { maxEstimatesPerDay: 1000 } })),
      }),
    );
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(instances[i % 2]!, key, BRIEF)).status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);

    const none = buildGateway({
      ...h.deps,
      estimateWaitMs: 0,
      estimateQuotas: enforceEstimateQuotas(new EstimateQuotas({ db: h.db, defaults: { maxEstimatesPerDay: 0 } })),
    });
    expect((await post(none, h.keys.other, BRIEF)).status).toBe(429);
    await Promise.all([...instances, none].map((g) => g.close()));
  });
});

it('every response above is the one the OpenAPI document describes', () => {
  expect(spec.failures).toEqual([]);
});
