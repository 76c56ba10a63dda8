import request from 'supertest';
import { IdempotencyStore } from '@aiprod/job-store';
import { idempotent } from '../src/idempotency';
import { JobQuotas, enforceJobQuotas } from '../src/quotas';
import { BRIEF, startHarness, type Harness } from './harness';

// A keyed retry whose first attempt made the job but died before its answer was kept: the retry
// takes the key over and must find that job, not be counted (or refused) as a new one.

let h: Harness;
let quotas: ReturnType<typeof enforceJobQuotas>;
beforeAll(async () => {
  h = await startHarness('gateway-idem-quota', {
    deps: ({ db }) => {
      quotas = enforceJobQuotas(
        new JobQuotas({ db, defaults: { maxConcurrentJobs: 100, maxJobsPerDay: 1000, monthlySpendCapUsd: null } }),
      );
      return { idempotency: idempotent(new IdempotencyStore(db)), jobQuotas: quotas };
    },
  });
  // One unfinished job at a time, before the gateway has read (and cached) the tenant.
  await h.db.collection('tenants').doc(h.tenantA).update({ maxConcurrentJobs: 1 });
}, 30_000);
afterAll(async () => {
  await quotas?.close();
  await h?.close();
});

const create = (key: string) =>
  request(h.app)
    .post('/v1/jobs')
    .set('Authorization', `Bearer ${h.keys.readWrite}`)
    .set('Idempotency-Key', key)
    .send({ ...BRIEF, metadata: { campaign: key } });

it('a retry taking over the key of a job it already made answers that job, whatever the quotas say', async () => {
  const first = await create('made-then-died');
  expect(first.status).toBe(202);
  // The tenant is now at its one unfinished job. As if the first gateway's answer never reached
  // its record: the key is in flight, its lock run out, so the retry takes it over.
  const records = await h.db.collection('idempotency').where('key', '==', 'made-then-died').get();
  expect(records.size).toBe(1);
  await records.docs[0]!.ref.update({ state: 'in_flight', lockedUntil: new Date(0), response: null });

  const retry = await create('made-then-died');
  expect(retry.status).toBe(202);
  expect(retry.body.id).toBe(first.body.id);
  // And the retry's answer is kept: the next one replays it.
  expect((await create('made-then-died')).body.id).toBe(first.body.id);
  // The quota still holds for a new job.
  const other = await create('a-new-job');
  expect(other.status).toBe(429);
});
