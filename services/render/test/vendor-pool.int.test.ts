import { createHash } from 'node:crypto';
import { DEFAULT_FALLBACK_POLICY, PermanentError, type FallbackPolicy } from '@aiprod/contracts';
import { probe } from '@aiprod/media';
import { aPng, requireEmulators, startRunwayServer, waitFor, type RunwayServer } from '@aiprod/testing';
import { runwayBackend } from '../src/backends/runway';
import { renderHarness } from './harness';

requireEmulators();
const h = renderHarness('render-vendor');
let runway: RunwayServer;
const API_KEY = 'key_test_runway_0123456789';

beforeAll(async () => {
  await h.setUp();
  runway = await startRunwayServer({ apiKey: API_KEY });
}, 60_000);
afterAll(async () => {
  await runway?.close();
  await h.tearDown();
});

const backend = (model?: string) =>
  runwayBackend({ apiKey: API_KEY, baseUrl: runway.url, pollIntervalMs: 20, ...(model ? { model } : {}) });
/** The default policy with test-sized backoffs. */
function policy(change: (p: FallbackPolicy) => void = () => undefined): FallbackPolicy {
  const p = structuredClone(DEFAULT_FALLBACK_POLICY);
  for (const b of Object.values(p.backends)) b.backoff = { initialMs: 10, maxMs: 2_000, multiplier: 2 };
  change(p);
  return p;
}
const eventTypes = async (jobId: string) => (await h.jobs.listEvents(jobId)).map((e) => e.type);

describe('a vendor render pool (Runway against its protocol test server)', () => {
  it('submits once, stores the task id, polls to the end, stores the clip and prices it from the price table', async () => {
    const before = runway.tasksCreated;
    const { jobId, msg } = await h.plannedJob('runway');
    await h.handle(h.deps(backend(), { policy: policy() }), msg);

    const attempt = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(runway.tasksCreated - before).toBe(1);
    expect(attempt.status).toBe('RENDERED');
    expect(attempt.tries).toEqual([
      expect.objectContaining({ backend: 'runway', model: 'gen4.5', outcome: 'succeeded' }),
    ]);
    // Provenance: the try carries what the create body held, as the server received it.
    const body = runway.task(attempt.vendorTaskId!)!.body as Record<string, unknown>;
    expect(attempt.tries![0]!.sent).toEqual({
      model: 'gen4.5',
      prompt: body.promptText,
      seed: body.seed,
      references: [],
    });
    const cost = attempt.tries![0]!.costUsd;
    expect(cost).toBeGreaterThan(0);
    expect((await h.jobs.getJob(jobId))!.costUsd).toBeCloseTo(cost, 6);
    expect(h.spend).toContainEqual({ tenantId: 't1', usd: cost });
    expect(await eventTypes(jobId)).toEqual(
      expect.arrayContaining(['shot.rendering', 'render.submitted', 'shot.rendered']),
    );
  });

  it('a worker stopped mid-poll leaves the task id behind, and the next one resumes that task: one create in all', async () => {
    const before = runway.tasksCreated;
    runway.scriptTask({ running: { ms: 1_500 } });
    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Resumed after a crash' });
    const shutdown = new AbortController();
    const first = h.handle(h.deps(backend(), { policy: policy(), shutdown: shutdown.signal }), msg);
    const taskId = await waitFor(async () => (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!.vendorTaskId, {
      timeoutMs: 10_000,
      what: 'the stored task id',
    });
    // Stored in the same write as the task id, so the process that resumes the task still knows it.
    const inFlight = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(inFlight.sent).toMatchObject({ model: 'gen4.5', prompt: expect.stringContaining('Resumed after a crash') });
    shutdown.abort();
    // Handed back, not nacked: the request is published again (no delivery attempt spent) and acked.
    await expect(first).resolves.toBeUndefined();
    await waitFor(() => h.published['aiprod.render.runway.v1']!.find((m) => m.jobId === jobId && m.shotId === 's01'), {
      timeoutMs: 10_000,
      what: 'the handed-back render request',
    });
    expect((await h.jobs.getShot(jobId, 's01'))!.attempts['1']!.lease ?? null).toBeNull();

    // A fresh process: a new backend instance that has never seen the task.
    await h.handle(h.deps(backend(), { policy: policy() }), msg);
    const attempt = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(attempt.status).toBe('RENDERED');
    expect(attempt.tries).toEqual([
      expect.objectContaining({ vendorTaskId: taskId, outcome: 'succeeded', sent: inFlight.sent }),
    ]);
    expect(attempt.sent).toBeUndefined();
    expect(runway.tasksCreated - before).toBe(1);
    expect(attempt.tries![0]!.costUsd).toBeGreaterThan(0);
  });

  it('a safety refusal costs nothing, is not retried here, and hands the attempt to the next backend', async () => {
    const before = runway.tasksCreated;
    runway.scriptTask({ outcome: { failureCode: 'SAFETY.INPUT.TEXT', failure: 'flagged by moderation' } });
    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Refused prompt', durationSeconds: 5 });
    await h.handle(h.deps(backend(), { policy: policy() }), msg);

    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(runway.tasksCreated - before).toBe(1);
    expect(shot.status).toBe('RENDERING');
    expect(shot.backend).toBe('replicate');
    expect(shot.attempts['1']).toMatchObject({ backend: 'replicate' });
    expect(shot.attempts['1']!.vendorTaskId).toBeUndefined();
    expect(shot.attempts['1']!.tries).toEqual([
      expect.objectContaining({ backend: 'runway', outcome: 'failed', errorClass: 'safety', costUsd: 0 }),
    ]);
    const events = await h.jobs.listEvents(jobId);
    expect(events.find((e) => e.type === 'render.decision')?.data).toMatchObject({
      action: 'fallback',
      to: 'replicate',
    });
    expect(events.map((e) => e.type)).toContain('render.fallback');
    await waitFor(() => h.published['aiprod.render.replicate.v1']!.find((m) => m.jobId === jobId), {
      timeoutMs: 10_000,
      what: 'the request on the replicate topic',
    });
    expect((await h.jobs.getJob(jobId))!.costUsd).toBe(0);
  });

  it("retries a rate-limited create here after the vendor's Retry-After, then succeeds", async () => {
    const before = { creates: runway.createRequests, tasks: runway.tasksCreated };
    runway.fail('create', { status: 429, retryAfterSeconds: 1 });
    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Rate limited once' });
    const started = Date.now();
    await h.handle(h.deps(backend(), { policy: policy() }), msg);

    const attempt = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(attempt.status).toBe('RENDERED');
    expect(attempt.tries!.map((t) => [t.outcome, t.errorClass])).toEqual([
      ['failed', 'rate_limited'],
      ['succeeded', undefined],
    ]);
    expect(runway.createRequests - before.creates).toBe(2);
    expect(runway.tasksCreated - before.tasks).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('a vendor that keeps failing opens the circuit, and the next shot falls back at once without calling it', async () => {
    const p = policy((x) => {
      x.backends.runway.attemptsHere = 5;
      x.backends.runway.circuitBreaker = { consecutiveFailures: 2, halfOpenAfterSeconds: 60 };
    });
    const deps = h.deps(backend(), { policy: p });
    runway.fail('create', { status: 503 }, 2);
    const first = await h.plannedJob('runway', { prompt: 'Outage one', durationSeconds: 5 });
    await h.handle(deps, first.msg);
    const decisions = (await h.jobs.listEvents(first.jobId))
      .filter((e) => e.type === 'render.decision')
      .map((e) => e.data);
    expect(decisions.map((d) => d.action)).toEqual(['retry', 'retry', 'fallback']);
    expect(String(decisions[2]!.why)).toMatch(/circuit open/);

    const creates = runway.createRequests;
    const second = await h.plannedJob('runway', { prompt: 'Outage two', durationSeconds: 5 });
    await h.handle(deps, second.msg);
    expect(runway.createRequests).toBe(creates);
    expect((await h.jobs.getShot(second.jobId, 's01'))!.backend).toBe('replicate');
  });

  it('cancels the vendor task when the job is canceled while it renders', async () => {
    runway.scriptTask({ running: { ms: 20_000 } });
    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Canceled mid-render' });
    const rendering = h.handle(h.deps(backend(), { policy: policy() }), msg);
    const taskId = await waitFor(async () => (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!.vendorTaskId, {
      timeoutMs: 10_000,
      what: 'the stored task id',
    });
    await h.jobs.transition(jobId, 'RENDERING', 'CANCELED');
    await rendering;
    expect(runway.task(taskId)!.cancelled).toBe(true);
    expect(await eventTypes(jobId)).toContain('render.canceled');
  }, 30_000);

  it('skips a fallback backend that cannot make the shot length (Replicate: 5 or 8 s) and conforms vendor clips to the shot', async () => {
    runway.scriptTask({ outcome: { failureCode: 'SAFETY.INPUT.IMAGE' } });
    const refused = await h.plannedJob('runway', { prompt: 'Six seconds, refused', durationSeconds: 6 });
    await h.handle(h.deps(backend(), { policy: policy() }), refused.msg);
    expect((await h.jobs.getShot(refused.jobId, 's01'))!.backend).toBe('local');

    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Conformed', durationSeconds: 4.5 });
    await h.handle(h.deps(backend(), { policy: policy() }), msg);
    const clipUri = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!.clipUri!;
    const media = await h.storage.withLocalFile(h.storage.keyFromUri(clipUri), (p) => probe(p));
    expect(media.video).toMatchObject({ width: 1280, height: 720, fps: 30, frames: 135 });
  });

  it('sends the stored product reference as promptImage and records it with the try', async () => {
    const png = aPng(48, 48, 90);
    const sha256 = createHash('sha256').update(png).digest('hex');
    const jobKey = `refs/${sha256.slice(0, 12)}/ref-1.png`;
    await h.storage.putBytes(jobKey, png, { contentType: 'image/png' });
    const { jobId, msg } = await h.plannedJob('runway', {
      prompt: 'The bottle on a wet rock',
      references: [{ id: 'ref-1', role: 'product', path: jobKey, contentType: 'image/png', sha256 }],
    });
    await h.handle(h.deps(backend(), { policy: policy() }), msg);

    const attempt = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(attempt.status).toBe('RENDERED');
    const received = runway.received().find((r) => r.taskId === attempt.vendorTaskId)!;
    expect(received.path).toBe('/v1/image_to_video');
    const body = received.body as Record<string, unknown>;
    expect(body.promptImage).toEqual({ bytes: png.length, sha256, mimeType: 'image/png' });
    expect(body.promptText).toContain('The camera slowly dollies in toward the subject.');
    expect(attempt.tries![0]!.sent).toMatchObject({
      prompt: body.promptText,
      references: ['ref-1'],
      firstFrame: 'ref-1',
      fields: { promptImage: 'ref-1' },
    });
  });

  it('gen4_turbo refuses a shot without an image before any create, and the policy moves on at no cost', async () => {
    const creates = runway.createRequests;
    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'No image for turbo', durationSeconds: 5 });
    await h.handle(h.deps(backend('gen4_turbo'), { policy: policy() }), msg);

    expect(runway.createRequests).toBe(creates);
    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.backend).toBe('replicate');
    expect(shot.attempts['1']!.tries).toEqual([
      expect.objectContaining({
        backend: 'runway',
        model: 'gen4_turbo',
        outcome: 'failed',
        errorClass: 'invalid',
        costUsd: 0,
      }),
    ]);
    expect((await h.jobs.listEvents(jobId)).find((e) => e.type === 'render.decision')?.data).toMatchObject({
      action: 'fallback',
      to: 'replicate',
    });
  });

  it('fails the shot with a precise reason when the policy says fail', async () => {
    runway.scriptTask({ outcome: { failureCode: 'SAFETY.OUTPUT.VIDEO' } });
    const { msg } = await h.plannedJob('runway', { prompt: 'Fails for good' });
    const p = policy((x) => (x.backends.runway.onError.safety = 'fail'));
    const error = await h.handle(h.deps(backend(), { policy: p }), msg).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ reason: 'render_failed' });
    expect(String((error as Error).message)).toMatch(/safety \(SAFETY\.OUTPUT\.VIDEO\) → fail/);
    expect((await h.jobs.getShot(msg.jobId, 's01'))!.status).toBe('FAILED');
  });
});
