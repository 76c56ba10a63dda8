import request from 'supertest';
import { presetOf, problemTypeUri, type Brief, type ShotPlan } from '@aiprod/contracts';
import { apiKeyPrefix, RECORDED_DECISION_GRACE_SECONDS, type Job } from '@aiprod/job-store';
import type { Publisher } from '@aiprod/pubsub';
import { estimateAssigned } from '@aiprod/vendor-catalogue';
import { waitFor } from '@aiprod/testing';
import type { PlanViewBody } from '../src/openapi/plan-schemas';
import { BRIEF, jobIn, plannedJob, startHarness, type Harness } from './harness';
import { SpecChecker } from './spec-checker';

// The storyboard API: what a client reads before paying, the edits it may make, the change
// requests it sends the director, and the approval of one exact version.
let h: Harness;
const spec = new SpecChecker();
const previews: { jobId: string; version: number | undefined }[] = [];
const BACKENDS = ['local', 'replicate', 'runway'] as const;
/** Topics whose next publish throws, as when Pub/Sub is unreachable for a moment. */
const failNextPublish = new Set<string>();

/** The gateway's publisher, refusing the next publish on the topics in failNextPublish. */
function flaky(real: Publisher<'gateway'>): Publisher<'gateway'> {
  const publish = (topic: string, payload: unknown, options?: unknown) =>
    failNextPublish.delete(topic)
      ? Promise.reject(new Error(`pubsub unavailable publishing ${topic}`))
      : (real.publish as (t: string, p: unknown, o?: unknown) => Promise<string>)(topic, payload, options);
  return Object.assign(Object.create(real) as Publisher<'gateway'>, { publish });
}

beforeAll(async () => {
  h = await startHarness('gateway-plan', {
    deps: ({ publisher }) => ({
      publisher: flaky(publisher),
      enabledBackends: BACKENDS,
      requestPreview: (job: Job) => {
        previews.push({ jobId: job.jobId, version: job.plan?.version });
        return Promise.resolve();
      },
    }),
  });
}, 30_000);
afterAll(async () => {
  await h?.close();
});

type Method = 'get' | 'post' | 'patch';
async function call(method: Method, url: string, opts: { key: string; body?: unknown; ifMatch?: string }) {
  let r = request(h.app)[method](url).set('Authorization', `Bearer ${opts.key}`);
  if (opts.ifMatch !== undefined) r = r.set('If-Match', opts.ifMatch);
  const res = await (opts.body !== undefined ? r.send(opts.body as object) : r);
  spec.check(method, url, res);
  return res;
}
const getPlan = async (id: string) => {
  const res = await call('get', `/v1/jobs/${id}/plan`, { key: h.keys.read });
  expect(res.status).toBe(200);
  return res.body as PlanViewBody;
};
const problem = (res: request.Response) => {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.body as { type: string; errors?: { field: string; rule: string; message: string }[] };
};
/** A job planned on Replicate (social_quick's basic tier), waiting for approval at version 1. */
const waiting = (brief: Brief = BRIEF as Brief) => plannedJob(h, { brief, enabledBackends: [...BACKENDS] });
const sum = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) * 1e6) / 1e6;

describe('GET /v1/jobs/{id}/plan', () => {
  it('shows every shot as it will be rendered, with costs that add up to the estimate, and its version as ETag', async () => {
    const id = await waiting();
    const res = await call('get', `/v1/jobs/${id}/plan`, { key: h.keys.read });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"1"');
    const plan = res.body as PlanViewBody;
    const job = (await h.jobs.getJob(id))!;
    const shots = await h.jobs.listShots(id);
    expect(plan).toMatchObject({
      jobId: id,
      status: 'AWAITING_APPROVAL',
      version: 1,
      etag: '"1"',
      approvedVersion: null,
    });
    expect(plan.shots.map((s) => s.id)).toEqual(shots.map((s) => s.shotId));
    for (const [i, s] of plan.shots.entries()) {
      const stored = shots[i]!.spec;
      expect(s).toMatchObject({
        purpose: stored.purpose,
        durationSeconds: stored.durationSeconds,
        prompt: stored.prompt,
        negativePrompt: stored.negativePrompt ?? null,
        camera: stored.camera,
        onScreenText: stored.onScreenText ?? null,
        voiceOver: stored.voiceOver ?? null,
        continuity: (stored.continuity ?? []).map((c) => c.id),
        backend: 'replicate',
        model: 'wan-video/wan-2.2-t2v-fast',
      });
      expect(s.prompt.length).toBeGreaterThan(10);
      expect(s.cost!.firstPassUsd).toBeGreaterThan(0);
      expect(s.cost!.expectedUsd).toBeGreaterThan(s.cost!.firstPassUsd);
      expect(s.cost!.worstCaseUsd).toBeGreaterThan(s.cost!.expectedUsd);
      // The worst case is every allowed take on every backend of the chain, billed.
      const chain = s.cost!.fallbackChain!;
      expect(chain[0]!.backend).toBe('replicate');
      const maxAttempts = presetOf('social_quick').qa.maxAttempts;
      expect(s.cost!.worstCaseUsd).toBeCloseTo(maxAttempts * sum(chain.map((c) => c.attempts * c.attemptUsd)), 5);
    }
    expect(plan.continuity.map((c) => c.id)).toEqual(expect.arrayContaining(['product', 'style']));
    // The totals are the estimate stored with the plan, and the shots add up to them.
    expect(plan.totals).toEqual({
      currency: 'USD',
      priceTableVersion: job.plan!.estimate!.priceTableVersion,
      firstPassUsd: sum(plan.shots.map((s) => s.cost!.firstPassUsd)),
      expectedUsd: sum(plan.shots.map((s) => s.cost!.expectedUsd)),
      worstCaseUsd: sum(plan.shots.map((s) => s.cost!.worstCaseUsd)),
      budgetCapUsd: null,
    });
    expect(plan.totals!.expectedUsd).toBe(job.plan!.estimatedCostUsd);
    // An independent pricing of the same shots on the same backends gives the same figures.
    const again = estimateAssigned(
      {
        director: 'local',
        width: plan.width,
        height: plan.height,
        fps: plan.fps,
        endCardSeconds: plan.endCardSeconds,
        transition: job.plan!.transition!,
        fittedFor: 'replicate',
        continuity: plan.continuity,
        shots: shots.map((s) => s.spec),
      } as ShotPlan,
      shots.map((s) => s.backend),
      { preset: presetOf('social_quick'), enabledBackends: BACKENDS },
    );
    expect([again.firstPassUsd, again.totalUsd, again.worstCaseUsd]).toEqual([
      plan.totals!.firstPassUsd,
      plan.totals!.expectedUsd,
      plan.totals!.worstCaseUsd,
    ]);
    expect(plan.cutSeconds).toBeCloseTo(BRIEF.durationSeconds, 0);
    expect(plan.editable.backends).toEqual(['local', 'replicate', 'runway']);
    expect(plan.links.approve).toBe(`/v1/jobs/${id}/approve`);

    // The job view links to it and names the version.
    const view = await call('get', `/v1/jobs/${id}`, { key: h.keys.read });
    expect(view.body.plan).toMatchObject({ version: 1, approvedVersion: null, href: `/v1/jobs/${id}/plan` });
  });

  it('is 404 before the job is planned and for another tenant’s job', async () => {
    const queued = await jobIn(h, 'QUEUED');
    expect((await call('get', `/v1/jobs/${queued}/plan`, { key: h.keys.read })).status).toBe(404);
    const id = await waiting();
    const crossed = await call('get', `/v1/jobs/${id}/plan`, { key: h.keys.other });
    expect(crossed.status).toBe(404);
    expect(problem(crossed).type).toBe(problemTypeUri('not_found'));
  });
});

describe('PATCH /v1/jobs/{id}/plan', () => {
  it('edits a shot: a new version in the shot documents and the plan, re-priced, with a preview requested', async () => {
    const id = await waiting();
    const before = await getPlan(id);
    const res = await call('patch', `/v1/jobs/${id}/plan`, {
      key: h.keys.readWrite,
      ifMatch: '"1"',
      body: {
        shots: [
          { id: 's02', prompt: 'The shoe on a rain-soaked track at night, neon reflections', camera: 'static' },
          { id: 's03', backend: 'runway', onScreenText: null },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"2"');
    const plan = res.body as PlanViewBody;
    expect(plan.version).toBe(2);
    const stored = await h.jobs.listShots(id);
    expect(stored[1]!.spec).toMatchObject({
      prompt: 'The shoe on a rain-soaked track at night, neon reflections',
      camera: 'static',
    });
    expect(stored[2]!.backend).toBe('runway');
    expect(stored[2]!.spec.onScreenText).toBeUndefined();
    // Untouched shots stay as they were.
    expect(plan.shots[0]).toEqual(before.shots[0]);
    // Re-priced: s03 now costs what Runway charges, and the totals follow.
    expect(plan.shots[2]!.cost!.fallbackChain![0]!.backend).toBe('runway');
    expect(plan.shots[2]!.cost!.firstPassUsd).not.toBe(before.shots[2]!.cost!.firstPassUsd);
    expect(plan.totals!.expectedUsd).toBe(sum(plan.shots.map((s) => s.cost!.expectedUsd)));
    expect((await h.jobs.getJob(id))!.plan!.estimatedCostUsd).toBe(plan.totals!.expectedUsd);
    expect(previews).toContainEqual({ jobId: id, version: 2 });
    const events = await h.jobs.listEvents(id);
    expect(events.find((e) => e.type === 'plan.revised')?.data).toMatchObject({
      kind: 'edit',
      planVersion: 2,
      shots: ['s02', 's03'],
    });
  });

  it('needs If-Match (428), refuses a stale version (412) and changes nothing', async () => {
    const id = await waiting();
    const body = { shots: [{ id: 's01', prompt: 'Edited' }] };
    const missing = await call('patch', `/v1/jobs/${id}/plan`, { key: h.keys.readWrite, body });
    expect(missing.status).toBe(428);
    expect(problem(missing).type).toBe(problemTypeUri('precondition_required'));
    expect((await call('patch', `/v1/jobs/${id}/plan`, { key: h.keys.readWrite, body, ifMatch: 'W/"1"' })).status).toBe(
      428,
    );
    expect((await call('patch', `/v1/jobs/${id}/plan`, { key: h.keys.readWrite, body, ifMatch: '"1"' })).status).toBe(
      200,
    );
    const shots = await h.jobs.listShots(id);
    const stale = await call('patch', `/v1/jobs/${id}/plan`, {
      key: h.keys.readWrite,
      ifMatch: '"1"',
      body: { shots: [{ id: 's01', prompt: 'Edited on an old copy' }] },
    });
    expect(stale.status).toBe(412);
    expect(problem(stale).type).toBe(problemTypeUri('precondition_failed'));
    expect(stale.headers.etag).toBe('"2"');
    expect(await h.jobs.listShots(id)).toEqual(shots);
    expect((await getPlan(id)).version).toBe(2);
  });

  it('names every field an edit gets wrong, and stores nothing', async () => {
    const id = await waiting();
    const shots = await h.jobs.listShots(id);
    const errorsOf = async (body: unknown) => {
      const res = await call('patch', `/v1/jobs/${id}/plan`, { key: h.keys.readWrite, ifMatch: '"1"', body });
      expect(res.status).toBe(400);
      expect(problem(res).type).toBe(problemTypeUri('validation'));
      return problem(res).errors!.map((e) => [e.field, e.rule]);
    };
    // Fields the director owns, unknown shots, text over its limit.
    expect(await errorsOf({ shots: [{ id: 's01', purpose: 'proof' }] })).toContainEqual([
      '/shots/0/purpose',
      'additionalProperties',
    ]);
    expect(await errorsOf({ shots: [{ id: 's01', onScreenText: 'x'.repeat(41) }] })).toEqual([
      ['/shots/0/onScreenText', 'maxLength'],
    ]);
    expect(await errorsOf({ shots: [{ id: 's01' }] })).toEqual([['/shots/0', 'minProperties']]);
    expect(await errorsOf({ shots: [{ id: 's09', prompt: 'x' }] })).toEqual([['/shots/0/id', 'exists']]);
    expect(
      await errorsOf({
        shots: [
          { id: 's01', prompt: 'a' },
          { id: 's01', camera: 'static' },
        ],
      }),
    ).toEqual([['/shots/1/id', 'uniqueItems']]);
    // A backend the preset does not allow; a length the backend does not make; both at once.
    const wrong = await errorsOf({
      shots: [
        { id: 's01', backend: 'veo' },
        { id: 's02', durationSeconds: 6 },
      ],
    });
    expect(wrong).toEqual([
      ['/shots/0/backend', 'enum'],
      ['/shots/1/durationSeconds', 'backendDuration'],
    ]);
    // A length the backend makes but that makes the cut longer than the brief.
    expect(await errorsOf({ shots: [{ id: 's01', durationSeconds: 8 }] })).toEqual([['/shots', 'cutLength']]);
    expect(await h.jobs.listShots(id)).toEqual(shots);
    expect((await getPlan(id)).version).toBe(1);
  });

  it('keeps the cut when one shot lengthens and another shortens, and refuses a budget cap breach', async () => {
    const id = await waiting({ ...(BRIEF as Brief), preset: 'social_quick' });
    const plan = await getPlan(id);
    const [a, b] = [plan.shots[1]!, plan.shots[2]!];
    const longer = await call('patch', `/v1/jobs/${id}/plan`, {
      key: h.keys.readWrite,
      ifMatch: '"1"',
      body: {
        shots: [
          { id: a.id, backend: 'runway', durationSeconds: a.durationSeconds + 1 },
          { id: b.id, backend: 'runway', durationSeconds: b.durationSeconds - 1 },
        ],
      },
    });
    expect(longer.status).toBe(200);
    expect((longer.body as PlanViewBody).cutSeconds).toBeCloseTo(plan.cutSeconds, 5);

    const capped = await waiting({ ...(BRIEF as Brief), budgetCapUsd: plan.totals!.worstCaseUsd + 0.01 });
    const over = await call('patch', `/v1/jobs/${capped}/plan`, {
      key: h.keys.readWrite,
      ifMatch: '"1"',
      body: { shots: [{ id: 's01', backend: 'runway' }] },
    });
    expect(over.status).toBe(400);
    expect(problem(over).errors).toEqual([expect.objectContaining({ field: '/shots', rule: 'budgetCap' })]);
  });
});

describe('PATCH /v1/jobs/{id}/plan: the voice-over', () => {
  const patch = (id: string, shots: unknown[]) =>
    call('patch', `/v1/jobs/${id}/plan`, { key: h.keys.readWrite, ifMatch: '"1"', body: { shots } });

  it('refuses a line too long to say in its shot (voiceFits, naming the field) and takes one that fits', async () => {
    const id = await waiting({ ...(BRIEF as Brief), voiceOver: true });
    const shots = await h.jobs.listShots(id);
    const long = 'Aurora carries you further every single morning, on every road and in every weather. '
      .repeat(3)
      .trim();
    const res = await patch(id, [
      { id: 's02', camera: 'static' },
      { id: 's01', voiceOver: long },
    ]);
    expect(res.status).toBe(400);
    expect(problem(res).errors).toEqual([
      {
        field: '/shots/1/voiceOver',
        rule: 'voiceFits',
        message: expect.stringMatching(/^shot s01's en voice-over takes about/),
      },
    ]);
    expect(await h.jobs.listShots(id)).toEqual(shots);
    expect((await getPlan(id)).version).toBe(1);

    const fits = await patch(id, [{ id: 's01', voiceOver: 'Meet Aurora.' }]);
    expect(fits.status).toBe(200);
    expect((await h.jobs.listShots(id))[0]!.spec.voiceOver).toBe('Meet Aurora.');
  });

  it('refuses words the video font cannot draw and a line with nothing to say, naming each field', async () => {
    const id = await waiting({ ...(BRIEF as Brief), voiceOver: true });
    const res = await patch(id, [
      { id: 's01', voiceOver: '★★★' },
      { id: 's02', onScreenText: '走る喜び' },
    ]);
    expect(res.status).toBe(400);
    expect(problem(res).errors).toEqual([
      expect.objectContaining({ field: '/shots/0/voiceOver', rule: 'speakable' }),
      expect.objectContaining({ field: '/shots/1/onScreenText', rule: 'drawableScript' }),
    ]);
    expect((await getPlan(id)).version).toBe(1);
  });

  it('refuses a line or on-screen text edit on a plan with several languages (perLanguage); other edits still pass', async () => {
    const brief = {
      ...(BRIEF as Brief),
      voiceOver: true,
      languages: ['en', 'fr'],
      translations: { fr: { keyMessage: 'Courez plus fort', callToAction: 'Courez plus fort' } },
    } as Brief;
    const id = await waiting(brief);
    const shots = await h.jobs.listShots(id);
    // The planner saves every language's words with the plan; the harness plans one, so add them.
    const words = (language: string) =>
      shots.map((s) => ({
        ...(s.spec.voiceOver ? { voiceOver: `${language}: ${s.spec.voiceOver}` } : {}),
        ...(s.spec.onScreenText ? { onScreenText: s.spec.onScreenText } : {}),
      }));
    await h.db
      .collection('jobs')
      .doc(id)
      .update({
        'plan.languages': [
          { language: 'en', source: 'brief', shots: words('en') },
          { language: 'fr', source: 'supplied', shots: words('fr') },
        ],
      });
    for (const [edit, field] of [
      [{ id: 's02', voiceOver: 'Run brighter.' }, '/shots/0/voiceOver'],
      [{ id: 's02', onScreenText: 'Run brighter' }, '/shots/0/onScreenText'],
      [{ id: 's02', onScreenText: null }, '/shots/0/onScreenText'],
    ] as const) {
      const res = await patch(id, [edit]);
      expect(res.status).toBe(400);
      expect(problem(res).errors).toEqual([
        { field, rule: 'perLanguage', message: expect.stringContaining('this plan speaks en, fr') },
      ]);
    }
    expect(await h.jobs.listShots(id)).toEqual(shots);
    const other = await patch(id, [{ id: 's02', camera: 'static' }]);
    expect(other.status).toBe(200);
  });
});

describe('POST /v1/jobs/{id}/approve', () => {
  it('is refused to a key without jobs:approve (403), even one that may submit and edit', async () => {
    const id = await waiting();
    for (const key of [h.keys.write, h.keys.readWrite]) {
      const res = await call('post', `/v1/jobs/${id}/approve`, { key, ifMatch: '"1"' });
      expect(res.status).toBe(403);
      expect(problem(res).type).toBe(problemTypeUri('forbidden'));
    }
    expect((await h.jobs.getJob(id))!.plan!.approval).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(h.published('aiprod.job.approved.v1').filter((m) => m.jobId === id)).toEqual([]);
  });

  it('needs If-Match (428); a stale version is 412 and changes nothing; the current one is approved', async () => {
    const id = await waiting();
    expect((await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver })).status).toBe(428);
    // The client read version 1; meanwhile an edit made version 2.
    expect(
      (
        await call('patch', `/v1/jobs/${id}/plan`, {
          key: h.keys.readWrite,
          ifMatch: '"1"',
          body: { shots: [{ id: 's01', prompt: 'Changed by a colleague' }] },
        })
      ).status,
    ).toBe(200);
    const before = (await h.jobs.getJob(id))!;
    const stale = await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, ifMatch: '"1"' });
    expect(stale.status).toBe(412);
    expect(problem(stale).type).toBe(problemTypeUri('precondition_failed'));
    expect(stale.body.currentVersion).toBe(2);
    expect(await h.jobs.getJob(id)).toEqual(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.published('aiprod.job.approved.v1').filter((m) => m.jobId === id)).toEqual([]);

    const ok = await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, ifMatch: '"2"' });
    expect(ok.status).toBe(202);
    const approved = await waitFor(() => h.published('aiprod.job.approved.v1').find((m) => m.jobId === id), {
      timeoutMs: 10_000,
      what: 'job.approved',
    });
    expect(approved).toEqual({
      v: 1,
      jobId: id,
      tenantId: h.tenantA,
      approver: `key:${apiKeyPrefix(h.keys.approver)}`,
      planVersion: 2,
    });
    expect((await h.jobs.getJob(id))!.plan!.approval).toMatchObject({ version: 2 });
    // The approved version no longer changes; the same approval again is harmless.
    const edit = await call('patch', `/v1/jobs/${id}/plan`, {
      key: h.keys.readWrite,
      ifMatch: '"2"',
      body: { shots: [{ id: 's01', prompt: 'Too late' }] },
    });
    expect(edit.status).toBe(409);
    expect((await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, ifMatch: '"2"' })).status).toBe(202);
    expect((await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, ifMatch: '"1"' })).status).toBe(412);
    expect((await getPlan(id)).approvedVersion).toBe(2);
  });
});

describe('a recorded decision whose message could not be published', () => {
  // The planner's AWAITING_APPROVAL sweep acts on what is recorded once the job's deadline passes:
  // the approval or the change request brings that deadline to within a few minutes.
  const shortened = async (id: string, before: Job, recordedAt: number) => {
    const after = (await h.jobs.getJob(id))!;
    expect(after.deadlineAt!.toMillis()).toBeGreaterThan(recordedAt);
    expect(after.deadlineAt!.toMillis()).toBeLessThanOrEqual(Date.now() + RECORDED_DECISION_GRACE_SECONDS * 1000);
    expect(after.deadlineAt!.toMillis()).toBeLessThan(before.deadlineAt!.toMillis());
    return after;
  };

  it('an approval is recorded (503 to the client) and its deadline is minutes away, so the planner resumes it', async () => {
    const id = await waiting();
    const before = (await h.jobs.getJob(id))!;
    const recordedAt = Date.now();
    failNextPublish.add('aiprod.job.approved.v1');
    const res = await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, ifMatch: '"1"' });
    expect(res.status).toBe(503);
    expect(res.body.detail).toMatch(/recorded but could not be passed on/);
    const after = await shortened(id, before, recordedAt);
    expect(after.status).toBe('AWAITING_APPROVAL');
    expect(after.plan!.approval).toMatchObject({ version: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.published('aiprod.job.approved.v1').filter((m) => m.jobId === id)).toEqual([]);
  });

  it('a change request is recorded (503) and its deadline is minutes away, so the planner answers it', async () => {
    const id = await waiting();
    const before = (await h.jobs.getJob(id))!;
    const recordedAt = Date.now();
    failNextPublish.add('aiprod.plan.changes.requested.v1');
    const res = await call('post', `/v1/jobs/${id}/plan/changes`, {
      key: h.keys.readWrite,
      body: { notes: 'Softer music' },
      ifMatch: '"1"',
    });
    expect(res.status).toBe(503);
    const after = await shortened(id, before, recordedAt);
    expect(after.plan!.changesRequested).toMatchObject({ version: 1, notes: 'Softer music' });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.published('aiprod.plan.changes.requested.v1').filter((m) => m.jobId === id)).toEqual([]);
  });
});

describe('POST /v1/jobs/{id}/plan/changes', () => {
  it('holds the approval of a version while a change request on it is pending (409), and records nothing', async () => {
    const id = await waiting();
    const asked = await call('post', `/v1/jobs/${id}/plan/changes`, {
      key: h.keys.readWrite,
      body: { notes: 'Warmer light' },
      ifMatch: '"1"',
    });
    expect(asked.status).toBe(202);
    const before = (await h.jobs.getJob(id))!;
    // Approving version 1 now would leave the director's answer nowhere to go and a rendering job
    // still showing the request.
    const res = await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, ifMatch: '"1"' });
    expect(res.status).toBe(409);
    expect(problem(res).type).toBe(problemTypeUri('conflict'));
    expect(res.body.detail).toMatch(/changes were requested for this version; wait for the new version/);
    const after = (await h.jobs.getJob(id))!;
    expect(after).toEqual(before);
    expect(after.status).toBe('AWAITING_APPROVAL');
    expect(after.plan!.approval).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(h.published('aiprod.job.approved.v1').filter((m) => m.jobId === id)).toEqual([]);
  });

  it('records the notes and asks the planner to plan again; one request at a time', async () => {
    const id = await waiting();
    const notes = 'Show the shoe at night, less text';
    const res = await call('post', `/v1/jobs/${id}/plan/changes`, { key: h.keys.readWrite, body: { notes } });
    expect(res.status).toBe(202);
    expect((res.body as PlanViewBody).changesRequested).toMatchObject({ version: 1, notes });
    const sent = await waitFor(() => h.published('aiprod.plan.changes.requested.v1').find((m) => m.jobId === id), {
      timeoutMs: 10_000,
      what: 'plan.changes.requested',
    });
    expect(sent).toEqual({ v: 1, jobId: id, tenantId: h.tenantA, planVersion: 1 });
    // While the director works, edits and other requests wait; the same request again is a repeat.
    const edit = await call('patch', `/v1/jobs/${id}/plan`, {
      key: h.keys.readWrite,
      ifMatch: '"1"',
      body: { shots: [{ id: 's01', prompt: 'x' }] },
    });
    expect(edit.status).toBe(409);
    const other = await call('post', `/v1/jobs/${id}/plan/changes`, {
      key: h.keys.readWrite,
      body: { notes: 'other' },
    });
    expect(other.status).toBe(409);
    expect((await call('post', `/v1/jobs/${id}/plan/changes`, { key: h.keys.readWrite, body: { notes } })).status).toBe(
      202,
    );
    const empty = await call('post', `/v1/jobs/${id}/plan/changes`, { key: h.keys.readWrite, body: { notes: '' } });
    expect(empty.status).toBe(400);
    expect(problem(empty).errors![0]!.field).toBe('/notes');
    expect(
      (await call('post', `/v1/jobs/${id}/plan/changes`, { key: h.keys.readWrite, body: { notes }, ifMatch: '"7"' }))
        .status,
    ).toBe(412);
  });
});

describe('the number of plan versions', () => {
  it('stops at 20: a further edit or change request is 409 and stores nothing; the last version can still be approved', async () => {
    const id = await waiting();
    for (let v = 1; v < 20; v++) {
      const res = await call('patch', `/v1/jobs/${id}/plan`, {
        key: h.keys.readWrite,
        ifMatch: `"${v}"`,
        body: { shots: [{ id: 's01', prompt: `Take ${v + 1} of the opening shot` }] },
      });
      expect(res.status).toBe(200);
    }
    const before = (await h.jobs.getJob(id))!;
    expect(before.plan!.version).toBe(20);
    const edit = await call('patch', `/v1/jobs/${id}/plan`, {
      key: h.keys.readWrite,
      ifMatch: '"20"',
      body: { shots: [{ id: 's01', prompt: 'One more take' }] },
    });
    expect(edit.status).toBe(409);
    expect(problem(edit).type).toBe(problemTypeUri('conflict'));
    expect(edit.body.detail).toMatch(/this job has reached 20 plan versions; submit a new job/);
    const changes = await call('post', `/v1/jobs/${id}/plan/changes`, {
      key: h.keys.readWrite,
      body: { notes: 'Once more' },
      ifMatch: '"20"',
    });
    expect(changes.status).toBe(409);
    expect(changes.body.detail).toMatch(/this job has reached 20 plan versions/);
    expect(await h.jobs.getJob(id)).toEqual(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.published('aiprod.plan.changes.requested.v1').filter((m) => m.jobId === id)).toEqual([]);
    expect((await call('post', `/v1/jobs/${id}/approve`, { key: h.keys.approver, ifMatch: '"20"' })).status).toBe(202);
  }, 30_000);
});

describe('the OpenAPI document against this suite', () => {
  it('documented every status and body the plan routes answered with', () => {
    expect(spec.failures).toEqual([]);
  });
});
