import { Timestamp } from '@google-cloud/firestore';
import { aBrief, emulatorProject, startMetricsProbe, type MetricsProbe } from '@aiprod/testing';
import { afterCommit, runJobTransaction } from '../src';

/** The job funnel's metrics, recorded by the store once per committed change (real emulator). */
const env = emulatorProject('jobmetrics', 'planner');
const { db, jobs } = env;
let probe: MetricsProbe;
beforeAll(async () => {
  probe = await startMetricsProbe('job-store-test');
});
afterAll(async () => {
  await probe.stop();
  await env.close();
});

let n = 0;
const newJob = (preset = 'brand_campaign') =>
  jobs.createJob({ jobId: `jm${++n}${Date.now()}`, tenantId: 't1', brief: aBrief(), preset });
const transitions = (from: string, to: string, preset = 'brand_campaign') =>
  probe.value('aiprod_job_transitions_total', { from, to, preset });
const finished = (within: 'true' | 'false', status = 'DELIVERED', reason = 'none', preset = 'brand_campaign') =>
  probe.value('aiprod_jobs_finished_total', { preset, status, reason, within_deadline: within });

describe('job metrics', () => {
  it('counts a creation and a transition once, however often the transition is asked for', async () => {
    const created = await transitions('NONE', 'QUEUED');
    const moved = await transitions('QUEUED', 'PLANNING');
    const job = await newJob();
    expect(await transitions('NONE', 'QUEUED')).toBe(created + 1);
    // A redelivered message asks again: the second call changes nothing and counts nothing.
    expect((await jobs.transition(job.jobId, 'QUEUED', 'PLANNING')).changed).toBe(true);
    expect((await jobs.transition(job.jobId, 'QUEUED', 'PLANNING')).changed).toBe(false);
    expect(await transitions('QUEUED', 'PLANNING')).toBe(moved + 1);
    expect(
      await probe.value('aiprod_job_state_duration_seconds_count', { state: 'QUEUED', preset: 'brand_campaign' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('counts one transition when several workers race for it (only one commits)', async () => {
    const job = await newJob();
    const before = await transitions('QUEUED', 'FAILED');
    const results = await Promise.all(Array.from({ length: 4 }, () => jobs.transition(job.jobId, 'QUEUED', 'FAILED')));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    expect(await transitions('QUEUED', 'FAILED')).toBe(before + 1);
  });

  it("judges a delivered job against its preset's deadline, leaving out the wait for approval", async () => {
    const onTime = await finished('true');
    const late = await finished('false');
    // Created 3 h ago, of which 2.5 h waiting for the client: 30 min of production, under 60.
    const patient = await newJob();
    await db
      .collection('jobs')
      .doc(patient.jobId)
      .update({ createdAt: Timestamp.fromMillis(Date.now() - 3 * 3600_000), approvalWaitSeconds: 2.5 * 3600 });
    // Created 3 h ago with no approval wait: over the 60 min deadline.
    const slow = await newJob();
    await db
      .collection('jobs')
      .doc(slow.jobId)
      .update({ createdAt: Timestamp.fromMillis(Date.now() - 3 * 3600_000) });
    for (const job of [patient, slow]) {
      for (const [from, to] of [
        ['QUEUED', 'PLANNING'],
        ['PLANNING', 'RENDERING'],
        ['RENDERING', 'ASSEMBLING'],
        ['ASSEMBLING', 'DELIVERED'],
      ] as const)
        expect((await jobs.transition(job.jobId, from, to)).changed).toBe(true);
    }
    expect(await finished('true')).toBe(onTime + 1);
    expect(await finished('false')).toBe(late + 1);
  });

  it('adds the time spent awaiting approval to the job, and a failure names its reason', async () => {
    const job = await newJob();
    await jobs.transition(job.jobId, 'QUEUED', 'PLANNING');
    await jobs.transition(job.jobId, 'PLANNING', 'AWAITING_APPROVAL');
    await new Promise((r) => setTimeout(r, 300));
    await jobs.transition(job.jobId, 'AWAITING_APPROVAL', 'RENDERING');
    const read = await jobs.getJob(job.jobId);
    expect(read?.approvalWaitSeconds).toBeGreaterThanOrEqual(0.3);
    const failedBefore = await finished('false', 'FAILED', 'render_failed');
    await jobs.fail(job.jobId, 'render_failed', 'test');
    expect(await finished('false', 'FAILED', 'render_failed')).toBe(failedBefore + 1);
  });
});

describe('after-commit hooks', () => {
  it('run once the transaction commits, and a hook that throws does not fail the commit', async () => {
    const ran: string[] = [];
    const ref = db.collection('hooktest').doc(`h${Date.now()}`);
    const result = await runJobTransaction(db, 'hook test', async (tx) => {
      afterCommit(tx, () => {
        throw new Error('a metric failed');
      });
      afterCommit(tx, () => ran.push('second'));
      tx.set(ref, { ok: true });
      return 'committed';
    });
    expect(result).toBe('committed');
    expect((await ref.get()).data()).toEqual({ ok: true });
    expect(ran).toEqual(['second']);
  });

  it('never run for a transaction that did not commit', async () => {
    const ran: string[] = [];
    await expect(
      runJobTransaction(db, 'hook test', async (tx) => {
        afterCommit(tx, () => ran.push('hook'));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(ran).toEqual([]);
  });
});
