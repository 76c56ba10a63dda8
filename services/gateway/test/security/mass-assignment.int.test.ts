// API3 (broken object property level authorization): a client cannot set what the server owns
// (status, tenant, cost, ids, approvals, outputs) through the brief, the webhook body or the query
// string; every such field is refused by name, and nothing is stored. The response side (no
// internal field leaks out) is the OpenAPI response check in test/api.int.test.ts (closed schemas).
import request from 'supertest';
import { problemTypeUri } from '@aiprod/contracts';
import type { Harness } from '../harness';
import { BRIEF } from '../harness';
import { closeSecureSuite, type LocalIdp, PROBLEM_JSON, startSecureSuite } from './fixtures';

let h: Harness;
let idp: LocalIdp;

beforeAll(async () => {
  ({ h, idp } = await startSecureSuite('sec-mass'));
}, 60_000);

afterAll(() => closeSecureSuite({ h, idp }));

const SERVER_OWNED = {
  status: 'DELIVERED',
  tenantId: 'tenant-b',
  costUsd: 0,
  spentUsd: 0,
  jobId: 'job_chosen_by_client',
  id: 'job_chosen_by_client',
  createdAt: '2020-01-01T00:00:00Z',
  approvedBy: 'key:aiprod_live_x',
  outputs: [],
  autoApprove: true,
};

const fieldErrors = (res: request.Response) => {
  expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
  expect(res.body.type).toBe(problemTypeUri('validation'));
  return (res.body as { errors: { field: string; rule: string }[] }).errors;
};

it('refuses every server-owned field in a brief, top level and nested, on jobs and estimates, by name', async () => {
  const before = (await h.jobs.listJobsForTenant(h.tenantA, { limit: 100 })).jobs.length;
  for (const [field, value] of Object.entries(SERVER_OWNED)) {
    for (const path of ['/v1/jobs', '/v1/estimates']) {
      const res = await request(h.app)
        .post(path)
        .set('Authorization', `Bearer ${h.keys.admin}`)
        .send({ ...BRIEF, [field]: value });
      expect([path, field, res.status]).toEqual([path, field, 400]);
      expect(fieldErrors(res)).toContainEqual(
        expect.objectContaining({ field: `/${field}`, rule: 'additionalProperties' }),
      );
    }
    const nested = await request(h.app)
      .post('/v1/jobs')
      .set('Authorization', `Bearer ${h.keys.admin}`)
      .send({ ...BRIEF, brand: { ...BRIEF.brand, [field]: value } });
    expect(fieldErrors(nested)).toContainEqual(
      expect.objectContaining({ field: `/brand/${field}`, rule: 'additionalProperties' }),
    );
  }
  // Several at once are all named.
  const all = await request(h.app)
    .post('/v1/jobs')
    .set('Authorization', `Bearer ${h.keys.admin}`)
    .send({ ...BRIEF, ...SERVER_OWNED });
  expect(
    fieldErrors(all)
      .map((e) => e.field)
      .sort(),
  ).toEqual(
    Object.keys(SERVER_OWNED)
      .map((f) => `/${f}`)
      .sort(),
  );
  expect((await h.jobs.listJobsForTenant(h.tenantA, { limit: 100 })).jobs.length).toBe(before);
});

it('stores a job for the caller, QUEUED, with an id of ours, whatever the client would like', async () => {
  const res = await request(h.app).post('/v1/jobs').set('Authorization', `Bearer ${h.keys.admin}`).send(BRIEF);
  expect(res.status).toBe(202);
  const job = (await h.jobs.getJob(res.body.id as string))!;
  expect(job.tenantId).toBe(h.tenantA);
  expect(job.status).toBe('QUEUED');
  expect(job.jobId).toMatch(/^job_[0-9a-f]{24}$/);
});

it('refuses server-owned fields in the webhook body and unknown query parameters, by name', async () => {
  for (const field of ['secret', 'secrets', 'tenantId', 'disabledAt', 'previousSecretExpiresAt']) {
    const res = await request(h.app)
      .put('/v1/webhook')
      .set('Authorization', `Bearer ${h.keys.admin}`)
      .send({ url: 'https://hooks.example.com/x', [field]: 'mine' });
    expect([field, res.status]).toEqual([field, 400]);
    expect(fieldErrors(res)).toContainEqual(
      expect.objectContaining({ field: `/${field}`, rule: 'additionalProperties' }),
    );
  }
  expect(await h.webhooks.getEndpoint(h.tenantA)).toBeNull();
  for (const query of [
    'tenantId=tenant-b',
    'limit=100000',
    'limit=-1',
    'status=NOT_A_STATUS',
    'orderBy=cost',
    'limit=1&limit=2',
  ]) {
    const res = await request(h.app).get(`/v1/jobs?${query}`).set('Authorization', `Bearer ${h.keys.admin}`);
    expect([query, res.status]).toEqual([query, 400]);
    for (const e of fieldErrors(res)) expect(e.field).toMatch(/^\/query/);
  }
});
