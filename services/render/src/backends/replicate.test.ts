import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShotSpec } from '@aiprod/contracts';
import { probe } from '@aiprod/media';
import { startReplicateServer, type ReplicateServer } from '@aiprod/testing';
import type { PollResult, VideoBackend } from './backend';
import { inputFor, replicateBackend, requestedSeconds, seedanceInput, wanInput } from './replicate';
import { failureOf, pollToEnd } from '../../test/backend-kit';

const TOKEN = 'r8_Zx9Qk2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg';

const spec = (over: Partial<ShotSpec> = {}): ShotSpec => ({
  shotId: 's01',
  index: 0,
  purpose: 'product',
  durationSeconds: 5,
  prompt: 'A sneaker rotating on a pedestal, studio light',
  camera: 'static',
  palette: ['#112233', '#ffcc00'],
  width: 854,
  height: 480,
  fps: 24,
  ...over,
});

const signal = () => AbortSignal.timeout(20_000);
const ctx = () => ({ attemptKey: 'j1:s01:1', signal: signal() });
const failure = (promise: Promise<unknown>) => failureOf(promise, TOKEN);

describe('replicate backend against the Replicate test server', () => {
  let server: ReplicateServer;
  let backend: VideoBackend;
  let dir: string;

  beforeAll(async () => {
    server = await startReplicateServer({ apiToken: TOKEN, models: ['wan-video/wan-2.2-t2v-fast', 'acme/vid'] });
    dir = await mkdtemp(join(tmpdir(), 'replicate-backend-'));
  });
  beforeEach(() => {
    backend = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, pollIntervalMs: 0 });
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('healthy path: one create with Cancel-After, starting → processing → a real MP4, predict time recorded', async () => {
    const before = server.predictionsCreated;
    const { taskId, sent } = await backend.submit(spec({ seed: 7, negativePrompt: 'blur' }), ctx());
    expect(server.predictionsCreated).toBe(before + 1);
    const created = server.prediction(taskId)!;
    // What the pool records as sent is what the server received in `input`.
    const input = created.input as Record<string, unknown>;
    expect(sent).toEqual({
      model: 'wan-video/wan-2.2-t2v-fast',
      prompt: input.prompt,
      negativePrompt: input.negative_prompt,
      seed: input.seed,
      references: [],
    });
    expect(created).toMatchObject({ model: 'wan-video/wan-2.2-t2v-fast', cancelAfter: '15m' });
    expect(created.prefer).toBeUndefined();
    expect(created.input).toEqual({
      prompt: 'A sneaker rotating on a pedestal, studio light',
      negative_prompt: 'blur',
      seed: 7,
      aspect_ratio: '16:9',
      resolution: '480p',
      frames_per_second: 16,
      num_frames: 81,
    });
    expect(server.requests.filter((r) => r.op === 'create').pop()).toMatchObject({
      path: '/v1/models/wan-video/wan-2.2-t2v-fast/predictions',
      headers: expect.objectContaining({ authorization: `Bearer ${TOKEN}` }),
    });

    const results = await pollToEnd(backend, taskId);
    expect(results.map((r) => (r.state === 'pending' ? r.detail : r.state))).toEqual([
      'starting',
      'processing',
      'succeeded',
    ]);
    expect(results[1]).toMatchObject({ state: 'pending', progress: expect.any(Number) });
    const done = results[2]!;
    if (done.state !== 'succeeded') throw new Error('not succeeded');
    expect(done.usage).toEqual({ outputSeconds: 81 / 16, predictSeconds: expect.any(Number) });
    expect(done.usage.predictSeconds).toBeGreaterThan(0);

    const out = join(dir, 'healthy.mp4');
    await backend.fetchResult(done.output, out, signal());
    const info = await probe(out);
    expect(info.video).toMatchObject({ codec: 'h264', width: 854, height: 480 });
    // 81 frames at 16 fps; the container may run an AAC frame longer than the picture.
    expect(info.video?.frames).toBe(81);
    expect(Math.abs(info.durationSeconds - 81 / 16)).toBeLessThan(0.1);
    expect(server.predictionsCreated).toBe(before + 1);
  });

  it('a pinned version goes to /v1/predictions with the version; an array output works too', async () => {
    const pinned = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, model: 'acme/vid:abc123' });
    server.scriptPrediction({ outputAs: 'array', starting: { polls: 0 }, processing: { polls: 0 } });
    const { taskId } = await pinned.submit(spec(), ctx());
    expect(server.prediction(taskId)).toMatchObject({ version: 'abc123' });
    expect(server.requests.filter((r) => r.op === 'create').pop()?.path).toBe('/v1/predictions');
    expect((await pollToEnd(pinned, taskId)).pop()).toMatchObject({ state: 'succeeded', output: { kind: 'url' } });
  });

  it('slow predictions stay pending by poll count and by time', async () => {
    server.scriptPrediction({ starting: { polls: 3 }, processing: { ms: 300 } });
    const started = Date.now();
    const { taskId } = await backend.submit(spec(), ctx());
    let result: PollResult = { state: 'pending' };
    const details: string[] = [];
    for (let i = 0; i < 60 && result.state === 'pending'; i++) {
      result = await backend.poll(taskId, signal());
      if (result.state === 'pending') details.push(result.detail ?? '');
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(result.state).toBe('succeeded');
    expect(details.slice(0, 3)).toEqual(['starting', 'starting', 'starting']);
    expect(details.filter((d) => d === 'processing').length).toBeGreaterThan(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('a failed prediction with an NSFW message is `safety`; charged only if it ran', async () => {
    server.scriptPrediction({
      outcome: { error: 'NSFW content detected in the output. Try a different prompt.', predictTime: 3.2 },
    });
    const ran = await backend.submit(spec(), ctx());
    expect((await pollToEnd(backend, ran.taskId)).pop()).toMatchObject({
      state: 'failed',
      error: { class: 'safety', code: 'replicate.safety', charged: true },
    });
    server.scriptPrediction({ outcome: { error: 'The input prompt was flagged as sensitive content' } });
    const refused = await backend.submit(spec(), ctx());
    expect((await pollToEnd(backend, refused.taskId)).pop()).toMatchObject({
      state: 'failed',
      error: { class: 'safety', charged: false },
    });
  });

  it('any other failure is `transient`', async () => {
    server.scriptPrediction({ outcome: { error: 'CUDA out of memory', predictTime: 1 } });
    const { taskId } = await backend.submit(spec(), ctx());
    expect((await pollToEnd(backend, taskId)).pop()).toMatchObject({
      state: 'failed',
      error: { class: 'transient', code: 'replicate.failed', charged: true },
    });
  });

  it('succeeded with null output is `no_output`, charged (Replicate bills predict time)', async () => {
    server.scriptPrediction({ outcome: 'succeed_null_output' });
    const { taskId } = await backend.submit(spec(), ctx());
    expect((await pollToEnd(backend, taskId)).pop()).toMatchObject({
      state: 'failed',
      error: { class: 'no_output', code: 'replicate.no_output', charged: true },
    });
  });

  it('429 is `rate_limited` with Retry-After, sent exactly once despite the client’s own retries', async () => {
    server.fail('create', { status: 429, retryAfterSeconds: 9 });
    const creates = server.createRequests;
    const made = server.predictionsCreated;
    expect(await failure(backend.submit(spec(), ctx()))).toMatchObject({
      class: 'rate_limited',
      code: 'HTTP 429',
      retryAfterMs: 9000,
      charged: false,
    });
    expect(server.createRequests).toBe(creates + 1);
    expect(server.predictionsCreated).toBe(made);
  });

  it('429 without Retry-After takes the wait from the body', async () => {
    server.fail('create', {
      status: 429,
      body: { detail: 'Request was throttled. Your rate limit resets in ~30s.', status: 429 },
    });
    expect(await failure(backend.submit(spec(), ctx()))).toMatchObject({ class: 'rate_limited', retryAfterMs: 30_000 });
  });

  it('5xx on a poll is `transient`, sent once (the client would retry GETs five times)', async () => {
    const { taskId } = await backend.submit(spec(), ctx());
    const polls = server.requests.filter((r) => r.op === 'poll').length;
    // One fault only: were the client to retry, its second GET would succeed and be counted.
    server.fail('poll', { status: 503 });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({ class: 'transient', code: 'HTTP 503' });
    expect(server.requests.filter((r) => r.op === 'poll').length).toBe(polls + 1);
    server.fail('poll', { status: 502 });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({ class: 'transient', code: 'HTTP 502' });
  });

  it('malformed JSON, dropped connections and timeouts are `transient`', async () => {
    server.fail('create', { malformedJson: true });
    expect(await failure(backend.submit(spec(), ctx()))).toMatchObject({
      class: 'transient',
      code: 'replicate.malformed_response',
    });
    const { taskId } = await backend.submit(spec(), ctx());
    server.fail('poll', { malformedJson: true });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({ code: 'replicate.malformed_response' });
    server.fail('poll', { resetConnection: true });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({
      class: 'transient',
      code: 'replicate.network',
    });
    const impatient = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, requestTimeoutMs: 200 });
    server.fail('poll', { delayMs: 1000 });
    expect(await failure(impatient.poll(taskId, signal()))).toMatchObject({
      class: 'transient',
      code: 'replicate.request_timeout',
    });
  });

  it('a wrong token is `auth`; an unknown model and a refused input are `invalid`', async () => {
    const wrong = replicateBackend({ apiToken: 'r8_wrong', baseUrl: server.baseUrl });
    const auth = await failure(wrong.submit(spec(), ctx()));
    expect(auth).toMatchObject({ class: 'auth', code: 'HTTP 401' });
    expect(auth.message).not.toContain('r8_wrong');
    const unknown = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, model: 'nobody/nothing' });
    expect(await failure(unknown.submit(spec(), ctx()))).toMatchObject({ class: 'invalid', code: 'HTTP 404' });
    const noPrompt = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, input: () => ({ num_frames: 81 }) });
    const refused = await failure(noPrompt.submit(spec(), ctx()));
    expect(refused).toMatchObject({ class: 'invalid', code: 'HTTP 422' });
    expect(refused.message).toContain('input.prompt');
  });

  it('an expired output URL is `no_output`, charged, and leaves no file', async () => {
    server.scriptPrediction({ output: { expired: true } });
    const { taskId } = await backend.submit(spec(), ctx());
    const done = (await pollToEnd(backend, taskId)).pop()!;
    if (done.state !== 'succeeded') throw new Error('not succeeded');
    const out = join(dir, 'expired.mp4');
    expect(await failure(backend.fetchResult(done.output, out, signal()))).toMatchObject({
      class: 'no_output',
      code: 'replicate.output_expired',
      charged: true,
    });
    await expect(stat(out)).rejects.toThrow();
  });

  it('cancel() cancels (charged `canceled`), never throws; Cancel-After ends it as `timeout`', async () => {
    server.scriptPrediction({ starting: { polls: 0 }, processing: { polls: 5 } });
    const { taskId } = await backend.submit(spec(), ctx());
    await backend.poll(taskId, signal());
    // Cancelled while processing: billed for the compute time used, and the cancel answer says so.
    const cancelled = await backend.cancel(taskId, spec());
    expect(cancelled.charged).toBe(true);
    expect(cancelled.usage?.predictSeconds).toBeGreaterThan(0);
    expect(server.prediction(taskId)?.status).toBe('canceled');
    expect(await backend.poll(taskId, signal())).toMatchObject({
      state: 'failed',
      error: { class: 'canceled', code: 'replicate.canceled', charged: true },
    });
    // Unknown outcome (no answer): counted as billed for the shot's length, never understated.
    await expect(backend.cancel('nosuchprediction', spec())).resolves.toMatchObject({ charged: true });
    const dead = replicateBackend({ apiToken: TOKEN, baseUrl: 'http://127.0.0.1:9/v1', requestTimeoutMs: 500 });
    await expect(dead.cancel(taskId, spec())).resolves.toEqual({ charged: true, usage: { outputSeconds: 5 } });

    // Deadline before it starts: aborted, free. While running: canceled, billed.
    const quick = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, cancelAfter: '1s' });
    server.scriptPrediction({ starting: { ms: 5000 } });
    const queued = await quick.submit(spec(), ctx());
    await new Promise((r) => setTimeout(r, 1100));
    expect(await quick.poll(queued.taskId, signal())).toMatchObject({
      state: 'failed',
      error: { class: 'timeout', code: 'replicate.aborted', charged: false },
    });
    server.scriptPrediction({ starting: { polls: 0 }, processing: { ms: 5000 } });
    const running = await quick.submit(spec(), ctx());
    await quick.poll(running.taskId, signal());
    await new Promise((r) => setTimeout(r, 1100));
    expect(await quick.poll(running.taskId, signal())).toMatchObject({
      state: 'failed',
      error: { class: 'timeout', code: 'replicate.canceled', charged: true },
    });
  });

  it('a restarted worker resumes the same prediction and still knows its length', async () => {
    const { taskId } = await backend.submit(spec({ durationSeconds: 10 }), ctx());
    const creates = server.createRequests;
    const restarted = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl });
    const done = (await pollToEnd(restarted, taskId)).pop()!;
    expect(done).toMatchObject({ state: 'succeeded', usage: { outputSeconds: 121 / 12 } });
    expect(server.createRequests).toBe(creates);
  });
});

describe('replicate input shaping', () => {
  it('never asks for less than the shot when Wan can make it, within 81–121 frames and 5–16 fps', () => {
    for (const seconds of [1, 5, 7, 10, 15, 20]) {
      const input = wanInput(spec({ durationSeconds: seconds }));
      const frames = input.num_frames as number;
      const fps = input.frames_per_second as number;
      expect(frames).toBeGreaterThanOrEqual(81);
      expect(frames).toBeLessThanOrEqual(121);
      expect(fps).toBeGreaterThanOrEqual(5);
      expect(fps).toBeLessThanOrEqual(16);
      expect(requestedSeconds(input)!).toBeGreaterThanOrEqual(seconds);
    }
    expect(wanInput(spec({ width: 1080, height: 1920, retakeNote: 'logo cut off' }))).toMatchObject({
      aspect_ratio: '9:16',
      resolution: '720p',
      prompt: 'A sneaker rotating on a pedestal, studio light Unlike the previous take, avoid this: logo cut off.',
    });
  });

  it('gives Seedance whole seconds it makes, at the resolution and ratio of the frame, and Wan its frames', () => {
    expect(inputFor('bytedance/seedance-1-lite')).toBe(seedanceInput);
    expect(inputFor('wan-video/wan-2.2-t2v-fast')).toBe(wanInput);
    expect(seedanceInput(spec({ durationSeconds: 6.5, seed: 3, negativePrompt: 'blur' }))).toEqual({
      prompt: 'A sneaker rotating on a pedestal, studio light',
      seed: 3,
      duration: 7,
      resolution: '480p',
      aspect_ratio: '16:9',
      fps: 24,
    });
    expect(seedanceInput(spec({ durationSeconds: 20, width: 1080, height: 1920 }))).toMatchObject({
      duration: 12,
      resolution: '1080p',
      aspect_ratio: '9:16',
    });
    expect(seedanceInput(spec({ durationSeconds: 1, width: 1080, height: 1080 }))).toMatchObject({
      duration: 2,
      aspect_ratio: '1:1',
    });
    expect(requestedSeconds(seedanceInput(spec({ durationSeconds: 5 })))).toBe(5);
  });
});
