import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Timestamp } from '@google-cloud/firestore';
import type { JobStatus } from '@aiprod/contracts';
import { TenantStore, type Job } from '@aiprod/job-store';
import {
  captionsKey,
  finalCutKey,
  jobReferenceKey,
  LocalBlobStore,
  previewKey,
  qaEvidencePrefix,
  shotClipKey,
  voiceTrackKey,
} from '@aiprod/storage';
import { aBrief, emulatorProject } from '@aiprod/testing';
import { createRetentionSweeper } from '../src/retention';

const env = emulatorProject('retention', 'delivery');
const { db, log, logLines } = env;
const tenants = new TenantStore(db);
const DAY = 86_400_000;
const NOW = new Date('2027-06-01T12:00:00Z');
let root: string;
let storage: LocalBlobStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'aiprod-retention-'));
  storage = new LocalBlobStore({ rootDir: root, publicBaseUrl: 'http://127.0.0.1:1', signingKey: Buffer.alloc(32, 7) });
});
afterAll(async () => {
  await env.close();
  await rm(root, { recursive: true, force: true });
});

/** A job that ended `endedDaysAgo` days before NOW, with one file of every class and a timeline. */
async function seedJob(tenantId: string, jobId: string, status: JobStatus, endedDaysAgo: number): Promise<void> {
  const ended = Timestamp.fromMillis(NOW.getTime() - endedDaysAgo * DAY);
  const job: Job = {
    jobId,
    tenantId,
    status,
    brief: aBrief(),
    preset: 'social_quick',
    version: 5,
    createdAt: Timestamp.fromMillis(ended.toMillis() - 3600_000),
    updatedAt: ended,
    stateEnteredAt: ended,
    // As the job store sets it when a job ends.
    retentionDueAt: Timestamp.fromMillis(ended.toMillis() + DAY),
    deadlineAt: null,
    costUsd: 1.5,
  };
  await db.collection('jobs').doc(jobId).set(job);
  await db.collection('jobs').doc(jobId).collection('events').doc('v1-QUEUED').set({ type: 'job.created' });
  await db.collection('jobs').doc(jobId).collection('shots').doc('s01').set({ shotId: 's01' });
  const ref = { tenantId, jobId };
  const shot = { ...ref, shotId: 's01', attempt: 1 };
  const put = (key: string) => storage.putBytes(key, Buffer.from(key));
  await Promise.all([
    put(shotClipKey(shot)),
    put(`${qaEvidencePrefix(shot)}/frame-1.png`),
    put(jobReferenceKey(ref, 'ref-1', 'png')),
    put(jobReferenceKey(ref, 'music', 'wav')),
    put(previewKey({ ...ref, planVersion: 1 })),
    put(finalCutKey(ref, '9x16')),
    put(captionsKey(ref, '9x16', 'vtt')),
    put(voiceTrackKey(ref, 'en')),
    put(`tenants/${tenantId}/jobs/${jobId}/outputs/poster.png`),
    put(`tenants/${tenantId}/jobs/${jobId}/outputs/provenance.json`),
  ]);
}

const keysOf = async (prefix: string) => (await storage.list(prefix)).map((o) => o.key.slice(prefix.length)).sort();
const INTERMEDIATE = [
  'previews/plan-v1.mp4',
  'references/music.wav',
  'references/ref-1.png',
  'shots/s01/attempt-1-qa/frame-1.png',
  'shots/s01/attempt-1.mp4',
];
const OUTPUTS = [
  'outputs/final-9x16.mp4',
  'outputs/final-9x16.vtt',
  'outputs/poster.png',
  'outputs/provenance.json',
  'outputs/voice-en.wav',
];
const ALL = [...OUTPUTS, ...INTERMEDIATE].sort();

describe('the retention sweeper', () => {
  it('deletes exactly what has expired under each tenant’s retention, and nothing else', async () => {
    // t-default keeps the defaults (outputs 30, intermediate 7, records 400 days); t-short keeps 2 / 1 / 10.
    await tenants.createTenant({ tenantId: 't-default', name: 'Default' });
    await tenants.createTenant({ tenantId: 't-short', name: 'Short' });
    await tenants.setRetention('t-short', { outputsDays: 2, intermediateDays: 1, recordsDays: 90 });
    await seedJob('t-default', 'd-fresh', 'DELIVERED', 3); // nothing expired
    await seedJob('t-default', 'd-week', 'FAILED', 8); // intermediates only
    await seedJob('t-default', 'd-month', 'DELIVERED', 31); // intermediates and outputs
    await seedJob('t-default', 'd-old', 'CANCELED', 401); // the whole record
    await seedJob('t-short', 's-fresh', 'DELIVERED', 0.5); // nothing (ended half a day ago)
    await seedJob('t-short', 's-mid', 'DELIVERED', 1.5); // intermediates only
    await seedJob('t-short', 's-old', 'DELIVERED', 3); // intermediates and outputs
    await seedJob('t-short', 's-gone', 'FAILED', 91); // the whole record
    // A running job as old as any: never touched, whatever its age.
    await seedJob('t-short', 's-running', 'RENDERING', 500);

    const jobFiles = (t: string, j: string) => keysOf(`tenants/${t}/jobs/${j}/`);
    for (const [t, j] of [
      ['t-default', 'd-old'],
      ['t-short', 's-running'],
    ] as const)
      expect(await jobFiles(t, j)).toEqual(ALL);

    const sweeper = createRetentionSweeper({ db, storage, tenants, log, now: () => NOW });
    // A dry run decides the same and deletes nothing.
    const dry = await sweeper.runOnce({ dryRun: true });
    expect(dry.completedPass).toBe(true);
    expect(dry.actions.length).toBe(8);
    expect(await jobFiles('t-default', 'd-old')).toEqual(ALL);

    // Bounded runs: three jobs per run, two per page; the cursor carries over between runs.
    const actions = [];
    for (let run = 0; run < 5; run++) {
      const report = await sweeper.runOnce({ maxJobs: 3, pageSize: 2 });
      actions.push(...report.actions);
      if (report.completedPass) break;
    }
    const decided = actions.map((a) => `${a.jobId}:${a.what}:${a.rule}`).sort();
    expect(decided).toEqual([
      'd-month:intermediate:intermediateDays=7',
      'd-month:outputs:outputsDays=30',
      'd-old:record:recordsDays=400',
      'd-week:intermediate:intermediateDays=7',
      's-gone:record:recordsDays=90',
      's-mid:intermediate:intermediateDays=1',
      's-old:intermediate:intermediateDays=1',
      's-old:outputs:outputsDays=2',
    ]);

    // Storage after: each job keeps exactly what its tenant's retention still covers.
    expect(await jobFiles('t-default', 'd-fresh')).toEqual(ALL);
    expect(await jobFiles('t-default', 'd-week')).toEqual(OUTPUTS);
    expect(await jobFiles('t-default', 'd-month')).toEqual([]);
    expect(await jobFiles('t-default', 'd-old')).toEqual([]);
    expect(await jobFiles('t-short', 's-fresh')).toEqual(ALL);
    expect(await jobFiles('t-short', 's-mid')).toEqual(OUTPUTS);
    expect(await jobFiles('t-short', 's-old')).toEqual([]);
    expect(await jobFiles('t-short', 's-gone')).toEqual([]);
    expect(await jobFiles('t-short', 's-running')).toEqual(ALL);

    // Firestore after: expired records are gone with their subcollections; outputs expiry is recorded.
    const ids = (await db.collection('jobs').get()).docs.map((d) => d.id).sort();
    expect(ids).toEqual(['d-fresh', 'd-month', 'd-week', 's-fresh', 's-mid', 's-old', 's-running']);
    for (const gone of ['d-old', 's-gone']) {
      expect((await db.collection('jobs').doc(gone).collection('events').get()).size).toBe(0);
      expect((await db.collection('jobs').doc(gone).collection('shots').get()).size).toBe(0);
    }
    expect((await db.collection('jobs').doc('d-week').collection('events').get()).size).toBe(1);
    const job = async (id: string) => (await db.collection('jobs').doc(id).get()).data() as Job;
    expect((await job('d-month')).outputsExpiredAt?.toDate()).toEqual(NOW);
    expect((await job('s-old')).outputsExpiredAt?.toDate()).toEqual(NOW);
    expect((await job('d-week')).outputsExpiredAt).toBeUndefined();
    expect((await job('d-week')).retention?.intermediatesDeletedAt?.toDate()).toEqual(NOW);
    // The TTL field: end + recordsDays + 7 days' grace; a running job has none.
    expect((await job('d-week')).expiresAt?.toMillis()).toBe(NOW.getTime() - 8 * DAY + 407 * DAY);
    expect((await job('s-mid')).expiresAt?.toMillis()).toBe(NOW.getTime() - 1.5 * DAY + 97 * DAY);
    expect((await job('s-running')).expiresAt).toBeUndefined();
    // The sweeper's marks leave updatedAt alone (it orders the sweep).
    expect((await job('d-month')).updatedAt.toMillis()).toBe(NOW.getTime() - 31 * DAY);

    // Every deletion is logged with who, what, how old and which rule.
    const logged = logLines.filter((l) => l.message === 'retention deleted').map((l) => l.meta);
    expect(logged).toHaveLength(8);
    expect(logged).toContainEqual(
      expect.objectContaining({
        jobId: 's-gone',
        tenantId: 't-short',
        what: 'record',
        ageDays: 91,
        rule: 'recordsDays=90',
      }),
    );

    // A second pass finds nothing more to do.
    const again = await sweeper.runOnce();
    expect(again.actions).toEqual([]);
  });
});

describe('an erased job', () => {
  it('loses any file a late writer left under its folder, keeps its tombstone, and logs only what it found', async () => {
    const tenantId = 'ret-erased';
    await tenants.createTenant({ tenantId, name: 'Erased', autoApproveLimitUsd: 0 });
    const erasedAt = Timestamp.fromMillis(NOW.getTime() - 2 * DAY);
    // A tombstone, as DELETE /v1/jobs/{id} leaves it, and a clip a render worker wrote after the delete.
    await db
      .collection('jobs')
      .doc('job_erased')
      .set({
        jobId: 'job_erased',
        tenantId,
        status: 'CANCELED',
        preset: 'social_quick',
        version: 4,
        costUsd: 0.5,
        createdAt: Timestamp.fromMillis(erasedAt.toMillis() - DAY),
        updatedAt: erasedAt,
        stateEnteredAt: Timestamp.fromMillis(erasedAt.toMillis() - DAY),
        retentionDueAt: Timestamp.fromMillis(erasedAt.toMillis() + DAY),
        erasedAt,
        erasedBy: 'key:test',
      });
    const late = shotClipKey({ tenantId, jobId: 'job_erased', shotId: 's02', attempt: 1 });
    await storage.putBytes(late, Buffer.from('late clip'));
    const sweeper = createRetentionSweeper({ db, storage, tenants, log, now: () => NOW });
    const first = await sweeper.runOnce({ maxJobs: 10_000 });
    expect(first.actions.filter((a) => a.jobId === 'job_erased')).toEqual([
      expect.objectContaining({ what: 'erased', objects: 1 }),
    ]);
    expect(await storage.exists(late)).toBe(false);
    const tombstone = (await db.collection('jobs').doc('job_erased').get()).data();
    expect(tombstone).toMatchObject({ jobId: 'job_erased', costUsd: 0.5, erasedBy: 'key:test' });
    // Nothing left: the next pass says nothing about it.
    const second = await sweeper.runOnce({ maxJobs: 10_000 });
    expect(second.actions.filter((a) => a.jobId === 'job_erased')).toEqual([]);
  });
});

describe('what the sweeper reads', () => {
  it('reads a job only when something of it is due, so a restart or a large history delays nothing', async () => {
    const tenantId = 'ret-due';
    await tenants.createTenant({ tenantId, name: 'Due', autoApproveLimitUsd: 0 });
    await seedJob(tenantId, 'job_due_a', 'DELIVERED', 2);
    await seedJob(tenantId, 'job_due_b', 'FAILED', 2);
    await seedJob(tenantId, 'job_due_c', 'DELIVERED', 40);
    const mine = (r: { actions: { jobId: string; what: string }[] }) =>
      r.actions
        .filter((a) => a.jobId.startsWith('job_due_'))
        .map((a) => `${a.jobId} ${a.what}`)
        .sort();
    const at = (days: number) => () => new Date(NOW.getTime() + days * DAY);
    const first = await createRetentionSweeper({ db, storage, tenants, log, now: at(0) }).runOnce({ maxJobs: 10_000 });
    expect(mine(first)).toEqual(['job_due_c intermediate', 'job_due_c outputs']);
    // A new sweeper (a restart) at the same time reads none of them: each knows when it is next due.
    const again = await createRetentionSweeper({ db, storage, tenants, log, now: at(0) }).runOnce({ maxJobs: 10_000 });
    expect(mine(again)).toEqual([]);
    // Six days on, the two younger jobs' working copies (7 days) are due, and only they.
    const later = await createRetentionSweeper({ db, storage, tenants, log, now: at(6) }).runOnce({ maxJobs: 10_000 });
    expect(mine(later)).toEqual(['job_due_a intermediate', 'job_due_b intermediate']);
    const due = (await db.collection('jobs').doc('job_due_a').get()).data()!.retentionDueAt as Timestamp;
    // Next: its outputs, 30 days after it ended.
    expect(due.toMillis()).toBe(NOW.getTime() - 2 * DAY + 30 * DAY);
  });
});
