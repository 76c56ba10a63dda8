import { aBrief, emulatorProject } from '@aiprod/testing';
import { IdempotencyStore, type IdempotencyRecord, type StoredResponse } from '../src';

// JobStore.createJobOnce with the key's answer in the job's own commit (POST /v1/jobs with an
// Idempotency-Key): one commit, and never over another attempt's claim.
const env = emulatorProject('jobstore-create-idem', 'planner');
const { db, jobs } = env;
const keys = new IdempotencyStore(db);
afterAll(() => env.close());

const brief = aBrief();
const answer = (jobId: string): StoredResponse => ({
  status: 202,
  headers: { 'content-type': 'application/json; charset=utf-8', location: `/v1/jobs/${jobId}` },
  body: JSON.stringify({ id: jobId }),
});
const recordOf = async (key: string) => {
  const snap = await db.collection('idempotency').where('tenantId', '==', 't1').where('key', '==', key).get();
  expect(snap.size).toBe(1);
  return { data: snap.docs[0]!.data() as IdempotencyRecord & { jobId?: string }, updateTime: snap.docs[0]!.updateTime };
};

describe('createJobOnce with an idempotency completion', () => {
  it("stores the job and the key's answer in one commit, and a repeat finds the job without writing", async () => {
    const begun = await keys.begin('t1', 'one-commit', 'h1');
    if (begun.kind !== 'started') throw new Error(begun.kind);
    const jobId = `job_onecommit${Date.now()}`;
    const made = await jobs.createJobOnce(
      { jobId, tenantId: 't1', brief, preset: 'social_quick' },
      {
        idempotency: async (job) => ({
          tenantId: 't1',
          key: 'one-commit',
          lease: begun.lease,
          response: answer(job.jobId),
          jobId: job.jobId,
        }),
      },
    );
    expect(made.created).toBe(true);
    const record = await recordOf('one-commit');
    expect(record.data).toMatchObject({ state: 'completed', lockedUntil: null, response: answer(jobId), jobId });
    expect(made.recorded).toBe(true);
    // The same commit: the job's creation and the record's update carry one commit time.
    const jobSnap = await db.collection('jobs').doc(jobId).get();
    expect(jobSnap.createTime!.isEqual(record.updateTime)).toBe(true);
    // A retry replays it.
    expect(await keys.begin('t1', 'one-commit', 'h1')).toEqual({ kind: 'replay', response: answer(jobId) });

    // A repeat with the same job id (its first attempt's record lost): found, nothing written.
    const again = await keys.begin('t1', 'one-commit-2', 'h1');
    if (again.kind !== 'started') throw new Error(again.kind);
    const repeat = await jobs.createJobOnce(
      { jobId, tenantId: 't1', brief, preset: 'social_quick' },
      {
        idempotency: async (job) => ({
          tenantId: 't1',
          key: 'one-commit-2',
          lease: again.lease,
          response: answer(job.jobId),
        }),
      },
    );
    expect({ created: repeat.created, recorded: repeat.recorded, jobId: repeat.job.jobId }).toEqual({
      created: false,
      recorded: undefined,
      jobId,
    });
    expect((await recordOf('one-commit-2')).data.state).toBe('in_flight');
  });

  it("an attempt whose claim was taken over still creates its job, and leaves the winner's record alone", async () => {
    const begun = await keys.begin('t1', 'taken-over', 'h1');
    if (begun.kind !== 'started') throw new Error(begun.kind);
    // Another attempt takes the key over (as after an expired lock) and completes it first.
    const ref = (await recordOf('taken-over')).data;
    const snap = await db.collection('idempotency').where('key', '==', 'taken-over').get();
    await snap.docs[0]!.ref.update({ state: 'completed', lockedUntil: null, response: answer('job_winner') });
    const jobId = `job_takenover${Date.now()}`;
    const made = await jobs.createJobOnce(
      { jobId, tenantId: 't1', brief, preset: 'social_quick' },
      {
        idempotency: async (job) => ({
          tenantId: 't1',
          key: 'taken-over',
          lease: begun.lease,
          response: answer(job.jobId),
          jobId: job.jobId,
        }),
      },
    );
    expect({ created: made.created, recorded: made.recorded }).toEqual({ created: true, recorded: undefined });
    expect((await jobs.getJob(jobId))?.status).toBe('QUEUED');
    const after = (await recordOf('taken-over')).data;
    expect({ response: after.response, jobId: after.jobId, requestHash: after.requestHash }).toEqual({
      response: answer('job_winner'),
      jobId: undefined,
      requestHash: ref.requestHash,
    });
  });
});
