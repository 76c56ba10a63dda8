import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RetryableError, renderTopicFor, type BackendName, type Brief, type MessageOf } from '@aiprod/contracts';
import { Timestamp } from '@google-cloud/firestore';
import {
  AssetStore,
  CapacityBoard,
  CapacityReporter,
  DirectorPlanCache,
  EstimateStore,
  PlanStore,
  PreviewStore,
  RECORDED_DECISION_GRACE_SECONDS,
  TenantStore,
} from '@aiprod/job-store';
import { accessTokenAuth } from '@aiprod/google-ai';
import { LocalBlobStore } from '@aiprod/storage';
import { createGeminiDirector, estimateBrief, localDirector, type CreativeDirector } from '@aiprod/planning';
import { PRICE_TABLE } from '@aiprod/vendor-catalogue';
import type { HandlerContext, Publisher } from '@aiprod/pubsub';
import {
  aBrief,
  emulatorProject,
  startMetricsProbe,
  startVertexServer,
  waitFor,
  type VertexServer,
} from '@aiprod/testing';
import { recordDeadLetter, startSweeper } from '@aiprod/service-runtime';
import { buildPlanner, planLetterSuperseded, plannerSweep, type PlannerDeps } from '../src/app';
import { resumeRecordedDecision } from '../src/steps/resume-decision';

const env = emulatorProject('planner', 'planner');
const { db, jobs, log } = env;
const tenants = new TenantStore(db);
// Briefs here name no reference images: the store is there because the planner always has one.
const storage = new LocalBlobStore({
  rootDir: mkdtempSync(join(tmpdir(), 'planner-int-')),
  publicBaseUrl: 'https://127.0.0.1:1',
  signingKey: Buffer.alloc(32, 1),
});
const renderTopics = (['local', 'replicate', 'runway', 'veo'] as const).map(renderTopicFor);
let published: Awaited<ReturnType<typeof env.collect>> = () => [];
let vertex: VertexServer;

const brief = aBrief({
  brand: { name: 'Aurora', colors: ['#1E6FD9'] },
  aspectRatios: ['9:16'],
  callToAction: 'Run brighter',
  preset: 'social_quick',
});

const gemini = () =>
  createGeminiDirector({
    project: 'aiprod-test',
    location: 'europe-west1',
    baseUrl: vertex.url,
    googleAuthOptions: accessTokenAuth('test-token'),
    maxAttempts: 2,
    retryBaseMs: 10,
    maxRetryDelayMs: 50,
    timeoutMs: 2_000,
  });

function plannerDeps(options: {
  director?: CreativeDirector;
  fallbackToLocal?: boolean;
  enabledBackends?: BackendName[];
}): PlannerDeps {
  return {
    ...env.core,
    tenants,
    director: options.director ?? localDirector,
    fallbackToLocal: options.fallbackToLocal ?? false,
    enabledBackends: options.enabledBackends ?? ['local'],
    plans: new PlanStore(db),
    directorPlans: new DirectorPlanCache(db),
    estimates: new EstimateStore(db),
    storage,
    assets: new AssetStore(db),
  };
}

/** A brief no other test planned: Gemini's plans are cached per brief, and each test scripts its own answer. */
const unplanned = () => ({ callToAction: `Run brighter ${randomBytes(4).toString('hex')}` });

async function newJob(tenantId: string, overrides: Partial<Brief> = {}) {
  const jobId = `job_${randomBytes(5).toString('hex')}`;
  const b = { ...brief, ...overrides };
  await jobs.createJob({ jobId, tenantId, brief: b, preset: b.preset ?? 'social_quick' });
  return jobId;
}

async function deliver(deps: PlannerDeps, jobId: string, tenantId: string, deliveryAttempt = 1) {
  const ctx: HandlerContext = {
    topic: 'aiprod.job.requested.v1',
    subscription: 'aiprod.job.requested.v1.planner',
    messageId: randomBytes(4).toString('hex'),
    deliveryAttempt,
    publishTime: new Date(),
    log,
  };
  await buildPlanner(deps)['aiprod.job.requested.v1'].handle({ v: 1, jobId, tenantId }, ctx);
}

/** The render requests sent for a job, topic by topic, each topic's in the order they arrived. */
const sentFor = (jobId: string) =>
  renderTopics
    .flatMap((topic) => published(topic).map((m) => ({ topic, msg: m as MessageOf<'aiprod.render.local.v1'> })))
    .filter((p) => p.msg.jobId === jobId);

const previewsFor = (jobId: string) =>
  published('aiprod.preview.requested.v1').filter((m) => (m as { jobId: string }).jobId === jobId);

beforeAll(async () => {
  await env.provision();
  published = await env.collect([...renderTopics, 'aiprod.preview.requested.v1']);
  await tenants.createTenant({ tenantId: 't-free', name: 'Free', autoApproveLimitUsd: 0 });
  await tenants.createTenant({ tenantId: 't-rich', name: 'Rich', autoApproveLimitUsd: 100 });
  vertex = await startVertexServer();
}, 60_000);

afterAll(async () => {
  await vertex?.close();
  await env.close();
});

describe('planner: plan, estimate, dispatch', () => {
  it('saves one plan with its estimate and backends, and a redelivery re-publishes only what is missing', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await newJob('t-rich');
    await deliver(deps, jobId, 't-rich');

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    expect(job.plan).toMatchObject({ director: 'local', estimate: { priceTableVersion: PRICE_TABLE.version } });
    const shots = await jobs.listShots(jobId);
    expect(shots.map((s) => s.backend)).toEqual(shots.map(() => 'replicate'));
    expect(shots.map((s) => s.spec.durationSeconds)).toEqual(shots.map(() => 5));
    expect(job.plan!.estimate!.shots.map((s) => s.shotId)).toEqual(shots.map((s) => s.shotId));
    expect(job.plan!.estimatedCostUsd).toBe(job.plan!.estimate!.totalUsd);
    await waitFor(() => (sentFor(jobId).length === shots.length ? true : undefined), {
      timeoutMs: 10_000,
      what: 'one render request per shot',
    });
    expect(new Set(sentFor(jobId).map((p) => p.topic))).toEqual(new Set(['aiprod.render.replicate.v1']));

    // The render pool has picked up the first shot; then job.requested is delivered again.
    await jobs.transitionShot(jobId, shots[0]!.shotId, 'PENDING', 'RENDERING');
    await deliver(deps, jobId, 't-rich', 2);
    await waitFor(() => (sentFor(jobId).length === 2 * shots.length - 1 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the pending shots re-published',
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(sentFor(jobId)).toHaveLength(2 * shots.length - 1);
    const again = sentFor(jobId)
      .slice(shots.length)
      .map((p) => p.msg.shotId);
    expect(again.sort()).toEqual(
      shots
        .slice(1)
        .map((s) => s.shotId)
        .sort(),
    );
    // Still one plan: the same shots, one job.planned event.
    expect((await jobs.listShots(jobId)).map((s) => s.spec)).toEqual(shots.map((s) => s.spec));
    const events = await jobs.listEvents(jobId);
    expect(events.filter((e) => e.type === 'job.planned')).toHaveLength(1);
  });

  it('puts shots whose cheapest backend has no room on a better one with room, saying why; with no board, as before', async () => {
    const enabledBackends: BackendName[] = ['local', 'replicate', 'runway'];
    // Replicate's pool reports itself full; Runway's has room.
    const full = new CapacityReporter(db, { backend: 'replicate', model: 'm', workerId: 'rep-1', limit: 1 });
    const roomy = new CapacityReporter(db, { backend: 'runway', model: 'gen4.5', workerId: 'run-1', limit: 4 });
    full.begin('some/shot/a1');
    await Promise.all([full.flush(), roomy.flush()]);
    try {
      const withBoard = { ...plannerDeps({ enabledBackends }), capacityBoard: new CapacityBoard(db) };
      const jobId = await newJob('t-rich');
      await deliver(withBoard, jobId, 't-rich');
      const shots = await jobs.listShots(jobId);
      expect(shots.map((s) => s.backend)).toEqual(shots.map(() => 'runway'));
      const notes = (await jobs.getJob(jobId))!.plan!.estimate!.notes;
      expect(notes).toContain(
        `${shots[0]!.shotId}: replicate had no room (replicate: 1 in flight of 1); on runway instead, which had (runway: 0 in flight of 4)`,
      );
      await waitFor(() => (sentFor(jobId).length === shots.length ? true : undefined), {
        timeoutMs: 10_000,
        what: 'one render request per shot',
      });
      expect(new Set(sentFor(jobId).map((p) => p.topic))).toEqual(new Set(['aiprod.render.runway.v1']));

      // The policy off (no board read): the cheapest backend, busy or not.
      const without = await newJob('t-rich');
      await deliver(plannerDeps({ enabledBackends }), without, 't-rich');
      expect(new Set((await jobs.listShots(without)).map((s) => s.backend))).toEqual(new Set(['replicate']));
    } finally {
      await Promise.all([full.stop(), roomy.stop()]);
    }
  });

  it('parks a job above the tenant’s auto-approve limit in AWAITING_APPROVAL without dispatching', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await newJob('t-free');
    await deliver(deps, jobId, 't-free');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan!.estimate!.totalUsd).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(sentFor(jobId)).toHaveLength(0);
    // The reviewer gets something to look at: the free preview of plan version 1 is requested.
    expect(previewsFor(jobId)).toEqual([{ v: 1, jobId, tenantId: 't-free', planVersion: 1 }]);
  });

  it('requests a preview when the brief asks for one, after dispatching the paid render; none otherwise', async () => {
    const deps = plannerDeps({ enabledBackends: ['local'] });
    const wanted = await newJob('t-rich', { preview: true });
    const plain = await newJob('t-rich');
    await deliver(deps, wanted, 't-rich');
    await deliver(deps, plain, 't-rich');
    expect((await jobs.getJob(wanted))!.status).toBe('RENDERING');
    await waitFor(() => (previewsFor(wanted).length === 1 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'a preview request',
    });
    expect(previewsFor(wanted)[0]).toMatchObject({ planVersion: 1, tenantId: 't-rich' });
    expect(sentFor(wanted).length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(previewsFor(plain)).toEqual([]);
  });

  it('fails a job whose estimate exceeds the brief’s budget cap, with budget_exceeded', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'veo', 'runway'] });
    const jobId = await newJob('t-rich', { preset: 'premium_spot', durationSeconds: 30, budgetCapUsd: 1 });
    await deliver(deps, jobId, 't-rich');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.reason).toBe('budget_exceeded');
    expect(job.error?.message).toMatch(/above the budget cap of 1 USD/);
  });

  it('compares the budget cap with the worst case: a cap only the expected cost fits under fails the job, naming both amounts', async () => {
    const enabledBackends: BackendName[] = ['local', 'veo', 'runway'];
    const deps = plannerDeps({ enabledBackends });
    const premium = { preset: 'premium_spot' as const, durationSeconds: 30 };
    // The cheapest plan the preset allows here, as the planner will make it (the local director).
    const cheapest = estimateBrief({ ...brief, ...premium, budgetCapUsd: 0 }, { enabledBackends });
    const [expected, worst] = [cheapest.totalUsd, cheapest.worstCaseUsd];
    const between = Math.round(((expected + worst) / 2) * 100) / 100;
    expect(expected).toBeLessThan(between);
    expect(worst).toBeGreaterThan(between);

    const refused = await newJob('t-rich', { ...premium, budgetCapUsd: between });
    await deliver(deps, refused, 't-rich');
    const failed = (await jobs.getJob(refused))!;
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.reason).toBe('budget_exceeded');
    expect(failed.error?.message).toContain(`could cost up to ${worst.toFixed(2)} USD in the worst case`);
    expect(failed.error?.message).toContain(`expected ${expected.toFixed(2)} USD`);
    expect(failed.error?.message).toContain(`above the budget cap of ${between} USD`);
    expect(sentFor(refused)).toHaveLength(0);

    // A cap the worst case fits under is planned, with shots moved down as far as needed.
    const accepted = await newJob('t-rich', { ...premium, budgetCapUsd: worst });
    await deliver(deps, accepted, 't-rich');
    const planned = (await jobs.getJob(accepted))!;
    expect(planned.status).toBe('RENDERING');
    expect(planned.plan!.estimate).toMatchObject({ budgetCapUsd: worst });
    expect(planned.plan!.estimate!.worstCaseUsd).toBeLessThanOrEqual(worst);
  });
});

describe('planner with the gemini director (vertex test server)', () => {
  it('plans with a valid answer and records the gemini director', async () => {
    vertex.enqueue({
      json: {
        continuity: [{ id: 'product', kind: 'product', description: 'Aurora shoe' }],
        shots: ['hook', 'benefit', 'call_to_action'].map((purpose) => ({
          purpose,
          prompt: `A ${purpose} shot of the Aurora shoe`,
          camera: 'static',
          durationSeconds: 5.5,
          continuity: ['product'],
        })),
      },
    });
    const jobId = await newJob('t-rich', unplanned());
    await deliver(plannerDeps({ director: gemini() }), jobId, 't-rich');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    expect(job.plan!.director).toBe('gemini:gemini-3.8-flash');
  });

  it('records a safety block on the job as a precise planning failure', async () => {
    vertex.enqueue({ safetyBlock: 'PROHIBITED_CONTENT' });
    const jobId = await newJob('t-rich', unplanned());
    await deliver(plannerDeps({ director: gemini() }), jobId, 't-rich');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.reason).toBe('planning_failed');
    expect(job.error?.message).toMatch(
      /^gemini:gemini-3.8-flash director: gemini:gemini-3.8-flash: the model's safety filter blocked the brief \(PROHIBITED_CONTENT/,
    );
    expect(await jobs.listShots(jobId)).toEqual([]);
  });

  it('nacks a retryable failure, then fails the job with the reason once the deliveries are spent', async () => {
    vertex.setDefault({ text: 'not json at all' });
    try {
      const jobId = await newJob('t-rich', unplanned());
      const deps = plannerDeps({ director: gemini() });
      await expect(deliver(deps, jobId, 't-rich', 1)).rejects.toBeInstanceOf(RetryableError);
      expect((await jobs.getJob(jobId))!.status).toBe('PLANNING');
      await deliver(deps, jobId, 't-rich', 5);
      const job = (await jobs.getJob(jobId))!;
      expect(job.status).toBe('FAILED');
      expect(job.error?.reason).toBe('planning_failed');
      expect(job.error?.message).toMatch(/unusable answer: the answer is not JSON .*\(after 2 attempts\)$/);
    } finally {
      vertex.setDefault({ status: 500, message: 'vertex test server: nothing scripted' });
    }
  });

  it('with the fallback enabled, plans locally and records plan.director_fallback with the reason', async () => {
    vertex.enqueue({ status: 503 });
    vertex.enqueue({ status: 503 });
    const jobId = await newJob('t-rich', unplanned());
    await deliver(plannerDeps({ director: gemini(), fallbackToLocal: true }), jobId, 't-rich');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    expect(job.plan!.director).toBe('local');
    const fallback = (await jobs.listEvents(jobId)).filter((e) => e.type === 'plan.director_fallback');
    expect(fallback).toHaveLength(1);
    expect(fallback[0]!.data).toMatchObject({ director: 'gemini:gemini-3.8-flash', to: 'local', retryable: true });
    expect(String(fallback[0]!.data.reason)).toMatch(/Vertex failed \(503 UNAVAILABLE\).*\(after 2 attempts\)/);
  });
});

/** Delivers a message of `topic` to the planner's handler, as the consumer would. */
async function deliverTo<T extends 'aiprod.job.approved.v1' | 'aiprod.plan.changes.requested.v1'>(
  deps: PlannerDeps,
  topic: T,
  msg: MessageOf<T>,
  deliveryAttempt = 1,
) {
  const ctx: HandlerContext = {
    topic,
    subscription: `${topic}.planner`,
    messageId: randomBytes(4).toString('hex'),
    deliveryAttempt,
    publishTime: new Date(),
    log,
  };
  await (buildPlanner(deps)[topic].handle as (m: MessageOf<T>, c: HandlerContext) => Promise<void>)(msg, ctx);
}

describe('planner: plan versions before approval', () => {
  const plans = new PlanStore(db);
  const waitingJob = async (deps: PlannerDeps) => {
    const jobId = await newJob('t-free');
    await deliver(deps, jobId, 't-free');
    expect((await jobs.getJob(jobId))!.status).toBe('AWAITING_APPROVAL');
    return jobId;
  };

  it('re-plans on a change request: the notes reach every shot’s prompt, as version 2, with a preview asked for', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await waitingJob(deps);
    const before = await jobs.listShots(jobId);
    expect(before.every((s) => !s.spec.prompt.includes('Client notes'))).toBe(true);
    const asked = await plans.requestChanges(jobId, 1, 'Night scenes, neon city', 'key:test');
    expect(asked.ok).toBe(true);
    const msg = { v: 1 as const, jobId, tenantId: 't-free', planVersion: 1 };
    await deliverTo(deps, 'aiprod.plan.changes.requested.v1', msg);

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan).toMatchObject({ version: 2, notes: ['Night scenes, neon city'], changesRequested: null });
    const after = await jobs.listShots(jobId);
    expect(after.length).toBeGreaterThanOrEqual(3);
    for (const s of after) expect(s.spec.prompt).toMatch(/\. Client notes: Night scenes, neon city$/);
    expect(job.plan!.estimate!.shots.map((s) => s.shotId)).toEqual(after.map((s) => s.shotId));
    // The new version's free preview is asked for (version 1's was asked for when it was planned).
    await waitFor(
      () => (previewsFor(jobId).some((m) => (m as { planVersion: number }).planVersion === 2) ? true : undefined),
      { timeoutMs: 10_000, what: 'the preview request of version 2' },
    );
    // A redelivery finds the request answered: still version 2, one revision.
    await deliverTo(deps, 'aiprod.plan.changes.requested.v1', msg, 2);
    expect((await jobs.getJob(jobId))!.plan!.version).toBe(2);
    expect((await jobs.listEvents(jobId)).filter((e) => e.type === 'plan.revised')).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(sentFor(jobId)).toHaveLength(0);

    // A second request follows both notes, oldest first.
    await plans.requestChanges(jobId, 2, 'Slower camera', 'key:test');
    await deliverTo(deps, 'aiprod.plan.changes.requested.v1', { ...msg, planVersion: 2 });
    const third = await jobs.listShots(jobId);
    for (const s of third) expect(s.spec.prompt).toMatch(/Client notes: Night scenes, neon city; Slower camera$/);
  });

  it('drops a change request the director cannot answer: the plan stays, the timeline says why', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await waitingJob(deps);
    const shots = await jobs.listShots(jobId);
    await plans.requestChanges(jobId, 1, 'Anything', 'key:test');
    const failing: CreativeDirector = {
      name: 'broken',
      plan: () => Promise.reject(new RetryableError('vendor down')),
    };
    const msg = { v: 1 as const, jobId, tenantId: 't-free', planVersion: 1 };
    await expect(deliverTo({ ...deps, director: failing }, 'aiprod.plan.changes.requested.v1', msg)).rejects.toThrow(
      RetryableError,
    );
    expect((await jobs.getJob(jobId))!.plan!.changesRequested).toMatchObject({ version: 1 });
    await deliverTo({ ...deps, director: failing }, 'aiprod.plan.changes.requested.v1', msg, 5);
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan).toMatchObject({ version: 1, changesRequested: null });
    expect(await jobs.listShots(jobId)).toEqual(shots);
    const failed = (await jobs.listEvents(jobId)).find((e) => e.type === 'plan.changes_failed');
    expect(failed?.data).toMatchObject({ planVersion: 1, reason: expect.stringMatching(/vendor down/) });
  });

  it('drops a change request whose new plan cannot be priced, on the last delivery, rather than dead-lettering it', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await waitingJob(deps);
    await plans.requestChanges(jobId, 1, 'Anything', 'key:test');
    // A director answer with no shots: assigning backends to it throws (a bug, so retried).
    const hollow: CreativeDirector = {
      name: 'hollow',
      plan: async (b, c) => ({ ...(await localDirector.plan(b, c)), shots: [] }),
    };
    const msg = { v: 1 as const, jobId, tenantId: 't-free', planVersion: 1 };
    await expect(deliverTo({ ...deps, director: hollow }, 'aiprod.plan.changes.requested.v1', msg)).rejects.toThrow();
    expect((await jobs.getJob(jobId))!.plan!.changesRequested).toMatchObject({ version: 1 });
    await deliverTo({ ...deps, director: hollow }, 'aiprod.plan.changes.requested.v1', msg, 5);
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan).toMatchObject({ version: 1, changesRequested: null });
    const failed = (await jobs.listEvents(jobId)).find((e) => e.type === 'plan.changes_failed');
    expect(failed?.data).toMatchObject({ planVersion: 1, reason: expect.stringMatching(/needs shots/) });
  });

  it('a dead-lettered change request drops the request, not the job: it keeps waiting at its version', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await waitingJob(deps);
    const shots = await jobs.listShots(jobId);
    await plans.requestChanges(jobId, 1, 'Anything', 'key:test');
    // As the dead-letter watcher hands it on after the last delivery (whatever threw: the director,
    // Firestore, a bug), with the message's own body.
    const letter = {
      subscription: 'aiprod.plan.changes.requested.v1.planner',
      topic: 'aiprod.plan.changes.requested.v1' as const,
      messageId: randomBytes(4).toString('hex'),
      jobId,
      data: JSON.stringify({ v: 1, jobId, tenantId: 't-free', planVersion: 1 }),
    };
    await recordDeadLetter(deps, letter, (l) => planLetterSuperseded(deps, l));

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan).toMatchObject({ version: 1, changesRequested: null });
    expect(await jobs.listShots(jobId)).toEqual(shots);
    const events = await jobs.listEvents(jobId);
    expect(events.find((e) => e.type === 'plan.changes_failed')?.data).toMatchObject({
      planVersion: 1,
      reason: expect.stringMatching(/could not be answered/),
    });
    expect(events.find((e) => e.type === 'message.superseded')?.data).toMatchObject({ step: 'revising the plan' });
    // The version can be approved now (a pending request would hold it).
    expect(await plans.approve(jobId, 1, 'key:test')).toMatchObject({ ok: true });
    // A letter of any other topic is not the planner's to excuse: the job fails as before.
    const other = { ...letter, topic: 'aiprod.job.requested.v1' as const };
    expect(await planLetterSuperseded(deps, other)).toBeNull();
  });

  it('renders exactly the approved version: its edited prompt goes to the render pool; an unrecorded approval starts nothing', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await waitingJob(deps);
    // An approval message the gateway never recorded (a forged or replayed one) starts nothing.
    await deliverTo(deps, 'aiprod.job.approved.v1', { v: 1, jobId, tenantId: 't-free', approver: 'x', planVersion: 1 });
    expect((await jobs.getJob(jobId))!.status).toBe('AWAITING_APPROVAL');

    // The client edits s01's prompt (version 2), as PATCH /v1/jobs/{id}/plan does, then approves version 2.
    const edited = 'A trail runner at dawn, mist over the ridge, the shoe in sharp focus';
    const revised = await plans.revise(jobId, 1, 'edit', (job, shots) => ({
      plan: job.plan!,
      shots: shots.map((s) => ({
        spec: s.shotId === 's01' ? { ...s.spec, prompt: edited } : s.spec,
        backend: s.backend,
      })),
      event: { by: 'key:test', shots: ['s01'] },
    }));
    expect('ok' in revised && revised.ok).toBe(true);
    expect((await plans.approve(jobId, 1, 'key:test')).ok).toBe(false);
    expect(await plans.approve(jobId, 2, 'key:test')).toMatchObject({ ok: true, repeated: false });
    // A message naming another version than the recorded one starts nothing either.
    await deliverTo(deps, 'aiprod.job.approved.v1', { v: 1, jobId, tenantId: 't-free', approver: 'x', planVersion: 1 });
    expect((await jobs.getJob(jobId))!.status).toBe('AWAITING_APPROVAL');

    await deliverTo(deps, 'aiprod.job.approved.v1', { v: 1, jobId, tenantId: 't-free', approver: 'c', planVersion: 2 });
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    const shots = await jobs.listShots(jobId);
    const sent = await waitFor(() => (sentFor(jobId).length === shots.length ? sentFor(jobId) : undefined), {
      timeoutMs: 10_000,
      what: 'the approved version’s render requests',
    });
    const first = sent.find((p) => p.msg.shotId === 's01')!;
    expect(first.msg.spec.prompt).toBe(edited);
    expect(sent.map((p) => p.msg.spec).sort((a, b) => a.index - b.index)).toEqual(shots.map((s) => s.spec));
    expect((await jobs.listEvents(jobId)).find((e) => e.type === 'job.approved')?.data).toMatchObject({
      approver: 'c',
      planVersion: 2,
    });
  });
});

/** The planner's deps with a publisher whose next publish on `topic` throws (Pub/Sub unreachable). */
function failingOnceOn(deps: PlannerDeps, topic: string): PlannerDeps {
  let failed = false;
  const real = deps.publisher;
  const publisher = Object.assign(Object.create(real) as Publisher<'planner'>, {
    publish: ((t: string, payload: unknown, options?: unknown) => {
      if (t === topic && !failed) {
        failed = true;
        return Promise.reject(new Error(`pubsub unavailable publishing ${t}`));
      }
      return (real.publish as (t: string, p: unknown, o?: unknown) => Promise<string>)(t, payload, options);
    }) as Publisher<'planner'>['publish'],
  });
  return { ...deps, publisher };
}

describe('planner: approvals it does not act on', () => {
  it('counts them by why: not recorded, another version than the recorded one, a job no longer waiting', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await newJob('t-free');
    await deliver(deps, jobId, 't-free');
    const approved = (planVersion: number) =>
      deliverTo(deps, 'aiprod.job.approved.v1', { v: 1, jobId, tenantId: 't-free', approver: 'x', planVersion });
    const metrics = await startMetricsProbe('planner');
    const ignored = (why: string) => metrics.value('aiprod_approvals_ignored_total', { why });
    try {
      await approved(1);
      expect(await ignored('not_recorded')).toBe(1);
      await new PlanStore(db).approve(jobId, 1, 'key:test');
      await approved(2);
      expect(await ignored('not_current')).toBe(1);
      await jobs.fail(jobId, 'render_failed', 'test');
      await approved(1);
      expect(await ignored('not_waiting')).toBe(1);
      expect((await jobs.getJob(jobId))!.status).toBe('FAILED');
      expect(sentFor(jobId)).toHaveLength(0);
    } finally {
      await metrics.stop();
    }
  });
});

describe('planner: a re-plan whose preview request was lost', () => {
  const plans = new PlanStore(db);

  it('asks for the new version’s preview again on the redelivery, and not once its preview is recorded', async () => {
    const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
    const jobId = await newJob('t-free');
    await deliver(deps, jobId, 't-free');
    await plans.requestChanges(jobId, 1, 'Golden hour', 'key:test');
    const msg = { v: 1 as const, jobId, tenantId: 't-free', planVersion: 1 };
    // The new version is stored, then publishing its preview request fails: the message is nacked.
    await expect(
      deliverTo(failingOnceOn(deps, 'aiprod.preview.requested.v1'), 'aiprod.plan.changes.requested.v1', msg),
    ).rejects.toThrow(/pubsub unavailable/);
    expect((await jobs.getJob(jobId))!.plan).toMatchObject({ version: 2, changesRequested: null });
    const v2 = () => previewsFor(jobId).filter((m) => (m as { planVersion: number }).planVersion === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(v2()).toHaveLength(0);

    await deliverTo(deps, 'aiprod.plan.changes.requested.v1', msg, 2);
    await waitFor(() => (v2().length === 1 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the preview request of version 2, on the redelivery',
    });
    expect((await jobs.getJob(jobId))!.plan!.version).toBe(2);

    // Once delivery has recorded the preview of version 2, a further redelivery asks for nothing.
    await new PreviewStore(db).record(jobId, { planVersion: 2, status: 'RENDERING' });
    await deliverTo(deps, 'aiprod.plan.changes.requested.v1', msg, 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(v2()).toHaveLength(1);
  });
});

describe('planner: a recorded approval or change request whose message was lost', () => {
  const plans = new PlanStore(db);
  const deps = plannerDeps({ enabledBackends: ['local', 'replicate', 'runway'] });
  const waitingJob = async () => {
    const jobId = await newJob('t-free');
    await deliver(deps, jobId, 't-free');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    return job;
  };
  /** The recorded decision's short deadline, checked, then moved into the past (time passing). */
  const shortDeadlinePasses = async (jobId: string, recordedAt: number) => {
    const deadline = (await jobs.getJob(jobId))!.deadlineAt!.toMillis();
    expect(deadline).toBeGreaterThan(recordedAt);
    expect(deadline).toBeLessThanOrEqual(Date.now() + RECORDED_DECISION_GRACE_SECONDS * 1000);
    await db
      .collection('jobs')
      .doc(jobId)
      .update({ deadlineAt: Timestamp.fromMillis(Date.now() - 1000) });
  };
  /** One pass of the planner's sweeper, as main.ts starts it. */
  const sweep = async (sweepDeps: PlannerDeps = deps) => {
    const sweeper = startSweeper({ ...sweepDeps, policies: plannerSweep(sweepDeps), intervalMs: 3_600_000 });
    try {
      return await sweeper.sweepOnce();
    } finally {
      await sweeper.stop();
    }
  };

  it('an approval whose job.approved was never published: the sweep starts the render; the late message does nothing twice', async () => {
    const { jobId } = await waitingJob();
    const recordedAt = Date.now();
    // What the gateway commits before publishing job.approved; the publish then failed.
    expect(await plans.approve(jobId, 1, 'key:approver')).toMatchObject({ ok: true });
    await shortDeadlinePasses(jobId, recordedAt);
    expect(await sweep()).toBeGreaterThanOrEqual(1);

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    const shots = await jobs.listShots(jobId);
    await waitFor(() => (sentFor(jobId).length === shots.length ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the approved version’s render requests, from the sweep',
    });
    const approvedEvents = async () => (await jobs.listEvents(jobId)).filter((e) => e.type === 'job.approved');
    expect((await approvedEvents())[0]!.data).toMatchObject({ approver: 'key:approver', planVersion: 1 });

    // The message arrives after all (a repeat of the request, or a publish that was only slow).
    await deliverTo(deps, 'aiprod.job.approved.v1', {
      v: 1,
      jobId,
      tenantId: 't-free',
      approver: 'key:approver',
      planVersion: 1,
    });
    expect((await jobs.getJob(jobId))!.status).toBe('RENDERING');
    expect(await approvedEvents()).toHaveLength(1);
  });

  it('a change request whose message was never published: the sweep re-plans it; the late message does nothing twice', async () => {
    const waiting = await waitingJob();
    const { jobId } = waiting;
    const recordedAt = Date.now();
    expect(await plans.requestChanges(jobId, 1, 'Rain on the window', 'key:test')).toMatchObject({ ok: true });
    await shortDeadlinePasses(jobId, recordedAt);
    expect(await sweep()).toBeGreaterThanOrEqual(1);

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan).toMatchObject({ version: 2, notes: ['Rain on the window'], changesRequested: null });
    for (const s of await jobs.listShots(jobId)) expect(s.spec.prompt).toMatch(/Client notes: Rain on the window$/);
    // The client's approval window is the one it had before the request, not the short one.
    expect(job.deadlineAt!.toMillis()).toBe(waiting.deadlineAt!.toMillis());
    await waitFor(
      () => (previewsFor(jobId).some((m) => (m as { planVersion: number }).planVersion === 2) ? true : undefined),
      { timeoutMs: 10_000, what: 'the preview request of version 2' },
    );

    await deliverTo(deps, 'aiprod.plan.changes.requested.v1', { v: 1, jobId, tenantId: 't-free', planVersion: 1 });
    expect((await jobs.getJob(jobId))!.plan!.version).toBe(2);
    expect((await jobs.listEvents(jobId)).filter((e) => e.type === 'plan.revised')).toHaveLength(1);
  });

  it('a change request the director cannot answer when swept is tried again within minutes, and dropped on the last sweep', async () => {
    const waiting = await waitingJob();
    const { jobId } = waiting;
    await plans.requestChanges(jobId, 1, 'Snow', 'key:test');
    const down: CreativeDirector = { name: 'broken', plan: () => Promise.reject(new RetryableError('vendor down')) };
    const failing = { ...deps, director: down };
    const overdue = (patch: Record<string, unknown> = {}) =>
      db
        .collection('jobs')
        .doc(jobId)
        .update({ deadlineAt: Timestamp.fromMillis(Date.now() - 1000), ...patch });

    await overdue();
    const sweptAt = Date.now();
    await sweep(failing);
    const retried = (await jobs.getJob(jobId))!;
    expect(retried.status).toBe('AWAITING_APPROVAL');
    expect(retried.plan!.changesRequested).toMatchObject({ version: 1 });
    expect(retried.deadlineAt!.toMillis()).toBeGreaterThanOrEqual(sweptAt);
    expect(retried.deadlineAt!.toMillis()).toBeLessThanOrEqual(Date.now() + RECORDED_DECISION_GRACE_SECONDS * 1000);

    // The fifth sweep is the last: the request is dropped and the job waits at version 1 again.
    await overdue({ sweeps: 4 });
    await sweep(failing);
    const dropped = (await jobs.getJob(jobId))!;
    expect(dropped.status).toBe('AWAITING_APPROVAL');
    expect(dropped.plan).toMatchObject({ version: 1, changesRequested: null });
    expect(dropped.deadlineAt!.toMillis()).toBe(waiting.deadlineAt!.toMillis());
    const failed = (await jobs.listEvents(jobId)).find((e) => e.type === 'plan.changes_failed');
    expect(failed?.data).toMatchObject({ planVersion: 1, reason: expect.stringMatching(/vendor down/) });
  });

  it('a job nobody approved or changed still expires at its deadline', async () => {
    const { jobId } = await waitingJob();
    await db
      .collection('jobs')
      .doc(jobId)
      .update({ deadlineAt: Timestamp.fromMillis(Date.now() - 1000) });
    expect(await sweep()).toBeGreaterThanOrEqual(1);
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.reason).toBe('deadline_exceeded');
    expect(sentFor(jobId)).toHaveLength(0);
  });

  /** What the sweeper hands the nudge: the job as it was when this sweep claimed it at its deadline. */
  const claimedAtDeadline = async (jobId: string) => {
    await db
      .collection('jobs')
      .doc(jobId)
      .update({ deadlineAt: Timestamp.fromMillis(Date.now() - 1000) });
    const claimed = await jobs.claimOverdue(jobId, 'AWAITING_APPROVAL', Timestamp.now());
    expect(claimed).not.toBeNull();
    return claimed!;
  };
  const nudge = (job: Awaited<ReturnType<typeof claimedAtDeadline>>, nudgeDeps: PlannerDeps = deps) =>
    resumeRecordedDecision(nudgeDeps, job, log, { lastAttempt: false });

  it('an approval recorded after the sweep claimed the expiring job: the nudge renders it, it does not fail it', async () => {
    const { jobId } = await waitingJob();
    const claimed = await claimedAtDeadline(jobId);
    // The client approves (202) between the claim and the nudge.
    expect(await plans.approve(jobId, 1, 'key:late')).toMatchObject({ ok: true, repeated: false });
    await nudge(claimed);

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    expect(job.error).toBeUndefined();
    const shots = await jobs.listShots(jobId);
    await waitFor(() => (sentFor(jobId).length === shots.length ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the render requests of the approval recorded during the sweep',
    });
    const events = await jobs.listEvents(jobId);
    expect(events.filter((e) => e.type === 'job.failed')).toHaveLength(0);
    expect(events.find((e) => e.type === 'job.approved')?.data).toMatchObject({ approver: 'key:late', planVersion: 1 });
  });

  it('a change request recorded after the sweep claimed the expiring job: the nudge answers it, the job keeps waiting', async () => {
    const { jobId } = await waitingJob();
    const claimed = await claimedAtDeadline(jobId);
    expect(await plans.requestChanges(jobId, 1, 'Fog at dawn', 'key:late')).toMatchObject({ ok: true });
    await nudge(claimed);

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan).toMatchObject({ version: 2, notes: ['Fog at dawn'], changesRequested: null });
  });

  it('a job the approval moved on after the sweep claimed it is left as it is, not failed', async () => {
    const { jobId } = await waitingJob();
    const claimed = await claimedAtDeadline(jobId);
    // The client approved and job.approved was handled, all between the claim and the nudge.
    await plans.approve(jobId, 1, 'key:fast');
    await deliverTo(deps, 'aiprod.job.approved.v1', {
      v: 1,
      jobId,
      tenantId: 't-free',
      approver: 'key:fast',
      planVersion: 1,
    });
    expect((await jobs.getJob(jobId))!.status).toBe('RENDERING');
    await nudge(claimed);
    expect((await jobs.getJob(jobId))!.status).toBe('RENDERING');
  });

  it('an approval recorded just after the recheck found nothing: the expiry does not fail the job over it', async () => {
    const { jobId } = await waitingJob();
    const claimed = await claimedAtDeadline(jobId);
    // The narrowest window: the recheck has answered "nothing recorded", then the client approves.
    const racing = Object.create(plans) as PlanStore;
    racing.recheckRecordedDecision = async (id: string) => {
      const recorded = await plans.recheckRecordedDecision(id);
      expect(await plans.approve(id, 1, 'key:racing')).toMatchObject({ ok: true });
      return recorded;
    };
    await nudge(claimed, { ...deps, plans: racing });

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan!.approval).toMatchObject({ version: 1, by: 'key:racing' });
    // Its short deadline brings the next sweep within minutes, which acts on the approval.
    expect(job.deadlineAt!.toMillis()).toBeLessThanOrEqual(Date.now() + RECORDED_DECISION_GRACE_SECONDS * 1000);
  });

  it('a change request answered between the claim and the expiry gives the window back: the job is not failed', async () => {
    const { jobId } = await waitingJob();
    const claimed = await claimedAtDeadline(jobId);
    // The recheck finds nothing; meanwhile the change request's own handler revises the plan to
    // version 2 and restores the client's deadline (stood in for by the revision's two writes).
    const racing = Object.create(plans) as PlanStore;
    racing.recheckRecordedDecision = async (id: string) => {
      const recorded = await plans.recheckRecordedDecision(id);
      const job = (await jobs.getJob(id))!;
      await db
        .collection('jobs')
        .doc(id)
        .update({
          'plan.version': 2,
          deadlineAt: Timestamp.fromMillis(Date.now() + 5 * 86_400_000),
          version: job.version + 1,
        });
      return recorded;
    };
    await nudge(claimed, { ...deps, plans: racing });

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.plan!.version).toBe(2);
  });

  it('a claimed job with nothing recorded still expires FAILED when nudged', async () => {
    const { jobId } = await waitingJob();
    await nudge(await claimedAtDeadline(jobId));
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.reason).toBe('deadline_exceeded');
    expect(sentFor(jobId)).toHaveLength(0);
  });
});
