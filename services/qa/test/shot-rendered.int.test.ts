import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PRESETS } from '@aiprod/contracts';
import { ShotAttempts } from '@aiprod/job-store';
import { createLocalJudge, type SemanticJudge } from '@aiprod/clip-checks';
import { createBlobStore, shotClipKey } from '@aiprod/storage';
import { aBrief, emulatorProject, makeDefectCorpus, waitFor, type DefectClip } from '@aiprod/testing';
import type { QaDeps } from '../src/app';
import { checkRenderedShot } from '../src/steps/check-shot';

const env = emulatorProject('qa', 'qa');
const dir = mkdtempSync(join(tmpdir(), 'aiprod-qa-'));
const { db, jobs, log } = env;
const storage = createBlobStore({
  kind: 'local',
  rootDir: join(dir, 'store'),
  publicBaseUrl: 'https://127.0.0.1:1',
  signingKey: randomBytes(32),
});
let judge: SemanticJudge;
let corpus: DefectClip[];
let deps: QaDeps;
// What QA publishes, seen through test-only subscriptions (env.close() closes them: an open one
// would outlive the suite and reopen its stream inside whichever suite the jest worker runs next).
let published: Awaited<ReturnType<typeof env.collect>> = () => [];
const renderRequests = () => published('aiprod.render.local.v1');
const assembleRequests = () => published('aiprod.job.assemble.v1');

beforeAll(async () => {
  await env.provision();
  published = await env.collect(['aiprod.render.local.v1', 'aiprod.job.assemble.v1']);
  [judge, corpus] = await Promise.all([createLocalJudge(), makeDefectCorpus(join(dir, 'corpus'))]);
  deps = {
    ...env.core,
    attempts: new ShotAttempts(jobs),
    storage,
    judge,
    workDir: dir,
    timeoutMs: 60_000,
  };
}, 120_000);
afterAll(async () => {
  await judge?.close();
  await env.close();
  rmSync(dir, { recursive: true, force: true });
});

const brief = aBrief({ durationSeconds: 7 });

/** A job in RENDERING with one shot whose attempt `attempt` is rendered from the given corpus clip. */
async function renderedShot(kind: DefectClip['kind'], attempt: number) {
  const clip = corpus.find((c) => c.kind === kind)!;
  const jobId = `job_${kind}_${randomBytes(4).toString('hex')}`;
  await jobs.createJob({ jobId, tenantId: 't1', brief, preset: 'social_quick' });
  await jobs.transition(jobId, 'QUEUED', 'PLANNING');
  const plan = {
    director: 'local',
    shotIds: ['s01'],
    width: clip.spec.width,
    height: clip.spec.height,
    fps: clip.spec.fps,
    endCardSeconds: 1,
    estimatedCostUsd: 0,
  };
  await jobs.savePlan(jobId, plan, [{ spec: { ...clip.spec, shotId: 's01' }, backend: 'local' }], 'RENDERING');
  const stored = await storage.putFile(shotClipKey({ tenantId: 't1', jobId, shotId: 's01', attempt }), clip.file);
  await db
    .collection('jobs')
    .doc(jobId)
    .collection('shots')
    .doc('s01')
    .update({
      status: 'RENDERED',
      attempt,
      [`attempts.${attempt}`]: { attempt, backend: 'local', status: 'RENDERED', clipUri: stored.uri },
    });
  return { jobId, clipUri: stored.uri };
}

describe('QA verdict policy', () => {
  it('passes a good shot and, being the last, requests assembly once', async () => {
    const { jobId, clipUri } = await renderedShot('good', 1);
    await checkRenderedShot(deps, { jobId, tenantId: 't1', shotId: 's01', attempt: 1, clipUri }, log);
    await checkRenderedShot(deps, { jobId, tenantId: 't1', shotId: 's01', attempt: 1, clipUri }, log);
    const shot = await jobs.getShot(jobId, 's01');
    expect(shot?.status).toBe('PASSED');
    expect(shot?.qa?.judge).toBe('local-ocr');
    expect((await jobs.getJob(jobId))?.status).toBe('ASSEMBLING');
    await waitFor(() => (assembleRequests().some((r) => r.jobId === jobId) ? true : undefined), {
      timeoutMs: 10_000,
      what: 'assemble request',
    });
  }, 60_000);

  it('rejects a black shot with evidence and asks for a retake with a new seed and the reason', async () => {
    const { jobId, clipUri } = await renderedShot('black', 1);
    await checkRenderedShot(deps, { jobId, tenantId: 't1', shotId: 's01', attempt: 1, clipUri }, log);
    const shot = (await jobs.getShot(jobId, 's01'))!;
    expect(shot.status).toBe('REJECTED');
    expect(shot.attempt).toBe(2);
    expect(shot.spec.seed).toBeDefined();
    expect(shot.spec.retakeNote).toMatch(/black_frames/);
    expect(shot.qa?.checks.find((c) => c.name === 'black_frames')?.verdict).toBe('fail');
    expect(shot.qa?.evidence.length).toBeGreaterThan(0);
    for (const uri of shot.qa!.evidence) expect(await storage.exists(storage.keyFromUri(uri))).toBe(true);
    const request = await waitFor(() => renderRequests().find((r) => r.jobId === jobId), {
      timeoutMs: 10_000,
      what: 'retake request',
    });
    expect(request).toMatchObject({ shotId: 's01', attempt: 2 });
    expect((request.spec as { seed?: number }).seed).toBe(shot.spec.seed);
  }, 60_000);

  it('fails the job with qa_failed once the preset runs out of attempts', async () => {
    const last = PRESETS.social_quick.qa.maxAttempts;
    const { jobId, clipUri } = await renderedShot('frozen', last);
    await expect(
      checkRenderedShot(deps, { jobId, tenantId: 't1', shotId: 's01', attempt: last, clipUri }, log),
    ).rejects.toMatchObject({
      name: 'PermanentError',
      reason: 'qa_failed',
      message: expect.stringMatching(/frozen_frames/),
    });
    expect((await jobs.getShot(jobId, 's01'))?.status).toBe('FAILED');
  }, 60_000);
});
