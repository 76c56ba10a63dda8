// API1 (broken object level authorization): another tenant's job is indistinguishable from a job
// that does not exist, on every job route of the served document, with a key and with a token;
// per-tenant resources (webhook, job list, idempotency keys) never cross either.
import request from 'supertest';
import { aPng } from '@aiprod/testing';
import type { Harness } from '../harness';
import { BRIEF } from '../harness';
import {
  authenticatedOperations,
  closeSecureSuite,
  type DocumentedOperation,
  jobIn,
  type LocalIdp,
  PROBLEM_JSON,
  send,
  startSecureSuite,
} from './fixtures';

let h: Harness;
let idp: LocalIdp;
let jobOps: DocumentedOperation[];

beforeAll(async () => {
  ({ h, idp } = await startSecureSuite('sec-tenant'));
  // Job routes here; an asset id is not a job id (its isolation is checked below).
  jobOps = (await authenticatedOperations(h.app)).filter((op) => op.path.startsWith('/v1/jobs/{id}'));
}, 60_000);

afterAll(() => closeSecureSuite({ h, idp }));

/** The body with what legitimately differs per request (request id, instance, the id echoed) taken out. */
const shape = (res: request.Response, id: string) => {
  const { requestId, instance, ...rest } = res.body as Record<string, unknown>;
  expect(typeof requestId).toBe('string');
  expect(typeof instance).toBe('string');
  return {
    status: res.status,
    contentType: res.headers['content-type'],
    body: JSON.stringify(rest).split(id).join('ID'),
  };
};

it('covers every job route of the document', () => {
  expect(jobOps.map((o) => `${o.method} ${o.path}`).sort()).toEqual(
    expect.arrayContaining([
      'get /v1/jobs/{id}',
      'get /v1/jobs/{id}/events',
      'get /v1/jobs/{id}/outputs',
      'post /v1/jobs/{id}/approve',
      'get /v1/jobs/{id}/plan',
      'patch /v1/jobs/{id}/plan',
      'post /v1/jobs/{id}/plan/changes',
      'post /v1/jobs/{id}/cancel',
    ]),
  );
});

it("answers another tenant's job exactly as a missing one on every job route, with a key and a token", async () => {
  const token = `Bearer ${await idp.sign({ tenant: h.tenantB, scope: 'admin' })}`;
  for (const op of jobOps) {
    // A job of tenant A in a state where the operation would succeed for A.
    const state = op.method === 'post' ? 'AWAITING_APPROVAL' : 'DELIVERED';
    const theirs = await jobIn(h, state, h.tenantA);
    const missing = `job_${state.toLowerCase()}_nothere1`;
    for (const authorization of [`Bearer ${h.keys.other}`, token]) {
      const crossed = await send(h.app, op, theirs, authorization);
      const absent = await send(h.app, op, missing, authorization);
      expect([op.method, op.path, crossed.status]).toEqual([op.method, op.path, 404]);
      expect(crossed.headers['content-type']).toMatch(PROBLEM_JSON);
      expect(shape(crossed, theirs)).toEqual(shape(absent, missing));
    }
    // And tenant A's job is as it was.
    expect((await h.jobs.getJob(theirs))!.status).toBe(state);
  }
  // The control: the owner reaches the same routes.
  const mine = await jobIn(h, 'DELIVERED', h.tenantA);
  // The fixture's delivered job has no stored plan; a job waiting for approval has one.
  const planned = await jobIn(h, 'AWAITING_APPROVAL', h.tenantA);
  for (const op of jobOps.filter((o) => o.method === 'get')) {
    const id = op.path === '/v1/jobs/{id}/plan' ? planned : mine;
    expect([op.path, (await send(h.app, op, id, `Bearer ${h.keys.admin}`)).status]).toEqual([op.path, 200]);
  }
}, 120_000);

it("never lists, replays or reconfigures another tenant's resources", async () => {
  const authA = `Bearer ${h.keys.admin}`;
  const authB = `Bearer ${h.keys.other}`;
  // The job list.
  const created = await request(h.app).post('/v1/jobs').set('Authorization', authA).send(BRIEF);
  expect(created.status).toBe(202);
  const listB = await request(h.app).get('/v1/jobs?limit=100').set('Authorization', authB);
  expect((listB.body as { jobs: { id: string }[] }).jobs.map((j) => j.id)).not.toContain(created.body.id);
  // A tenant filter in the query is not a thing (the query schema is closed).
  const smuggled = await request(h.app).get(`/v1/jobs?tenantId=${h.tenantA}`).set('Authorization', authB);
  expect(smuggled.status).toBe(400);

  // Idempotency keys are per tenant: B reusing A's key gets its own job, not A's stored answer.
  const key = 'shared-key-0001';
  const a = await request(h.app).post('/v1/jobs').set('Authorization', authA).set('Idempotency-Key', key).send(BRIEF);
  const b = await request(h.app).post('/v1/jobs').set('Authorization', authB).set('Idempotency-Key', key).send(BRIEF);
  expect([a.status, b.status]).toEqual([202, 202]);
  expect(b.body.id).not.toBe(a.body.id);
  expect(b.headers['idempotent-replayed']).toBeUndefined();
  expect((await h.jobs.getJob(b.body.id as string))!.tenantId).toBe(h.tenantB);

  // The webhook endpoint.
  const put = await request(h.app)
    .put('/v1/webhook')
    .set('Authorization', authA)
    .send({ url: 'https://hooks.example.com/a' });
  expect(put.status).toBe(201);
  expect((await request(h.app).get('/v1/webhook').set('Authorization', authB)).status).toBe(404);
  expect((await request(h.app).delete('/v1/webhook').set('Authorization', authB)).status).toBe(404);
  const putB = await request(h.app)
    .put('/v1/webhook')
    .set('Authorization', authB)
    .send({ url: 'https://hooks.example.com/b' });
  expect(putB.status).toBe(201);
  const mine = await h.webhooks.getEndpoint(h.tenantA);
  expect(mine?.url).toBe('https://hooks.example.com/a');
  expect(mine?.disabledAt).toBeNull();
});

it("answers another tenant's uploaded asset exactly as a missing one", async () => {
  const uploaded = await request(h.app)
    .post('/v1/assets')
    .set('Authorization', `Bearer ${h.keys.readWrite}`)
    .set('Content-Type', 'image/png')
    .send(aPng(8, 8));
  expect(uploaded.status).toBe(201);
  const theirs = (uploaded.body as { assetId: string }).assetId;
  const missing = 'asset_000000000000000000000000';
  const read = (id: string) => request(h.app).get(`/v1/assets/${id}`).set('Authorization', `Bearer ${h.keys.other}`);
  const [crossed, absent] = [await read(theirs), await read(missing)];
  expect(crossed.status).toBe(404);
  expect(shape(crossed, theirs)).toEqual(shape(absent, missing));
  expect((await request(h.app).get(`/v1/assets/${theirs}`).set('Authorization', `Bearer ${h.keys.read}`)).status).toBe(
    200,
  );
});
