import request from 'supertest';
import { Timestamp } from '@google-cloud/firestore';
import { problemTypeUri, type Brief } from '@aiprod/contracts';
import {
  apiKeyPrefix,
  AssetStore,
  AuditTrail,
  EstimateStore,
  pendingShot,
  PlanStore,
  WebhookStore,
} from '@aiprod/job-store';
import { estimateBrief } from '@aiprod/planning';
import { aPng, aShotSpec, memoryLog, waitFor } from '@aiprod/testing';
import { signWebhook, verifyWebhook } from '@aiprod/webhooks';
import { buildGateway } from '../src/app';
import { BRIEF, jobIn, startHarness, type Harness } from './harness';
import { SpecChecker } from './spec-checker';

let h: Harness;
const spec = new SpecChecker();

beforeAll(async () => {
  // With the audit trail, so GET /v1/audit answers real records (checked against its schema).
  h = await startHarness('gateway-api', { deps: ({ db }) => ({ audit: new AuditTrail(db) }) });
}, 30_000);
afterAll(async () => {
  await h?.close();
});

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
async function call(
  method: Method,
  url: string,
  opts: { key?: string; body?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> } = {},
) {
  let r = request(h.app)[method](url);
  if (opts.key) r = r.set('Authorization', `Bearer ${opts.key}`);
  for (const [k, v] of Object.entries(opts.headers ?? {})) r = r.set(k, v);
  if (opts.raw !== undefined) r = r.set('Content-Type', opts.contentType ?? 'application/json').send(opts.raw);
  else if (opts.body !== undefined) r = r.send(opts.body as object);
  const res = await r;
  spec.check(method, url, res);
  return res;
}

async function createJob(key = h.keys.readWrite, brief: unknown = BRIEF): Promise<string> {
  const res = await call('post', '/v1/jobs', { key, body: brief });
  expect(res.status).toBe(202);
  return (res.body as { id: string }).id;
}

const problemOf = (res: request.Response) => {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.body as { type: string; status: number; errors?: { field: string; rule: string }[] };
};

describe('public routes', () => {
  it('answers health, readiness and the OpenAPI document without credentials', async () => {
    expect((await call('get', '/healthz')).status).toBe(200);
    expect((await call('get', '/readyz')).status).toBe(200);
    const doc = await call('get', '/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect((doc.body as { openapi: string }).openapi).toBe('3.1.0');
  });

  it('serves the API reference and the problem pages a problem type resolves to, without credentials', async () => {
    expect((await call('get', '/docs')).status).toBe(200);
    expect((await call('get', '/docs/redoc.standalone.js')).status).toBe(200);
    expect((await call('get', '/problems')).status).toBe(200);
    const refused = await call('get', '/v1/jobs');
    const page = await call('get', problemOf(refused).type);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Authentication is required.');
    expect((await call('get', '/problems/no-such-type')).status).toBe(404);
  });

  it('reports 503 on /readyz while not ready', async () => {
    const draining = buildGateway({ ...hDeps(), isReady: () => false });
    const res = await request(draining).get('/readyz');
    spec.check('get', '/readyz', res);
    expect(res.status).toBe(503);
  });

  it('sends no CORS header unless an allow-list is configured, then only to listed origins', async () => {
    const res = await call('get', '/v1/jobs', { key: h.keys.read, headers: { Origin: 'https://evil.example' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const withCors = buildGateway({ ...hDeps(), corsAllowedOrigins: ['https://app.example.com'] });
    const allowed = await request(withCors).get('/healthz').set('Origin', 'https://app.example.com');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const refused = await request(withCors).get('/healthz').set('Origin', 'https://evil.example');
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sets helmet headers and a request id', async () => {
    const res = await call('get', '/healthz');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

function hDeps() {
  return {
    log: memoryLog().log,
    jobs: h.jobs,
    plans: new PlanStore(h.db),
    assets: new AssetStore(h.db),
    tenants: h.tenants,
    webhooks: h.webhooks,
    publisher: { publish: () => Promise.resolve('x'), close: () => Promise.resolve() } as never,
    storage: h.storage,
    outputUrlTtlSeconds: 3600,
    isReady: () => true,
  };
}

describe('authentication and scopes', () => {
  const routes: [Method, string][] = [
    ['post', '/v1/jobs'],
    ['get', '/v1/jobs'],
    ['get', '/v1/jobs/job_x'],
    ['post', '/v1/jobs/job_x/cancel'],
    ['post', '/v1/jobs/job_x/approve'],
    ['get', '/v1/jobs/job_x/plan'],
    ['patch', '/v1/jobs/job_x/plan'],
    ['post', '/v1/jobs/job_x/plan/changes'],
    ['get', '/v1/jobs/job_x/events'],
    ['get', '/v1/jobs/job_x/outputs'],
    ['get', '/v1/jobs/job_x/costs'],
    ['post', '/v1/estimates'],
    ['get', '/v1/presets'],
    ['get', '/v1/webhook'],
    ['put', '/v1/webhook'],
    ['delete', '/v1/webhook'],
    ['get', '/v1/no-such-route'],
  ];
  it.each(routes)('%s %s without a key is 401 problem+json', async (method, url) => {
    const res = await request(h.app)[method](url);
    expect(res.status).toBe(401);
    expect(problemOf(res).type).toBe(problemTypeUri('unauthenticated'));
  });

  it('refuses each write with a read-only key and each read with a write-only key (403)', async () => {
    const jobId = await jobIn(h, 'QUEUED');
    for (const [method, url] of [
      ['post', '/v1/jobs'],
      ['post', `/v1/jobs/${jobId}/cancel`],
      ['post', `/v1/jobs/${jobId}/approve`],
      ['patch', `/v1/jobs/${jobId}/plan`],
      ['post', `/v1/jobs/${jobId}/plan/changes`],
      ['put', '/v1/webhook'],
    ] as [Method, string][]) {
      const res = await call(method, url, {
        key: h.keys.read,
        body: method === 'put' ? { url: 'https://hooks.example.com/' } : BRIEF,
      });
      expect([method, url, res.status]).toEqual([method, url, 403]);
      expect(problemOf(res).type).toBe(problemTypeUri('forbidden'));
    }
    for (const url of [
      '/v1/jobs',
      `/v1/jobs/${jobId}`,
      `/v1/jobs/${jobId}/events`,
      `/v1/jobs/${jobId}/outputs`,
      '/v1/presets',
    ]) {
      expect([url, (await call('get', url, { key: h.keys.write })).status]).toEqual([url, 403]);
    }
    expect((await call('post', '/v1/estimates', { key: h.keys.write, body: BRIEF })).status).toBe(403);
    // Approval has its own scope: a key that submits jobs cannot approve their spend.
    const approve = await call('post', `/v1/jobs/${jobId}/approve`, {
      key: h.keys.readWrite,
      headers: { 'If-Match': '"1"' },
    });
    expect(approve.status).toBe(403);
    // The webhook needs admin: a jobs:write key cannot redirect the tenant's notifications.
    expect((await call('get', '/v1/webhook', { key: h.keys.readWrite })).status).toBe(403);
    expect((await call('delete', '/v1/webhook', { key: h.keys.readWrite })).status).toBe(403);
    // And the job is untouched.
    expect((await h.jobs.getJob(jobId))!.status).toBe('QUEUED');
  });

  it("answers 404 for another tenant's job on every job route, exactly as for a missing one", async () => {
    const delivered = await jobIn(h, 'DELIVERED', h.tenantA);
    const waiting = await jobIn(h, 'AWAITING_APPROVAL', h.tenantA);
    for (const [method, url] of [
      ['get', `/v1/jobs/${delivered}`],
      ['get', `/v1/jobs/${delivered}/events`],
      ['get', `/v1/jobs/${delivered}/outputs`],
      ['post', `/v1/jobs/${waiting}/approve`],
      ['get', `/v1/jobs/${waiting}/plan`],
      ['patch', `/v1/jobs/${waiting}/plan`],
      ['post', `/v1/jobs/${waiting}/plan/changes`],
      ['post', `/v1/jobs/${waiting}/cancel`],
    ] as [Method, string][]) {
      const crossed = await call(method, url, { key: h.keys.other });
      const missing = await call(method, url.replace(/job_[a-z_0-9]+/, 'job_missing'), { key: h.keys.other });
      expect([url, crossed.status]).toEqual([url, 404]);
      expect(problemOf(crossed).type).toBe(problemTypeUri('not_found'));
      expect(crossed.body.detail.replace(/job_\w+/, 'ID')).toBe(missing.body.detail.replace(/job_\w+/, 'ID'));
    }
    expect((await h.jobs.getJob(waiting))!.status).toBe('AWAITING_APPROVAL');
    const list = await call('get', '/v1/jobs?limit=100', { key: h.keys.other });
    expect((list.body as { jobs: { id: string }[] }).jobs.map((j) => j.id)).not.toContain(delivered);
  });
});

describe('POST /v1/jobs', () => {
  it('creates a QUEUED job, points at it and asks the planner for a plan', async () => {
    const res = await call('post', '/v1/jobs', { key: h.keys.readWrite, body: BRIEF });
    expect(res.status).toBe(202);
    const job = res.body as { id: string; status: string; brief: typeof BRIEF };
    expect(res.headers.location).toBe(`/v1/jobs/${job.id}`);
    expect(job.status).toBe('QUEUED');
    expect(job.brief.metadata).toEqual({ campaign: 'spring-26' });
    const requested = await waitFor(() => h.published('aiprod.job.requested.v1').find((m) => m.jobId === job.id), {
      timeoutMs: 10_000,
      what: 'job.requested',
    });
    expect(requested).toEqual({ v: 1, jobId: job.id, tenantId: h.tenantA });
  });

  it('stores strings in Unicode NFC and counts limits after normalising', async () => {
    const decomposed = 'Cafe\u0301 Aurora'; // e + combining acute
    const id = await createJob(h.keys.readWrite, { ...BRIEF, product: decomposed, tone: 'e\u0301'.repeat(100) });
    const stored = await h.jobs.getJob(id);
    expect(stored!.brief.product).toBe('Café Aurora');
    expect(stored!.brief.product).toBe(decomposed.normalize('NFC'));
    // 200 code units as typed, 100 after NFC: within tone's 100.
    expect(stored!.brief.tone).toHaveLength(100);
  });

  const rejections: [string, unknown, string, string][] = [
    ['an unknown field', { ...BRIEF, extra: 1 }, '/extra', 'additionalProperties'],
    ['an unknown nested field', { ...BRIEF, brand: { name: 'A', font: 'x' } }, '/brand/font', 'additionalProperties'],
    ['a missing field', { ...BRIEF, product: undefined }, '/product', 'required'],
    ['a control character', { ...BRIEF, product: 'Aurora\u0007' }, '/product', 'pattern'],
    ['a newline', { ...BRIEF, keyMessage: 'Run\nbrighter' }, '/keyMessage', 'pattern'],
    ['a bidi override', { ...BRIEF, callToAction: 'Run \u202Ebrighter' }, '/callToAction', 'pattern'],
    ['a control character in metadata', { ...BRIEF, metadata: { a: 'x\u0000' } }, '/metadata/a', 'pattern'],
    ['a metadata key with a newline', { ...BRIEF, metadata: { 'a\nb': 'x' } }, '/metadata', 'propertyNames'],
    ['an overlong string', { ...BRIEF, product: 'x'.repeat(201) }, '/product', 'maxLength'],
    [
      'too many aspect ratios',
      { ...BRIEF, aspectRatios: ['16:9', '9:16', '1:1', '4:5', '16:9'] },
      '/aspectRatios',
      'maxItems',
    ],
    ['a duration out of range', { ...BRIEF, durationSeconds: 61 }, '/durationSeconds', 'maximum'],
    ['a wrong type', { ...BRIEF, voiceOver: 'yes' }, '/voiceOver', 'type'],
    [
      'a non-http logo URL',
      { ...BRIEF, brand: { name: 'A', logoUrl: 'file:///etc/passwd' } },
      '/brand/logoUrl',
      'pattern',
    ],
    ['a prototype-pollution key', JSON.parse('{"__proto__":{"polluted":true}}'), '/__proto__', 'additionalProperties'],
    [
      'deep nesting',
      { ...BRIEF, metadata: JSON.parse('{"a":'.repeat(50) + '1' + '}'.repeat(50)) },
      '/metadata/a/a/a/a/a/a/a',
      'maxDepth',
    ],
    ['an array body', [BRIEF], '', 'type'],
  ];
  it.each(rejections)('refuses %s, naming the field and the rule', async (_what, body, field, rule) => {
    const res = await call('post', '/v1/jobs', { key: h.keys.readWrite, body });
    expect(res.status).toBe(400);
    const problem = problemOf(res);
    expect(problem.type).toBe(problemTypeUri('validation'));
    expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses bodies that are not JSON, too large or malformed', async () => {
    const text = await call('post', '/v1/jobs', { key: h.keys.readWrite, raw: 'product=x', contentType: 'text/plain' });
    expect(text.status).toBe(415);
    const big = await call('post', '/v1/jobs', {
      key: h.keys.readWrite,
      raw: JSON.stringify({ ...BRIEF, product: 'x'.repeat(70 * 1024) }),
    });
    expect(big.status).toBe(413);
    const broken = await call('post', '/v1/jobs', { key: h.keys.readWrite, raw: '{"product": ' });
    expect(broken.status).toBe(400);
    expect(problemOf(broken).type).toBe(problemTypeUri('validation'));
  });
});

describe('GET /v1/jobs', () => {
  it("pages through the tenant's jobs newest first with an opaque cursor, filtered by status", async () => {
    const fresh = await startHarness('gateway-list');
    try {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        const jobId = `job_list${i}`;
        await fresh.jobs.createJob({ jobId, tenantId: fresh.tenantA, brief: BRIEF as Brief, preset: 'social_quick' });
        made.push(jobId);
      }
      await fresh.jobs.createJob({
        jobId: 'job_listB',
        tenantId: fresh.tenantB,
        brief: BRIEF as Brief,
        preset: 'social_quick',
      });
      await fresh.jobs.transition('job_list1', 'QUEUED', 'CANCELED');
      await fresh.jobs.transition('job_list3', 'QUEUED', 'CANCELED');
      const get = async (url: string) => {
        const res = await request(fresh.app).get(url).set('Authorization', `Bearer ${fresh.keys.read}`);
        spec.check('get', url, res);
        return res;
      };
      const seen: string[] = [];
      let url = '/v1/jobs?limit=2';
      for (let page = 0; page < 5; page++) {
        const res = await get(url);
        expect(res.status).toBe(200);
        const body = res.body as { jobs: { id: string }[]; nextCursor: string | null };
        seen.push(...body.jobs.map((j) => j.id));
        if (!body.nextCursor) break;
        url = `/v1/jobs?limit=2&cursor=${encodeURIComponent(body.nextCursor)}`;
      }
      expect(seen).toEqual([...made].reverse());
      const canceled = await get('/v1/jobs?status=CANCELED&limit=1');
      const c1 = canceled.body as { jobs: { id: string; status: string }[]; nextCursor: string };
      expect(c1.jobs.map((j) => j.id)).toEqual(['job_list3']);
      const c2 = await get(`/v1/jobs?status=CANCELED&limit=1&cursor=${encodeURIComponent(c1.nextCursor)}`);
      expect((c2.body as { jobs: { id: string }[] }).jobs.map((j) => j.id)).toEqual(['job_list1']);
      // A cursor is bound to its filter, and must be one we made.
      const crossed = await get(`/v1/jobs?limit=1&cursor=${encodeURIComponent(c1.nextCursor)}`);
      expect(crossed.status).toBe(400);
      expect(problemOf(crossed).errors).toEqual([expect.objectContaining({ field: '/query/cursor' })]);
      expect((await get('/v1/jobs?cursor=not-a-cursor')).status).toBe(400);
    } finally {
      await fresh.close();
    }
  });

  it.each([
    ['limit=0', '/query/limit'],
    ['limit=101', '/query/limit'],
    ['limit=ten', '/query/limit'],
    ['status=DONE', '/query/status'],
    ['sort=asc', '/query/sort'],
  ])('refuses ?%s naming the parameter', async (query, field) => {
    const res = await call('get', `/v1/jobs?${query}`, { key: h.keys.read });
    expect(res.status).toBe(400);
    expect(problemOf(res).errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  });
});

describe('GET /v1/jobs/{id}', () => {
  it('returns the job with its timeline; a malformed id is a 404', async () => {
    const id = await createJob();
    const res = await call('get', `/v1/jobs/${id}`, { key: h.keys.read });
    expect(res.status).toBe(200);
    expect((res.body as { events: { type: string }[] }).events.map((e) => e.type)).toEqual(['job.created']);
    expect((await call('get', '/v1/jobs/..%2Fetc', { key: h.keys.read })).status).toBe(404);
  });
});

describe('POST /v1/jobs/{id}/cancel', () => {
  it('cancels a running job once, records who, tells the workers, and is harmless to repeat', async () => {
    const id = await jobIn(h, 'RENDERING');
    const first = await call('post', `/v1/jobs/${id}/cancel`, { key: h.keys.readWrite });
    expect(first.status).toBe(200);
    expect((first.body as { status: string }).status).toBe('CANCELED');
    const again = await call('post', `/v1/jobs/${id}/cancel`, { key: h.keys.readWrite });
    expect(again.status).toBe(200);
    expect((again.body as { status: string }).status).toBe('CANCELED');
    const canceledEvents = (await h.jobs.listEvents(id)).filter((e) => e.type === 'job.canceled');
    expect(canceledEvents).toHaveLength(1);
    expect(canceledEvents[0]!.data).toEqual(
      expect.objectContaining({ from: 'RENDERING', status: 'CANCELED', by: `key:${apiKeyPrefix(h.keys.readWrite)}` }),
    );
    const finished = await waitFor(() => h.published('aiprod.job.finished.v1').find((m) => m.jobId === id), {
      timeoutMs: 10_000,
      what: 'job.finished',
    });
    expect(finished).toEqual({ v: 1, jobId: id, tenantId: h.tenantA, status: 'CANCELED' });
  });

  it.each(['DELIVERED', 'FAILED'] as const)('refuses to cancel a %s job (409)', async (status) => {
    const id = await jobIn(h, status);
    const res = await call('post', `/v1/jobs/${id}/cancel`, { key: h.keys.readWrite });
    expect(res.status).toBe(409);
    expect(problemOf(res).type).toBe(problemTypeUri('conflict'));
    expect((await h.jobs.getJob(id))!.status).toBe(status);
  });
});

describe('DELETE /v1/jobs/{id}', () => {
  // The erasure itself is tested in erase-job.int.test.ts; here its answers meet the document.
  it('answers the tombstone, then 410 on the job and the tombstone in the list', async () => {
    const id = await jobIn(h, 'DELIVERED');
    const erased = await call('delete', `/v1/jobs/${id}`, { key: h.keys.readWrite });
    expect(erased.status).toBe(200);
    expect((await call('delete', `/v1/jobs/${id}`, { key: h.keys.readWrite })).body).toEqual(erased.body);
    const gone = await call('get', `/v1/jobs/${id}`, { key: h.keys.readWrite });
    expect(gone.status).toBe(410);
    expect(problemOf(gone).type).toBe(problemTypeUri('gone'));
    expect((await call('get', `/v1/jobs/${id}/outputs`, { key: h.keys.readWrite })).status).toBe(410);
    const list = await call('get', '/v1/jobs?limit=100', { key: h.keys.read });
    expect((list.body as { jobs: { id: string }[] }).jobs.find((j) => j.id === id)).toEqual(erased.body);
    expect((await call('delete', '/v1/jobs/job_none', { key: h.keys.readWrite })).status).toBe(404);
  });
});

describe('POST /v1/jobs/{id}/approve', () => {
  it('releases a job awaiting approval, naming the approver and the plan version', async () => {
    const id = await jobIn(h, 'AWAITING_APPROVAL');
    const res = await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, headers: { 'If-Match': '"1"' } });
    expect(res.status).toBe(202);
    const approved = await waitFor(() => h.published('aiprod.job.approved.v1').find((m) => m.jobId === id), {
      timeoutMs: 10_000,
      what: 'job.approved',
    });
    expect(approved).toEqual({
      v: 1,
      jobId: id,
      tenantId: h.tenantA,
      approver: `key:${apiKeyPrefix(h.keys.approver)}`,
      planVersion: 1,
    });
  });

  it('refuses a job that is not awaiting approval (409)', async () => {
    const id = await jobIn(h, 'QUEUED');
    const res = await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, headers: { 'If-Match': '"1"' } });
    expect(res.status).toBe(409);
  });
});

describe('POST /v1/jobs/{id}/review-link and the review page', () => {
  it('makes a link to the review page; a bad expiry or a foreign job is refused', async () => {
    const jobId = await jobIn(h, 'AWAITING_APPROVAL');
    const made = await call('post', `/v1/jobs/${jobId}/review-link`, {
      key: h.keys.read,
      body: { expiresInHours: 24 },
    });
    expect(made.status).toBe(201);
    expect(made.body.url).toMatch(new RegExp(`/review/${jobId}#t=rvw\\.`));
    expect(
      (await call('post', `/v1/jobs/${jobId}/review-link`, { key: h.keys.read, body: { expiresInHours: 0 } })).status,
    ).toBe(400);
    const foreign = await jobIn(h, 'AWAITING_APPROVAL', h.tenantB);
    expect((await call('post', `/v1/jobs/${foreign}/review-link`, { key: h.keys.read, body: {} })).status).toBe(404);
    const page = await call('get', `/review/${jobId}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('/review-assets/review.js');
  });
});

// The storyboard routes in full are in plan.int.test.ts; here each answers once well and once not,
// so this run's check of the document covers them.
describe('the plan routes, once each way', () => {
  it('reads, edits and asks for changes to a plan waiting for approval', async () => {
    const id = await jobIn(h, 'AWAITING_APPROVAL');
    expect((await call('get', `/v1/jobs/${id}/plan`, { key: h.keys.read })).status).toBe(200);
    expect((await call('get', '/v1/jobs/job_missing/plan', { key: h.keys.read })).status).toBe(404);
    const edit = { shots: [{ id: 's01', camera: 'static' }] };
    expect((await call('patch', `/v1/jobs/${id}/plan`, { key: h.keys.readWrite, body: edit })).status).toBe(428);
    const patched = await call('patch', `/v1/jobs/${id}/plan`, {
      key: h.keys.readWrite,
      body: edit,
      headers: { 'If-Match': '"1"' },
    });
    expect(patched.status).toBe(200);
    const changes = `/v1/jobs/${id}/plan/changes`;
    expect((await call('post', changes, { key: h.keys.readWrite, body: { notes: '' } })).status).toBe(400);
    expect((await call('post', changes, { key: h.keys.readWrite, body: { notes: 'warmer light' } })).status).toBe(202);
  });
});

describe('GET /v1/jobs/{id}/outputs', () => {
  it('signs the delivered files for ?ttl= seconds (default 1 h, at most 7 days) and the links work', async () => {
    const id = await jobIn(h, 'DELIVERED');
    const before = Date.now();
    const res = await call('get', `/v1/jobs/${id}/outputs`, { key: h.keys.read });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('private, no-store');
    const body = res.body as { outputs: { url: string; urlExpiresAt: string }[]; expiresAt: string };
    const ttlMs = Date.parse(body.expiresAt) - before;
    expect(ttlMs).toBeGreaterThan(3590_000);
    expect(ttlMs).toBeLessThan(3610_000);
    const week = await call('get', `/v1/jobs/${id}/outputs?ttl=604800`, { key: h.keys.read });
    expect(week.status).toBe(200);
    expect(Date.parse((week.body as { expiresAt: string }).expiresAt) - before).toBeGreaterThan(604790_000);
    const link = new URL(body.outputs[0]!.url);
    const download = await call('get', `${link.pathname}${link.search}`);
    expect(download.status).toBe(200);
    expect(download.body).toEqual(Buffer.from('mp4'));
    const forged = await call('get', `${link.pathname}${link.search.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'))}`);
    expect(forged.status).toBe(403);
  });

  it.each(['604801', '0', 'abc', '3600&ttl=60'])('refuses ?ttl=%s (400)', async (ttl) => {
    const id = await jobIn(h, 'DELIVERED');
    const res = await call('get', `/v1/jobs/${id}/outputs?ttl=${ttl}`, { key: h.keys.read });
    expect(res.status).toBe(400);
    expect(problemOf(res).errors?.[0]?.field).toBe('/query/ttl');
  });

  it('answers 409 while the job is not delivered', async () => {
    const id = await jobIn(h, 'RENDERING');
    expect((await call('get', `/v1/jobs/${id}/outputs`, { key: h.keys.read })).status).toBe(409);
  });

  it('answers 410 Gone once retention has deleted the outputs', async () => {
    const id = await jobIn(h, 'DELIVERED');
    expect((await call('get', `/v1/jobs/${id}/outputs`, { key: h.keys.read })).status).toBe(200);
    const expiredAt = new Date('2027-01-02T03:04:05Z');
    await h.jobs.jobs.doc(id).update({ outputsExpiredAt: Timestamp.fromDate(expiredAt) });
    const res = await call('get', `/v1/jobs/${id}/outputs`, { key: h.keys.read });
    expect(res.status).toBe(410);
    expect(problemOf(res)).toMatchObject({ type: problemTypeUri('gone'), expiredAt: expiredAt.toISOString() });
    // The job itself no longer links files that are gone.
    const view = (await call('get', `/v1/jobs/${id}`, { key: h.keys.read })).body as {
      outputs: unknown[];
      stills: unknown;
    };
    expect({ outputs: view.outputs, stills: view.stills }).toEqual({ outputs: [], stills: null });
  });

  it('links no QA evidence frame once retention has deleted the working copies', async () => {
    const id = await jobIn(h, 'DELIVERED');
    const shot = h.jobs.jobs.doc(id).collection('shots').doc('s01');
    await shot.set(pendingShot(id, aShotSpec({ shotId: 's01' }), 'local', Timestamp.now()));
    const evidenceOf = async () =>
      (
        (await call('get', `/v1/jobs/${id}`, { key: h.keys.read })).body as {
          shots: { qa: { evidence: string[] } | null }[];
        }
      ).shots.flatMap((s) => s.qa?.evidence ?? []);
    await shot.update({
      qa: {
        attempt: 1,
        verdict: 'pass',
        checks: [],
        evidence: [h.storage.uri(`tenants/${h.tenantA}/jobs/${id}/shots/s01/attempt-1-qa/frame-1.jpg`)],
      },
    });
    expect(await evidenceOf()).toHaveLength(1);
    await h.jobs.jobs.doc(id).update({ 'retention.intermediatesDeletedAt': Timestamp.now() });
    expect(await evidenceOf()).toEqual([]);
  });
});

describe('GET /v1/jobs/{id}/costs', () => {
  // Veo's task id is an operation name with the Google project: it must never reach a client.
  const veoTask = 'projects/aiprod-prod-4711/locations/us-central1/publishers/google/models/veo-3.1/operations/op-1';
  const runwayTask = 'projects/aiprod-prod-4711/tasks/rw-9';

  /** A job planned within a cap, rendering, with lines in the ledger as the render pools write them. */
  async function jobWithLedger(): Promise<string> {
    const jobId = `job_costs_${Math.random().toString(36).slice(2, 10)}`;
    await h.jobs.createJob({ jobId, tenantId: h.tenantA, brief: BRIEF as Brief, preset: 'premium_spot' });
    await h.jobs.transition(jobId, 'QUEUED', 'PLANNING');
    await h.jobs.savePlan(
      jobId,
      {
        director: 'local',
        shotIds: ['s01', 's02'],
        width: 1080,
        height: 1920,
        fps: 24,
        endCardSeconds: 2,
        estimatedCostUsd: 2.5,
        estimate: {
          priceTableVersion: 'test',
          currency: 'USD',
          firstPassUsd: 2,
          totalUsd: 2.5,
          worstCaseUsd: 9,
          budgetCapUsd: 10,
          shots: [],
          notes: [],
        },
      },
      [],
      'RENDERING',
    );
    // An older line: no seconds, charged or taskRef; its id was made from Veo's task id.
    await h.jobs.addCost(jobId, `s01-a1-veo-${veoTask}`, 1.2, {
      shotId: 's01',
      attempt: 1,
      backend: 'veo',
      model: 'veo-3.1-fast-generate-001',
      outcome: 'failed',
      vendorTaskId: veoTask,
      errorClass: 'transient',
    });
    await h.jobs.addCost(jobId, 's01-a1-runway-0123456789abcdef', 0.6, {
      shotId: 's01',
      attempt: 1,
      backend: 'runway',
      model: 'gen4.5',
      outcome: 'succeeded',
      seconds: 5,
      charged: true,
      taskRef: '0123456789abcdef',
      vendorTaskId: runwayTask,
    });
    await h.jobs.addCost(jobId, 's02-a1-local-cache_hit', 0, {
      shotId: 's02',
      attempt: 1,
      backend: 'local',
      model: 'animatic-1',
      outcome: 'cache_hit',
      seconds: 0,
      charged: false,
    });
    return jobId;
  }

  it('answers the ledger oldest first with its total, the cap, and no vendor task id', async () => {
    const id = await jobWithLedger();
    const res = await call('get', `/v1/jobs/${id}/costs`, { key: h.keys.read });
    expect(res.status).toBe(200);
    const body = res.body as {
      totalUsd: number;
      lines: { line: string; at: string; task: string | null }[];
    } & Record<string, unknown>;
    expect(body).toMatchObject({ jobId: id, currency: 'USD', budgetCapUsd: 10 });
    // 1.2 + 0.6 is 1.7999999999999998 in floating point: the total is rounded to a millionth.
    expect(body.totalUsd).toBe(1.8);
    expect((await h.jobs.getJob(id))!.costUsd).toBeCloseTo(body.totalUsd, 6);
    expect(body.lines.map(({ line: _line, at: _at, ...rest }) => rest)).toEqual([
      {
        shotId: 's01',
        attempt: 1,
        backend: 'veo',
        model: 'veo-3.1-fast-generate-001',
        outcome: 'failed',
        seconds: null,
        charged: true,
        amountUsd: 1.2,
        task: null,
      },
      {
        shotId: 's01',
        attempt: 1,
        backend: 'runway',
        model: 'gen4.5',
        outcome: 'succeeded',
        seconds: 5,
        charged: true,
        amountUsd: 0.6,
        task: '0123456789abcdef',
      },
      {
        shotId: 's02',
        attempt: 1,
        backend: 'local',
        model: 'animatic-1',
        outcome: 'cache_hit',
        seconds: 0,
        charged: false,
        amountUsd: 0,
        task: null,
      },
    ]);
    expect(body.lines.map((l) => l.line)).toEqual([
      expect.stringMatching(/^s01-a1-veo-[0-9a-f]{16}$/),
      's01-a1-runway-0123456789abcdef',
      's02-a1-local-cache_hit',
    ]);
    expect(body.lines.map((l) => Date.parse(l.at)).sort((a, b) => a - b)).toEqual(
      body.lines.map((l) => Date.parse(l.at)),
    );
    // Neither the raw task ids nor the project in them, in any form, nor the internal fields.
    expect(res.text).not.toMatch(/aiprod-prod-4711|operations|vendorTaskId|errorClass|rw-9/);
  });

  it('answers an empty ledger and no cap for a job not yet planned', async () => {
    const id = await jobIn(h, 'QUEUED');
    const res = await call('get', `/v1/jobs/${id}/costs`, { key: h.keys.read });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ jobId: id, currency: 'USD', totalUsd: 0, budgetCapUsd: null, lines: [] });
  });

  it("answers another tenant's job as a missing one: 404 problem+json", async () => {
    const id = await jobWithLedger();
    const crossed = await call('get', `/v1/jobs/${id}/costs`, { key: h.keys.other });
    expect(crossed.status).toBe(404);
    expect(problemOf(crossed).type).toBe(problemTypeUri('not_found'));
    expect(crossed.text).not.toMatch(/amountUsd|veo/);
    expect((await call('get', '/v1/jobs/job_nothere/costs', { key: h.keys.read })).status).toBe(404);
    expect((await call('get', `/v1/jobs/${id}/costs`, { key: h.keys.write })).status).toBe(403);
  });
});

describe('GET /v1/jobs/{id}/events on a finished job', () => {
  it('replays the timeline as Server-Sent Events and ends the stream', async () => {
    const id = await jobIn(h, 'DELIVERED');
    const res = await call('get', `/v1/jobs/${id}/events`, { key: h.keys.read });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const ids = [...res.text.matchAll(/^id: (.+)$/gm)].map((m) => m[1]);
    const events = await h.jobs.listEvents(id);
    expect(ids).toEqual(events.map((e) => e.id));
    expect(res.text).toMatch(/event: job\.status\ndata: \{.*"status":"DELIVERED"/);
    const bad = await call('get', `/v1/jobs/${id}/events`, { key: h.keys.read, headers: { 'Last-Event-ID': 'x y' } });
    expect(bad.status).toBe(400);
  });
});

describe('estimates', () => {
  it('answers with the estimate the planner writes on the record; another tenant cannot read it', async () => {
    // The test plays the planner (services/planner answers for real; test/estimates runs both).
    const estimates = new EstimateStore(h.db);
    const quote = estimateBrief(BRIEF as Brief) as unknown as Record<string, unknown>;
    const seen = h.published('aiprod.estimate.requested.v1').length;
    const planner = waitFor(() => h.published('aiprod.estimate.requested.v1')[seen] as { jobId: string } | undefined, {
      timeoutMs: 10_000,
      what: 'the estimate request',
    }).then((msg) => estimates.answer(msg.jobId, { status: 'READY', estimate: quote }).then(() => msg.jobId));
    const res = await call('post', '/v1/estimates', { key: h.keys.read, body: BRIEF });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(quote);
    const id = await planner;
    expect((await call('get', `/v1/estimates/${id}`, { key: h.keys.read })).body).toEqual(quote);
    expect((await call('get', `/v1/estimates/${id}`, { key: h.keys.other })).status).toBe(404);
  });
});

describe('presets', () => {
  // Estimates: services/gateway/test/estimates.int.test.ts (the gateway's side) and the planner's
  // tests (the pricing itself, which the planner does).
  it('refuses a brief longer than its preset, and gives a brief without one the preset that fits', async () => {
    const long = await call('post', '/v1/jobs', {
      key: h.keys.write,
      body: { ...BRIEF, durationSeconds: 30, preset: 'social_quick' },
    });
    expect(long.status).toBe(400);
    expect(problemOf(long).errors).toEqual([
      { field: '/durationSeconds', rule: 'presetMaximum', message: 'must be at most 15 s for the social_quick preset' },
    ]);
    // Without a preset, a 30 s brief gets the one that fits, stored explicitly.
    const fits = await call('post', '/v1/jobs', {
      key: h.keys.write,
      body: { ...BRIEF, durationSeconds: 30, preset: undefined },
    });
    expect(fits.status).toBe(202);
    const stored = await h.jobs.getJob((fits.body as { id: string }).id);
    expect({ preset: stored!.preset, brief: stored!.brief.preset }).toEqual({
      preset: 'brand_campaign',
      brief: 'brand_campaign',
    });
  });

  it('lists the presets', async () => {
    const res = await call('get', '/v1/presets', { key: h.keys.read });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain('social_quick');
  });
});

describe('the webhook endpoint', () => {
  it('is created with a secret shown once, and a second PUT rotates with both secrets valid', async () => {
    expect((await call('get', '/v1/webhook', { key: h.keys.admin })).status).toBe(404);
    const created = await call('put', '/v1/webhook', {
      key: h.keys.admin,
      body: { url: 'https://hooks.example.com/aiprod' },
    });
    expect(created.status).toBe(201);
    const first = (created.body as { secret: string }).secret;
    expect(first).toMatch(/^whsec_/);
    const shown = await call('get', '/v1/webhook', { key: h.keys.admin });
    expect(shown.body).toEqual(expect.objectContaining({ url: 'https://hooks.example.com/aiprod', secretsActive: 1 }));
    expect(JSON.stringify(shown.body)).not.toContain('whsec_');

    const rotated = await call('put', '/v1/webhook', {
      key: h.keys.admin,
      body: { url: 'https://hooks.example.com/aiprod' },
    });
    expect(rotated.status).toBe(200);
    const second = (rotated.body as { secret: string; secretsActive: number }).secret;
    expect(second).not.toBe(first);
    expect((rotated.body as { secretsActive: number }).secretsActive).toBe(2);
    // What delivery signs with now verifies under the old secret and the new one.
    const stored = (await h.webhooks.getEndpoint(h.tenantA))!;
    const signing = WebhookStore.signingSecrets(stored);
    expect(signing).toEqual([second, first]);
    const body = '{"type":"job.delivered"}';
    const headers = signWebhook({ id: 'msg_1', timestamp: Math.floor(Date.now() / 1000), body, secrets: signing });
    expect(verifyWebhook({ headers, body, secret: first }).ok).toBe(true);
    expect(verifyWebhook({ headers, body, secret: second }).ok).toBe(true);

    expect((await call('delete', '/v1/webhook', { key: h.keys.admin })).status).toBe(204);
    const after = await call('get', '/v1/webhook', { key: h.keys.admin });
    expect((after.body as { disabled: boolean }).disabled).toBe(true);
    expect((await call('delete', '/v1/webhook', { key: h.keys.other })).status).toBe(404);
  });

  it.each([
    ['http://hooks.example.com/x', 'https_required'],
    ['https://internal.example.com/x', 'private_address'],
    ['https://169.254.169.254/latest/meta-data', 'link_local_address'],
    ['https://metadata.google.internal/', 'metadata_host'],
    ['https://2130706433/', 'loopback_address'],
    ['https://[fd00::1]/', 'private_address'],
    ['http://127.0.0.1:9/', 'https_required'],
    ['https://user:pw@hooks.example.com/', 'credentials_in_url'],
    ['not a url', 'invalid_url'],
  ])('refuses %s (%s)', async (url, rule) => {
    const res = await call('put', '/v1/webhook', { key: h.keys.other, body: { url } });
    expect(res.status).toBe(400);
    expect(problemOf(res).errors).toEqual([expect.objectContaining({ field: '/url', rule })]);
  });

  it('accepts plain http to loopback only in local mode', async () => {
    const local = buildGateway({ ...hDeps(), allowLoopbackHttp: true });
    const res = await request(local)
      .put('/v1/webhook')
      .set('Authorization', `Bearer ${h.keys.other}`)
      .send({ url: 'http://127.0.0.1:9/hook' });
    spec.check('put', '/v1/webhook', res);
    expect([200, 201]).toContain(res.status);
  });

  it('refuses unknown fields in the body', async () => {
    const res = await call('put', '/v1/webhook', {
      key: h.keys.other,
      body: { url: 'https://hooks.example.com/', secret: 'mine' },
    });
    expect(res.status).toBe(400);
    expect(problemOf(res).errors).toEqual([
      expect.objectContaining({ field: '/secret', rule: 'additionalProperties' }),
    ]);
  });
});

describe('the asset routes, once each way (test/assets.int.test.ts has the rest)', () => {
  it('uploads a reference image and reads it back; another tenant cannot', async () => {
    const res = await request(h.app)
      .post('/v1/assets')
      .set('Authorization', `Bearer ${h.keys.readWrite}`)
      .set('Content-Type', 'image/png')
      .send(aPng(16, 9));
    spec.check('post', '/v1/assets', res);
    expect(res.status).toBe(201);
    const url = `/v1/assets/${(res.body as { assetId: string }).assetId}`;
    expect((await call('get', url, { key: h.keys.read })).body).toMatchObject({ width: 16, height: 9 });
    expect((await call('get', url, { key: h.keys.other })).status).toBe(404);
    const refused = await request(h.app)
      .post('/v1/assets')
      .set('Authorization', `Bearer ${h.keys.readWrite}`)
      .set('Content-Type', 'image/png')
      .send(Buffer.from('not a png'));
    spec.check('post', '/v1/assets', refused);
    expect(refused.status).toBe(422);
  });
});

describe('the access log', () => {
  it('is an audit trail (who, what, which job) that never holds a key, a secret or a signed link', async () => {
    const id = await jobIn(h, 'DELIVERED');
    await call('get', `/v1/jobs/${id}/outputs`, { key: h.keys.read });
    const line = h.logLines.find(
      (l) => l.message === 'request' && l.meta?.route === '/v1/jobs/:id/outputs' && l.meta?.jobId === id,
    );
    expect(line?.meta).toEqual(
      expect.objectContaining({
        method: 'GET',
        tenantId: h.tenantA,
        keyPrefix: apiKeyPrefix(h.keys.read),
        jobId: id,
        status: 200,
      }),
    );
    const text = JSON.stringify(h.logLines);
    for (const key of Object.values(h.keys)) expect(text).not.toContain(key);
    expect(text).not.toMatch(/whsec_|sig=|signature=|expires=|\/files\/tenants/i);
  });
});

describe('GET /v1/audit', () => {
  it("answers the tenant's requests to an admin key, 403 to others, 400 to a bad query", async () => {
    const jobId = await jobIn(h, 'QUEUED');
    await call('get', `/v1/jobs/${jobId}`, { key: h.keys.read });
    await h.deps.audit!.flush();
    const res = await call('get', `/v1/audit?jobId=${jobId}`, { key: h.keys.admin });
    expect(res.status).toBe(200);
    expect(res.body.events).toEqual([
      expect.objectContaining({ jobId, route: '/v1/jobs/:id', status: 200, scope: 'jobs:read' }),
    ]);
    expect(res.body.nextCursor).toBeNull();
    expect((await call('get', '/v1/audit', { key: h.keys.read })).status).toBe(403);
    expect((await call('get', '/v1/audit?limit=0', { key: h.keys.admin })).status).toBe(400);
    expect((await call('get', '/v1/audit?since=yesterday', { key: h.keys.admin })).status).toBe(400);
  });
});

describe('the OpenAPI document against this run', () => {
  it('documented every status and body the routes answered with', () => {
    expect(spec.failures).toEqual([]);
  });

  it('saw every authenticated operation succeed and fail', () => {
    const missing: string[] = [];
    for (const [path, methods] of Object.entries(spec.doc.paths)) {
      for (const [method, op] of Object.entries(methods as Record<string, { security: unknown[] }>)) {
        const classes = op.security.length === 0 ? ['2xx'] : ['2xx', '4xx'];
        for (const c of classes) if (!spec.seen.has(`${method} ${path} ${c}`)) missing.push(`${method} ${path} ${c}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
