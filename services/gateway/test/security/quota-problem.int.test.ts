// API4 / API6: a refused job says which quota stopped it, its limit and when it resets, as
// RFC 9457 extension members a client can act on without parsing the detail.
import request from 'supertest';
import { problemTypeUri } from '@aiprod/contracts';
import { BRIEF, type Harness } from '../harness';
import { closeSecureSuite, type LocalIdp, PROBLEM_JSON, startSecureSuite } from './fixtures';

let h: Harness;
let idp: LocalIdp;

beforeAll(async () => {
  ({ h, idp } = await startSecureSuite('sec-quota'));
}, 60_000);

afterAll(() => closeSecureSuite({ h, idp }));

it('names the quota, its limit and its reset time in a 429 problem, and the problem fields stay the standard ones', async () => {
  await h.tenants.createTenant({ tenantId: h.tenantA, name: 'A', maxConcurrentJobs: 1 });
  const first = await request(h.app).post('/v1/jobs').set('Authorization', `Bearer ${h.keys.write}`).send(BRIEF);
  expect(first.status).toBe(202);
  const second = await request(h.app).post('/v1/jobs').set('Authorization', `Bearer ${h.keys.write}`).send(BRIEF);
  expect(second.status).toBe(429);
  expect(second.headers['content-type']).toMatch(PROBLEM_JSON);
  expect(second.headers['retry-after']).toMatch(/^\d+$/);
  expect(second.body).toEqual(
    expect.objectContaining({
      type: problemTypeUri('quota_exceeded'),
      status: 429,
      quota: 'concurrent_jobs',
      limit: 1,
      resetsAt: null,
    }),
  );

  await h.tenants.createTenant({ tenantId: h.tenantB, name: 'B', maxJobsPerDay: 0 });
  const day = await request(h.app).post('/v1/jobs').set('Authorization', `Bearer ${h.keys.other}`).send(BRIEF);
  expect(day.status).toBe(429);
  expect(day.body).toEqual(expect.objectContaining({ quota: 'jobs_per_day', limit: 0, status: 429 }));
  const resetsAt = new Date(day.body.resetsAt as string);
  // The next UTC midnight.
  expect(resetsAt.getTime()).toBeGreaterThan(Date.now());
  expect(resetsAt.toISOString()).toMatch(/T00:00:00\.000Z$/);
});
