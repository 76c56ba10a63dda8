import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ShotSpec } from '@aiprod/contracts';
import {
  getMonthlySpend,
  PreviewStore,
  recordSpend,
  TenantStore,
  WebhookStore,
  type Job,
  type JobPlan,
} from '@aiprod/job-store';
import { finishedDuration, probe, runFfmpeg } from '@aiprod/media';
import type { HandlerContext } from '@aiprod/pubsub';
import { createBlobStore, parseSignedFileRequest, previewKey, verifyLocalSignature } from '@aiprod/storage';
import { aBrief, emulatorProject } from '@aiprod/testing';
import { generateWebhookSecret, verifyWebhook, type JobAwaitingApprovalData } from '@aiprod/webhooks';
import { espeakEngine } from '@aiprod/speech';
import { createWorker, OEM, PSM, type Worker } from 'tesseract.js';
import { buildDelivery, previewLetterSuperseded, type DeliveryDeps } from '../src/app';
import { awaitingApprovalWebhookId } from '../src/steps/notify-awaiting-approval';

const env = emulatorProject('preview', 'delivery');
const { db, jobs, log } = env;
const tenants = new TenantStore(db);
const webhooks = new WebhookStore(db);
const signingKey = Buffer.alloc(32, 9);
const storage = createBlobStore({
  kind: 'local',
  rootDir: mkdtempSync(join(tmpdir(), 'preview-store-')),
  publicBaseUrl: 'http://127.0.0.1:9',
  signingKey,
});
const deps: DeliveryDeps = {
  ...env.core,
  webhooks,
  allowLoopbackHttp: true,
  timeoutMs: 2000,
  scheduleScale: 0.0002,
  storage,
  previews: new PreviewStore(db),
  workDir: tmpdir(),
  assemblyTimeoutMs: 120_000,
  speech: espeakEngine(),
};
const handler = buildDelivery(deps)['aiprod.preview.requested.v1'];
const deliver = (msg: { jobId: string; tenantId: string; planVersion: number }, deliveryAttempt = 1) => {
  const ctx: HandlerContext = {
    topic: 'aiprod.preview.requested.v1',
    subscription: 'aiprod.preview.requested.v1.delivery',
    messageId: randomBytes(4).toString('hex'),
    deliveryAttempt,
    publishTime: new Date(),
    log,
  };
  return handler.handle({ v: 1, ...msg }, ctx);
};

const tenantId = 't-preview';
const secret = generateWebhookSecret();
const received: { body: string; headers: Record<string, string | string[] | undefined> }[] = [];
let receiver: Server;
let ocr: Worker;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ body, headers: req.headers });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const address = receiver.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await tenants.createTenant({ tenantId, name: 'Preview', autoApproveLimitUsd: 0 });
  await webhooks.setEndpoint(tenantId, `http://127.0.0.1:${port}/hooks`, secret);
  ocr = await createWorker('eng', OEM.LSTM_ONLY, {
    langPath: join(dirname(require.resolve('@tesseract.js-data/eng')), '4.0.0_best_int'),
    gzip: true,
    cacheMethod: 'none',
    errorHandler: () => undefined,
  });
  await ocr.setParameters({ tessedit_pageseg_mode: PSM.SINGLE_BLOCK });
}, 60_000);

afterAll(async () => {
  await ocr?.terminate();
  await new Promise<void>((r) => receiver.close(() => r()));
  await env.close();
});

const brief = aBrief({
  brand: { name: 'Aurora', colors: ['#1E6FD9'] },
  aspectRatios: ['16:9'],
  durationSeconds: 7,
  callToAction: 'Run brighter',
});
const PROMPT = 'A runner in bright orange shoes crosses a wet city street at dawn';
const shotSpec = (i: number, prompt = PROMPT): ShotSpec => ({
  shotId: `s0${i + 1}`,
  index: i,
  purpose: i === 0 ? 'hook' : 'product',
  durationSeconds: 3,
  prompt,
  camera: i === 0 ? 'zoom_in' : 'pan_left',
  onScreenText: i === 0 ? 'Run brighter' : 'Aurora',
  palette: ['#101820', '#F2AA4C'],
  width: 1280,
  height: 720,
  fps: 30,
});
// 3 + 3 + 2 - 2 x 0.5 (two fades) = 7 s: the brief's length, as the planner would lay it out.
const plan: JobPlan = {
  version: 1,
  director: 'local',
  shotIds: ['s01', 's02'],
  width: 1280,
  height: 720,
  fps: 30,
  endCardSeconds: 2,
  transition: { kind: 'fade', durationSeconds: 0.5 },
  estimatedCostUsd: 4.2,
};

/** A job waiting for approval, its shots planned on a paid backend (nothing may call it). */
async function waitingJob(shots = [shotSpec(0), shotSpec(1)]): Promise<Job> {
  const jobId = `job_pv_${randomBytes(5).toString('hex')}`;
  await jobs.createJob({ jobId, tenantId, brief, preset: 'social_quick' });
  await jobs.transition(jobId, 'QUEUED', 'PLANNING');
  await jobs.savePlan(
    jobId,
    plan,
    shots.map((spec) => ({ spec, backend: 'runway' as const })),
    'AWAITING_APPROVAL',
  );
  return (await jobs.getJob(jobId))!;
}

/** Reads the text in a region of one frame: grey, inverted (tesseract reads dark on light best). */
async function readText(file: string, atSeconds: number, crop: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'preview-ocr-'));
  try {
    const png = join(dir, 'frame.png');
    await runFfmpeg(
      [
        '-v',
        'error',
        '-ss',
        String(atSeconds),
        '-i',
        `file:${file}`,
        '-frames:v',
        '1',
        '-vf',
        `${crop},format=gray,negate`,
        '-y',
        `file:${png}`,
      ],
      { timeoutMs: 20_000, operation: 'test_frame' },
    );
    return (await ocr.recognize(png)).data.text.replace(/\s+/g, ' ');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const awaitingEvents = (jobId: string) =>
  received
    .map((r) => ({ ...r, event: JSON.parse(r.body) as { type: string; data: JobAwaitingApprovalData } }))
    .filter((r) => r.event.type === 'job.awaiting_approval' && r.event.data.jobId === jobId);

describe('the free preview', () => {
  it('is an animatic with the final cut’s timing, a PREVIEW mark and storyboard captions, at no cost, announced once', async () => {
    const job = await waitingJob();
    await recordSpend(db, tenantId, 12.5);
    const spendBefore = await getMonthlySpend(db, tenantId);

    await deliver({ jobId: job.jobId, tenantId, planVersion: 1 });

    const after = (await jobs.getJob(job.jobId))!;
    expect(after.status).toBe('AWAITING_APPROVAL');
    expect(after.preview).toMatchObject({ planVersion: 1, status: 'READY' });
    expect(storage.keyFromUri(after.preview!.uri!)).toBe(previewKey({ tenantId, jobId: job.jobId, planVersion: 1 }));
    // $0: no ledger line, the job's cost and the tenant's month untouched, the shots never started.
    expect(after.costUsd).toBe(0);
    expect(after.reservedUsd ?? 0).toBe(0);
    expect(await jobs.listCosts(job.jobId)).toEqual([]);
    expect(await getMonthlySpend(db, tenantId)).toBe(spendBefore);
    for (const shot of await jobs.listShots(job.jobId)) expect(shot).toMatchObject({ status: 'PENDING', attempts: {} });

    const file = storage.keyFromUri(after.preview!.uri!);
    await storage.withLocalFile(file, async (path) => {
      const info = await probe(path, { timeoutMs: 10_000 });
      const finalCut = finishedDuration({
        clips: [
          { file: '', durationSeconds: 3 },
          { file: '', durationSeconds: 3 },
        ],
        transition: plan.transition!,
        endCard: { brandName: 'Aurora', colors: ['#000000', '#FFFFFF'], durationSeconds: 2 },
        fps: 30,
      });
      expect(finalCut).toBeCloseTo(7, 5);
      expect(Math.abs(info.durationSeconds - finalCut)).toBeLessThan(0.1);
      expect(info.video).toMatchObject({ width: 1280, height: 720 });
      // First shot, past its fade-in: the mark in the corner, the storyboard caption below it.
      expect(await readText(path, 1, 'crop=iw*0.4:ih*0.16:0:0')).toMatch(/PREVIEW/);
      const caption = await readText(path, 1, 'crop=iw:ih*0.3:0:ih*0.14');
      expect(caption).toMatch(/Camera: slow zoom in/i);
      expect(caption).toMatch(/runner in bright orange shoes/i);
      expect(await readText(path, 4.5, 'crop=iw:ih*0.3:0:ih*0.14')).toMatch(/Camera: pan left/i);
      // The end card is marked too: a preview can never pass for the final cut.
      expect(await readText(path, 6.5, 'crop=iw*0.4:ih*0.16:0:0')).toMatch(/PREVIEW/);
    });

    // job.awaiting_approval, signed, with a working link to this version's preview.
    const events = awaitingEvents(job.jobId);
    expect(events).toHaveLength(1);
    const [sent] = events;
    expect(sent!.headers['webhook-id']).toBe(awaitingApprovalWebhookId(job.jobId, 1));
    expect(verifyWebhook({ headers: sent!.headers as Record<string, string>, body: sent!.body, secret })).toEqual({
      ok: true,
    });
    expect(sent!.event.data).toMatchObject({
      planVersion: 1,
      status: 'AWAITING_APPROVAL',
      estimate: { totalUsd: 4.2 },
    });
    const link = new URL(sent!.event.data.preview.url);
    const request = parseSignedFileRequest(link.pathname, link.searchParams)!;
    expect(request.key).toBe(file);
    expect(verifyLocalSignature({ ...request, signingKey })).toBe('ok');
    // Good for the approval window (7 days), not minutes.
    expect(Date.parse(sent!.event.data.preview.expiresAt) - Date.now()).toBeGreaterThan(6 * 24 * 3600 * 1000);

    // A redelivery renders nothing again and sends nothing again.
    await deliver({ jobId: job.jobId, tenantId, planVersion: 1 }, 2);
    const again = (await jobs.getJob(job.jobId))!;
    expect(again.preview!.at.isEqual(after.preview!.at)).toBe(true);
    expect(awaitingEvents(job.jobId)).toHaveLength(1);
    const timeline = (await jobs.listEvents(job.jobId)).map((e) => e.type);
    expect(timeline.filter((t) => t === 'preview.ready')).toHaveLength(1);
    expect(timeline.filter((t) => t === 'preview.rendering')).toHaveLength(1);
  }, 120_000);

  it('never lets an older plan version’s preview replace a newer one', async () => {
    const job = await waitingJob();
    // The plan is edited to version 2 (new prompts) before any preview ran.
    const shots = await jobs.listShots(job.jobId);
    await db.collection('jobs').doc(job.jobId).update({ 'plan.version': 2 });
    for (const s of shots)
      await db.collection('jobs').doc(job.jobId).collection('shots').doc(s.shotId).update({
        'spec.prompt': 'A cyclist on a mountain road under a violet sky',
      });

    await deliver({ jobId: job.jobId, tenantId, planVersion: 2 });
    await deliver({ jobId: job.jobId, tenantId, planVersion: 1 });
    const after = (await jobs.getJob(job.jobId))!;
    expect(after.preview).toMatchObject({ planVersion: 2, status: 'READY' });
    expect(storage.keyFromUri(after.preview!.uri!)).toBe(previewKey({ tenantId, jobId: job.jobId, planVersion: 2 }));
    expect(await storage.exists(previewKey({ tenantId, jobId: job.jobId, planVersion: 1 }))).toBe(false);
    expect(awaitingEvents(job.jobId).map((e) => e.event.data.planVersion)).toEqual([2]);

    // A version-1 render that finishes late (it started before the edit) is refused too.
    const late = await deps.previews.record(job.jobId, { planVersion: 1, status: 'READY', uri: 'local://x.mp4' });
    expect(late).toMatchObject({ changed: false, why: 'stale' });
    expect((await jobs.getJob(job.jobId))!.preview).toMatchObject({ planVersion: 2, status: 'READY' });
  }, 120_000);

  it('records a preview that cannot be made as FAILED on job.preview and leaves the job waiting', async () => {
    const job = await waitingJob();
    await db.collection('jobs').doc(job.jobId).collection('shots').doc('s02').delete();
    await db.collection('jobs').doc(job.jobId).collection('shots').doc('s01').update({ 'spec.width': 17 });
    await deliver({ jobId: job.jobId, tenantId, planVersion: 1 });
    const after = (await jobs.getJob(job.jobId))!;
    expect(after.status).toBe('AWAITING_APPROVAL');
    expect(after.preview).toMatchObject({ planVersion: 1, status: 'FAILED' });
    expect(after.preview!.error).toMatch(/even/);
    expect(awaitingEvents(job.jobId)).toHaveLength(0);
  }, 60_000);

  it('marks the preview FAILED when its request dead-letters, without failing the job', async () => {
    const job = await waitingJob();
    const data = JSON.stringify({ v: 1, jobId: job.jobId, tenantId, planVersion: 1 });
    const why = await previewLetterSuperseded(deps, {
      topic: 'aiprod.preview.requested.v1',
      jobId: job.jobId,
      data,
    });
    expect(why).toMatch(/preview/);
    expect(await previewLetterSuperseded(deps, { topic: 'aiprod.job.assemble.v1', jobId: job.jobId, data })).toBeNull();
    const after = (await jobs.getJob(job.jobId))!;
    expect(after.status).toBe('AWAITING_APPROVAL');
    expect(after.preview).toMatchObject({ planVersion: 1, status: 'FAILED' });
  });
});
