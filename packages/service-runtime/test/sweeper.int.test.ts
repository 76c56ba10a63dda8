import { Timestamp } from '@google-cloud/firestore';
import type { JobStatus } from '@aiprod/contracts';
import type { Job } from '@aiprod/job-store';
import { aBrief, emulatorProject } from '@aiprod/testing';
import { startSweeper, type Sweeper } from '../src/sweeper';

const env = emulatorProject('sweeper', 'delivery');
const { db, publisher, jobs, log } = env;
const brief = aBrief();

let sweeper: Sweeper | undefined;
afterAll(async () => {
  await sweeper?.stop();
  await env.close();
});

/** Writes jobs straight to the collection, `count` of them in `status`, overdue since `overdueAt`. */
async function overdueJobsIn(status: JobStatus, count: number, prefix: string, overdueAt: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
  for (let start = 0; start < ids.length; start += 400) {
    const batch = db.batch();
    ids.slice(start, start + 400).forEach((jobId, i) => {
      const created = Timestamp.fromMillis(overdueAt - 3600_000);
      const job: Job = {
        jobId,
        tenantId: 't1',
        status,
        brief,
        preset: 'social_quick',
        version: 3,
        createdAt: created,
        updatedAt: created,
        // Each one second apart, all of them older than the job the sweeper owns.
        deadlineAt: Timestamp.fromMillis(overdueAt + (start + i) * 1000),
        costUsd: 0,
      };
      batch.set(db.collection('jobs').doc(jobId), job);
    });
    await batch.commit();
  }
  return ids;
}

describe('a sweeper', () => {
  it('finds an overdue job in a state it owns behind 150 older overdue jobs in a state it does not', async () => {
    const hour = 3600_000;
    // ASSEMBLING belongs to delivery, which is down: its overdue jobs pile up, the oldest first.
    const others = await overdueJobsIn('ASSEMBLING', 150, 'job_asm_', Date.now() - 5 * hour);
    const [mine] = await overdueJobsIn('QUEUED', 1, 'job_queued_', Date.now() - hour);

    const nudged: string[] = [];
    sweeper = startSweeper({
      jobs,
      publisher,
      log,
      policies: { QUEUED: { maxSweeps: 3, nudge: async (job) => void nudged.push(job.jobId) } },
      // The timer never fires during the test; the test calls sweepOnce itself.
      intervalMs: 3600_000,
    });
    const acted = await sweeper.sweepOnce();

    expect(nudged).toEqual([mine]);
    expect(acted).toBe(1);
    const swept = (await jobs.getJob(mine!))!;
    expect(swept.sweeps).toBe(1);
    expect(swept.deadlineAt!.toMillis()).toBeGreaterThan(Date.now());
    // The other service's jobs are left alone: not claimed, not counted, still overdue.
    const untouched = await jobs.getJob(others[0]!);
    expect(untouched?.sweeps).toBeUndefined();
    expect((await jobs.overdueJobs(['ASSEMBLING'], Timestamp.now(), 200)).length).toBe(150);
  });
});
