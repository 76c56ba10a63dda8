import request from 'supertest';
import { IdempotencyStore } from '@aiprod/job-store';
import type { Publisher } from '@aiprod/pubsub';
import { idempotent } from '../src/idempotency';
import { BRIEF, startHarness, type Harness } from './harness';

/** Pub/Sub refusing every publish, as during an outage: the job can be stored, not queued. */
let publishes = 0;
const unavailablePublisher = {
  publish: async () => {
    publishes++;
    throw new Error('14 UNAVAILABLE: pubsub is down');
  },
} as unknown as Publisher<'gateway'>;

let h: Harness;
beforeAll(async () => {
  h = await startHarness('gateway-idem-create', {
    deps: ({ db }) => ({
      publisher: unavailablePublisher,
      idempotency: idempotent(new IdempotencyStore(db)),
    }),
  });
}, 30_000);
afterAll(() => h?.close());

const create = (key: string) =>
  request(h.app)
    .post('/v1/jobs')
    .set('Authorization', `Bearer ${h.keys.readWrite}`)
    .set('Idempotency-Key', key)
    .send({ ...BRIEF, metadata: { campaign: key } });

async function jobsOfTenantA() {
  const page = await h.jobs.listJobsForTenant(h.tenantA, { limit: 50 });
  return page.jobs;
}

describe('POST /v1/jobs when the publish fails (fault 11)', () => {
  it('answers 202 with the stored job, and a retry with the same key names the same job: one job exists', async () => {
    const before = (await jobsOfTenantA()).length;
    const publishesBefore = publishes;
    const first = await create('publish-fails');
    expect(publishes).toBeGreaterThan(publishesBefore);
    expect(first.status).toBe(202);
    expect(first.body.status).toBe('QUEUED');
    const retry = await create('publish-fails');
    expect(retry.status).toBe(202);
    expect(retry.body.id).toBe(first.body.id);
    expect(retry.headers.location).toBe(`/v1/jobs/${first.body.id as string}`);

    const jobs = await jobsOfTenantA();
    expect(jobs).toHaveLength(before + 1);
    // Left QUEUED with a deadline: the planner's QUEUED sweep plans it.
    const stored = await h.jobs.getJob(first.body.id as string);
    expect(stored?.status).toBe('QUEUED');
    expect(stored?.deadlineAt).toBeDefined();
  });

  it('a retry whose first attempt lost its idempotency record still finds the first job', async () => {
    const before = (await jobsOfTenantA()).length;
    const first = await create('record-lost');
    expect(first.status).toBe(202);
    // As if the first gateway died after storing the job, before the key's record was written
    // (its lock then expires and a retry takes the key over).
    const records = await h.db.collection('idempotency').where('key', '==', 'record-lost').get();
    expect(records.size).toBe(1);
    await records.docs[0]!.ref.delete();

    const retry = await create('record-lost');
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.body.id).toBe(first.body.id);
    expect(await jobsOfTenantA()).toHaveLength(before + 1);
  });

  it('another key, or another tenant with the same key, is another job', async () => {
    const a = await create('distinct-1');
    const b = await create('distinct-2');
    const other = await request(h.app)
      .post('/v1/jobs')
      .set('Authorization', `Bearer ${h.keys.other}`)
      .set('Idempotency-Key', 'distinct-1')
      .send({ ...BRIEF, metadata: { campaign: 'distinct-1' } });
    expect(new Set([a.body.id, b.body.id, other.body.id]).size).toBe(3);
    expect(other.status).toBe(202);
  });
});

describe('POST /v1/jobs with an Idempotency-Key: one commit for the job and the answer', () => {
  it("stores the key's answer in the job's own commit, and a retry replays exactly it", async () => {
    const first = await create('same-commit');
    expect(first.status).toBe(202);
    const id = first.body.id as string;
    const records = await h.db.collection('idempotency').where('key', '==', 'same-commit').get();
    expect(records.size).toBe(1);
    const record = records.docs[0]!;
    expect(record.data()).toMatchObject({
      state: 'completed',
      jobId: id,
      response: { status: 202, body: first.text, headers: { location: `/v1/jobs/${id}` } },
    });
    const job = await h.db.collection('jobs').doc(id).get();
    expect(job.createTime!.isEqual(record.updateTime)).toBe(true);

    const retry = await create('same-commit');
    expect({ status: retry.status, replayed: retry.headers['idempotent-replayed'], text: retry.text }).toEqual({
      status: 202,
      replayed: 'true',
      text: first.text,
    });
    expect(retry.headers['content-type']).toBe(first.headers['content-type']);
    expect(retry.headers.location).toBe(first.headers.location);
  });
});
