import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RetryableError, type BackendName, type Brief, type JobEstimate } from '@aiprod/contracts';
import { AssetStore, DirectorPlanCache, EstimateStore, PlanStore, TenantStore } from '@aiprod/job-store';
import { DEFAULT_GEMINI_MODEL, accessTokenAuth } from '@aiprod/google-ai';
import { createGeminiDirector, localDirector, type CreativeDirector } from '@aiprod/planning';
import { storedEstimate } from '@aiprod/vendor-catalogue';
import type { HandlerContext } from '@aiprod/pubsub';
import { LocalBlobStore } from '@aiprod/storage';
import { aBrief, emulatorProject, startVertexServer, type VertexServer } from '@aiprod/testing';
import { buildPlanner, type PlannerDeps } from '../src/app';

const env = emulatorProject('planner-estimates', 'planner');
const { db, jobs, log } = env;
const tenants = new TenantStore(db);
const estimates = new EstimateStore(db);
let vertex: VertexServer;

const brief = (overrides: Partial<Brief> = {}): Brief =>
  aBrief({
    brand: { name: 'Aurora', colors: ['#1E6FD9'] },
    aspectRatios: ['9:16'],
    // Unique per test: Gemini's plans are cached per brief.
    callToAction: `Run brighter ${randomBytes(4).toString('hex')}`,
    preset: 'social_quick',
    ...overrides,
  });

const gemini = () =>
  createGeminiDirector({
    project: 'aiprod-test',
    location: 'europe-west1',
    baseUrl: vertex.url,
    googleAuthOptions: accessTokenAuth('test-token'),
    maxAttempts: 1,
    retryBaseMs: 10,
    maxRetryDelayMs: 50,
    timeoutMs: 2_000,
  });

const storageRoot = mkdtempSync(join(tmpdir(), 'planner-estimates-'));
const deps = (options: { director?: CreativeDirector; enabledBackends?: BackendName[] } = {}): PlannerDeps => ({
  ...env.core,
  tenants,
  director: options.director ?? localDirector,
  fallbackToLocal: false,
  enabledBackends: options.enabledBackends ?? ['local'],
  plans: new PlanStore(db),
  directorPlans: new DirectorPlanCache(db),
  estimates,
  storage: new LocalBlobStore({
    rootDir: storageRoot,
    publicBaseUrl: 'https://127.0.0.1:1',
    signingKey: Buffer.alloc(32),
  }),
  assets: new AssetStore(db),
});

const ctx = (topic: HandlerContext['topic'], deliveryAttempt: number): HandlerContext => ({
  topic,
  subscription: `${topic}.planner`,
  messageId: randomBytes(4).toString('hex'),
  deliveryAttempt,
  publishTime: new Date(),
  log,
});

/** An estimate record as the gateway writes it, delivered to the planner's handler. */
async function estimate(
  d: PlannerDeps,
  b: Brief,
  deliveryAttempt = 1,
  estimateId = `est_${randomBytes(12).toString('hex')}`,
) {
  await estimates.createOnce({ estimateId, tenantId: 't-est', brief: b, preset: b.preset ?? 'social_quick' });
  await buildPlanner(d)['aiprod.estimate.requested.v1'].handle(
    { v: 1, jobId: estimateId, tenantId: 't-est' },
    ctx('aiprod.estimate.requested.v1', deliveryAttempt),
  );
  return estimateId;
}

/** The job made from the same brief, planned by the same planner: its stored estimate. */
async function jobEstimate(d: PlannerDeps, b: Brief) {
  const jobId = `job_${randomBytes(5).toString('hex')}`;
  await jobs.createJob({ jobId, tenantId: 't-est', brief: b, preset: b.preset ?? 'social_quick' });
  await buildPlanner(d)['aiprod.job.requested.v1'].handle(
    { v: 1, jobId, tenantId: 't-est' },
    ctx('aiprod.job.requested.v1', 1),
  );
  return (await jobs.getJob(jobId))!;
}

const geminiAnswer = (seconds: number) => ({
  json: {
    continuity: [{ id: 'product', kind: 'product', description: 'Aurora shoe' }],
    shots: ['hook', 'benefit', 'call_to_action'].map((purpose) => ({
      purpose,
      prompt: `A ${purpose} shot of the Aurora shoe`,
      camera: 'static',
      durationSeconds: seconds,
      continuity: ['product'],
    })),
  },
});

beforeAll(async () => {
  await env.provision();
  await tenants.createTenant({ tenantId: 't-est', name: 'Estimates', autoApproveLimitUsd: 100 });
  vertex = await startVertexServer();
}, 60_000);

afterAll(async () => {
  await vertex?.close();
  await env.close();
});

describe('planner: estimates', () => {
  it('answers an estimate with the plan its job gets, once: a redelivery changes nothing', async () => {
    const d = deps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const b = brief();
    const id = await estimate(d, b);
    const record = (await estimates.get(id))!;
    expect(record.status).toBe('READY');
    const quoted = record.estimate as unknown as JobEstimate;
    expect(quoted.shots.map((s) => s.backend)).toEqual(quoted.shots.map(() => 'replicate'));
    const job = await jobEstimate(d, b);
    expect(job.plan!.director).toBe('local');
    expect(storedEstimate(quoted)).toEqual(job.plan!.estimate);

    await buildPlanner(d)['aiprod.estimate.requested.v1'].handle(
      { v: 1, jobId: id, tenantId: 't-est' },
      ctx('aiprod.estimate.requested.v1', 2),
    );
    expect((await estimates.get(id))!.answeredAt).toEqual(record.answeredAt);
  });

  it('prices only the deployed backends, and compares a budget cap with the worst case', async () => {
    const local = (await estimates.get(await estimate(deps(), brief({ preset: 'brand_campaign' }))))!;
    const localQuote = local.estimate as unknown as JobEstimate;
    expect(new Set(localQuote.shots.map((s) => s.backend))).toEqual(new Set(['local']));
    expect(localQuote.totalUsd).toBe(0);

    const paid = deps({ enabledBackends: ['local', 'veo', 'runway'] });
    const premium = { preset: 'premium_spot', durationSeconds: 30 } as const;
    const quote = async (budgetCapUsd: number) =>
      (await estimates.get(await estimate(paid, brief({ ...premium, budgetCapUsd }))))!
        .estimate as unknown as JobEstimate;
    const cheapest = await quote(0);
    expect(cheapest.worstCaseUsd).toBeGreaterThan(cheapest.totalUsd);
    const between = Math.round(((cheapest.totalUsd + cheapest.worstCaseUsd) / 2) * 100) / 100;
    const refused = await quote(between);
    expect(refused).toMatchObject({ budgetCapUsd: between, budgetComparedWith: 'worstCaseUsd', withinBudget: false });
    expect(refused.refusal).toContain(`could cost up to ${cheapest.worstCaseUsd.toFixed(2)} USD in the worst case`);
    expect(await quote(cheapest.worstCaseUsd)).toMatchObject({ withinBudget: true });
  });

  it('with Gemini, the job gets the plan its estimate priced from one director call', async () => {
    const d = deps({ director: gemini(), enabledBackends: ['local', 'replicate'] });
    const b = brief();
    const before = vertex.requests.length;
    vertex.enqueue(geminiAnswer(5.5));
    // A second answer would be a different plan: the job must not get it.
    vertex.enqueue(geminiAnswer(4));
    const id = await estimate(d, b);
    const quoted = (await estimates.get(id))!.estimate as unknown as JobEstimate;
    const job = await jobEstimate(d, b);
    expect(job.plan!.director).toBe(`gemini:${DEFAULT_GEMINI_MODEL}`);
    expect(storedEstimate(quoted)).toEqual(job.plan!.estimate);
    expect(vertex.requests.length - before).toBe(1);
    // Another tenant's job from the same brief is planned afresh (the cache is per tenant).
    await tenants.createTenant({ tenantId: 't-other', name: 'Other' });
    const jobId = `job_${randomBytes(5).toString('hex')}`;
    await jobs.createJob({ jobId, tenantId: 't-other', brief: b, preset: 'social_quick' });
    await buildPlanner(d)['aiprod.job.requested.v1'].handle(
      { v: 1, jobId, tenantId: 't-other' },
      ctx('aiprod.job.requested.v1', 1),
    );
    expect(vertex.requests.length - before).toBe(2);
  });

  it('answers FAILED with the reason for a permanent director failure; retries a transient one until the last delivery', async () => {
    const d = deps({ director: gemini() });
    vertex.enqueue({ safetyBlock: 'PROHIBITED_CONTENT' });
    const blocked = (await estimates.get(await estimate(d, brief())))!;
    expect(blocked.status).toBe('FAILED');
    expect(blocked.reason).toMatch(
      new RegExp(`^gemini:${DEFAULT_GEMINI_MODEL} director: .*safety filter blocked the brief`),
    );

    vertex.enqueue({ status: 503 });
    const id = `est_${randomBytes(12).toString('hex')}`;
    const b = brief();
    await expect(estimate(d, b, 1, id)).rejects.toBeInstanceOf(RetryableError);
    expect((await estimates.get(id))!.status).toBe('PENDING');
    vertex.enqueue({ status: 503 });
    await estimate(d, b, 5, id);
    expect((await estimates.get(id))!).toMatchObject({ status: 'FAILED', reason: expect.stringMatching(/503/) });
  });
});
