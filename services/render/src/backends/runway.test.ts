import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShotSpec } from '@aiprod/contracts';
import { probe } from '@aiprod/media';
import { aPng, startRunwayServer, type RunwayServer } from '@aiprod/testing';
import { modelCapability } from '@aiprod/vendor-catalogue';
import type { BackendError, LoadedReference, VideoBackend } from './backend';
import { nearestRatio, runwayBackend, runwayDuration, RUNWAY_MODELS } from './runway';
import { failureOf as failure, pollToEnd } from '../../test/backend-kit';

const API_KEY = 'key_7f3c9a1e5b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d';

const spec = (over: Partial<ShotSpec> = {}): ShotSpec => ({
  shotId: 's01',
  index: 0,
  purpose: 'hook',
  durationSeconds: 3,
  prompt: 'A runner in neon shoes sprints through a rainy city at dawn',
  camera: 'static',
  palette: ['#112233', '#ffcc00'],
  width: 1280,
  height: 720,
  fps: 24,
  ...over,
});

const signal = () => AbortSignal.timeout(20_000);

function expectNoKey(error: BackendError) {
  expect(error.message).not.toContain(API_KEY);
  expect(error.message.length).toBeLessThanOrEqual(300);
}

describe('runway backend against the Runway test server', () => {
  let server: RunwayServer;
  let backend: VideoBackend;
  let dir: string;

  beforeAll(async () => {
    server = await startRunwayServer({ apiKey: API_KEY, fps: 12 });
    dir = await mkdtemp(join(tmpdir(), 'runway-backend-'));
  });
  beforeEach(() => {
    backend = runwayBackend({ apiKey: API_KEY, baseUrl: server.url, pollIntervalMs: 0, fetchTimeoutMs: 10_000 });
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('healthy path: one create, PENDING then RUNNING, then a real MP4 of the asked length and shape', async () => {
    const before = server.tasksCreated;
    const { taskId } = await backend.submit(spec({ seed: 42, durationSeconds: 3.4 }), {
      attemptKey: 'j1:s01:1',
      signal: signal(),
    });
    expect(server.tasksCreated).toBe(before + 1);
    const req = server.requests.find((r) => r.op === 'create' && server.task(taskId)?.body === r.body)!;
    expect(req.path).toBe('/v1/text_to_video');
    expect(req.headers['x-runway-version']).toBe('2024-11-06');
    expect(req.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req.body).toEqual({
      model: 'gen4.5',
      promptText:
        'A runner in neon shoes sprints through a rainy city at dawn. The locked-off camera remains still. ' +
        'Color palette: deep blue and bright yellow.',
      ratio: '1280:720',
      duration: 4,
      seed: 42,
    });

    const results = await pollToEnd(backend, taskId);
    expect(results.map((r) => (r.state === 'pending' ? r.detail : r.state))).toEqual([
      'PENDING',
      'RUNNING',
      'succeeded',
    ]);
    const done = results[results.length - 1]!;
    if (done.state !== 'succeeded') throw new Error('not succeeded');
    expect(done.usage).toEqual({ outputSeconds: 4 });
    expect(done.output.kind).toBe('url');

    const out = join(dir, 'healthy.mp4');
    await backend.fetchResult(done.output, out, signal());
    const info = await probe(out);
    expect(info.video).toMatchObject({ codec: 'h264', width: 1280, height: 720 });
    expect(info.audio).not.toBeNull();
    expect(info.durationSeconds).toBeCloseTo(4, 1);
    await expect(stat(`${out}.part`)).rejects.toThrow();
    expect(server.tasksCreated).toBe(before + 1);
  });

  it('maps portrait shots to 720:1280; the retake note and negative prompt stay out of the text and are recorded', async () => {
    const { taskId, sent } = await backend.submit(
      spec({ width: 1080, height: 1920, negativePrompt: 'text, watermarks', retakeNote: 'the shoe was blurry' }),
      { attemptKey: 'k', signal: signal() },
    );
    const body = server.task(taskId)!.body;
    expect(body.ratio).toBe('720:1280');
    // Runway's guide: naming what to avoid draws it in. gen4.5 has no field for it either.
    expect(body.promptText).toBe(
      'A runner in neon shoes sprints through a rainy city at dawn. The locked-off camera remains still. ' +
        'Color palette: deep blue and bright yellow.',
    );
    expect(body).not.toHaveProperty('negativePrompt');
    expect(sent.dropped).toEqual([
      { part: 'retakeNote', reason: "Runway's guide says naming what to avoid draws it in" },
      { part: 'negativePrompt', reason: 'gen4.5 on Runway has no negative prompt field' },
    ]);
    await backend.cancel(taskId, spec());
  });

  it('reports as sent exactly what the create body carried (prompt as translated, seed, what was left out)', async () => {
    for (const model of ['gen4.5', 'veo3.1']) {
      const b = runwayBackend({ apiKey: API_KEY, baseUrl: server.url, pollIntervalMs: 0, model });
      const { taskId, sent } = await b.submit(
        spec({ seed: 9, durationSeconds: 4, negativePrompt: 'logos', retakeNote: 'too dark' }),
        { attemptKey: 'k', signal: signal() },
      );
      const body = server.task(taskId)!.body as Record<string, unknown>;
      expect(sent).toMatchObject({ model: body.model, prompt: body.promptText, seed: body.seed, references: [] });
      // The catalogue gives neither model a negative prompt on Runway: it is recorded, never folded in.
      expect(body).not.toHaveProperty('negativePrompt');
      expect(sent).not.toHaveProperty('negativePrompt');
      expect(body.promptText).not.toMatch(/logos|avoid/i);
      expect(sent.dropped).toContainEqual({
        part: 'negativePrompt',
        reason: `${model} on Runway has no negative prompt field`,
      });
      // Veo's guide takes a correction said positively; Runway's does not.
      if (model === 'veo3.1')
        expect(body.promptText).toContain('Correct what was wrong in the previous take: too dark.');
      else expect(body.promptText).not.toContain('too dark');
      await b.cancel(taskId, spec());
    }
  });

  it('THROTTLED and slow tasks stay pending, never a failure', async () => {
    server.scriptTask({ throttled: { polls: 2 }, pending: { polls: 1 }, running: { polls: 3 } });
    const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    const results = await pollToEnd(backend, taskId);
    expect(results.map((r) => (r.state === 'pending' ? r.detail : r.state))).toEqual([
      'THROTTLED',
      'THROTTLED',
      'PENDING',
      'RUNNING',
      'RUNNING',
      'RUNNING',
      'succeeded',
    ]);
    // Only THROTTLED says the vendor is busy: a PENDING or RUNNING task holds a slot of its own.
    expect(results.map((r) => r.state === 'pending' && r.busy === true)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
    const progress = results.flatMap((r) => (r.state === 'pending' && r.progress !== undefined ? [r.progress] : []));
    expect(progress.length).toBe(3);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  it('a slow task measured in time stays RUNNING until its time is up', async () => {
    server.scriptTask({ pending: { polls: 0 }, running: { ms: 400 } });
    const started = Date.now();
    const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    let result = await backend.poll(taskId, signal());
    expect(result).toMatchObject({ state: 'pending', detail: 'RUNNING' });
    for (let i = 0; i < 50 && result.state === 'pending'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      result = await backend.poll(taskId, signal());
    }
    expect(result.state).toBe('succeeded');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it('a safety refusal is `safety`, uncharged, with the failure code', async () => {
    server.scriptTask({ outcome: { failureCode: 'SAFETY.INPUT.TEXT' } });
    const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    const last = (await pollToEnd(backend, taskId)).pop()!;
    expect(last).toMatchObject({
      state: 'failed',
      error: { class: 'safety', code: 'SAFETY.INPUT.TEXT', charged: false },
    });
    if (last.state === 'failed') expectNoKey(last.error);
  });

  it('INTERNAL.BAD_OUTPUT is `no_output` (retryable); its charge follows the cost Runway reports', async () => {
    server.scriptTask({ outcome: { failureCode: 'INTERNAL.BAD_OUTPUT.CODE01' } });
    const first = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    expect((await pollToEnd(backend, first.taskId)).pop()).toMatchObject({
      state: 'failed',
      error: { class: 'no_output', code: 'INTERNAL.BAD_OUTPUT.CODE01', charged: false },
    });
    server.scriptTask({ outcome: { failureCode: 'INTERNAL.BAD_OUTPUT.CODE01', credits: 10 } });
    const second = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    expect((await pollToEnd(backend, second.taskId)).pop()).toMatchObject({
      state: 'failed',
      error: { class: 'no_output', charged: true },
    });
  });

  it('SUCCEEDED with an empty output list is `no_output`, charged', async () => {
    server.scriptTask({ outcome: 'succeed_without_output' });
    const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    expect((await pollToEnd(backend, taskId)).pop()).toMatchObject({
      state: 'failed',
      error: { class: 'no_output', code: 'runway.empty_output', charged: true },
    });
  });

  it('429 on create is `rate_limited` with Retry-After, and the SDK does not retry it', async () => {
    server.fail('create', { status: 429, retryAfterSeconds: 7 });
    const creates = server.createRequests;
    const tasks = server.tasksCreated;
    const error = await failure(backend.submit(spec(), { attemptKey: 'k', signal: signal() }));
    expect(error).toMatchObject({ class: 'rate_limited', code: 'HTTP 429', retryAfterMs: 7000, charged: false });
    expect(server.createRequests).toBe(creates + 1);
    expect(server.tasksCreated).toBe(tasks);
    expectNoKey(error);
  });

  it.each([502, 503, 504, 500])('%i is `transient`, sent once', async (status) => {
    server.fail('create', { status });
    const creates = server.createRequests;
    const error = await failure(backend.submit(spec(), { attemptKey: 'k', signal: signal() }));
    expect(error).toMatchObject({ class: 'transient', code: `HTTP ${status}`, charged: false });
    expect(server.createRequests).toBe(creates + 1);
  });

  it('5xx and 429 on a poll are classified the same way, and the task survives them', async () => {
    const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    server.fail('poll', { status: 503 });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({ class: 'transient', code: 'HTTP 503' });
    server.fail('poll', { status: 429, retryAfterSeconds: 2 });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({
      class: 'rate_limited',
      retryAfterMs: 2000,
    });
    expect((await pollToEnd(backend, taskId)).pop()?.state).toBe('succeeded');
  });

  it('malformed JSON is `transient` on create and on poll', async () => {
    server.fail('create', { malformedJson: true });
    expect(await failure(backend.submit(spec(), { attemptKey: 'k', signal: signal() }))).toMatchObject({
      class: 'transient',
      code: 'runway.malformed_response',
    });
    const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    server.fail('poll', { malformedJson: true });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({
      class: 'transient',
      code: 'runway.malformed_response',
    });
  });

  it('a dropped connection is `transient` (network)', async () => {
    server.fail('create', { resetConnection: true });
    expect(await failure(backend.submit(spec(), { attemptKey: 'k', signal: signal() }))).toMatchObject({
      class: 'transient',
      code: 'runway.network',
    });
  });

  it('a request slower than the request timeout is `transient` (timeout), sent once', async () => {
    const impatient = runwayBackend({ apiKey: API_KEY, baseUrl: server.url, requestTimeoutMs: 200 });
    server.fail('create', { delayMs: 1000 });
    const creates = server.createRequests;
    expect(await failure(impatient.submit(spec(), { attemptKey: 'k', signal: signal() }))).toMatchObject({
      class: 'transient',
      code: 'runway.request_timeout',
    });
    expect(server.createRequests).toBe(creates + 1);
  });

  it('a wrong key is `auth` and the message never shows either key', async () => {
    const wrongKey = 'key_wrong_0000000000000000000000000000000000000000';
    const wrong = runwayBackend({ apiKey: wrongKey, baseUrl: server.url });
    const error = await failure(wrong.submit(spec(), { attemptKey: 'k', signal: signal() }));
    expect(error).toMatchObject({ class: 'auth', code: 'HTTP 401', charged: false });
    expect(error.message).not.toContain(wrongKey);
    expectNoKey(error);
  });

  it('404 (unknown task) and 400 (refused body) are `invalid`', async () => {
    // The backend only builds valid bodies; the server's own validation is covered in its tests.
    expect(await failure(backend.poll('00000000-0000-4000-a000-000000000000', signal()))).toMatchObject({
      class: 'invalid',
      code: 'HTTP 404',
    });
    server.fail('create', { status: 400, message: 'Validation of body failed' });
    expect(await failure(backend.submit(spec(), { attemptKey: 'k', signal: signal() }))).toMatchObject({
      class: 'invalid',
      code: 'HTTP 400',
    });
  });

  it('an expired output URL (403 or 404) is `no_output`, charged, and leaves no file behind', async () => {
    for (const expiredStatus of [403, 404]) {
      server.scriptTask({ output: { expired: true, expiredStatus } });
      const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
      const done = (await pollToEnd(backend, taskId)).pop()!;
      if (done.state !== 'succeeded') throw new Error('not succeeded');
      const out = join(dir, `expired-${expiredStatus}.mp4`);
      const error = await failure(backend.fetchResult(done.output, out, signal()));
      expect(error).toMatchObject({ class: 'no_output', code: 'runway.output_expired', charged: true });
      expect(error.message).not.toContain('/files/');
      await expect(stat(out)).rejects.toThrow();
      await expect(stat(`${out}.part`)).rejects.toThrow();
    }
  });

  it('cancel() DELETEs the task (CANCELLED) and never throws, even for unknown ids or a dead server', async () => {
    const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    await expect(backend.cancel(taskId, spec())).resolves.toEqual({ charged: false });
    expect(server.task(taskId)).toMatchObject({ status: 'CANCELLED', cancelled: true });
    expect(await backend.poll(taskId, signal())).toMatchObject({
      state: 'failed',
      error: { class: 'canceled', charged: false },
    });
    await expect(backend.cancel('no-such-task', spec())).resolves.toEqual({ charged: false });
    server.fail('cancel', { status: 503 });
    await expect(backend.cancel(taskId, spec())).resolves.toEqual({ charged: false });
    const dead = runwayBackend({ apiKey: API_KEY, baseUrl: 'http://127.0.0.1:9', requestTimeoutMs: 500 });
    await expect(dead.cancel(taskId, spec())).resolves.toEqual({ charged: false });
  });

  it('resuming a task from another process polls the same task: no second create', async () => {
    const { taskId } = await backend.submit(spec(), { attemptKey: 'k', signal: signal() });
    const creates = server.createRequests;
    const restarted = runwayBackend({ apiKey: API_KEY, baseUrl: server.url });
    const done = (await pollToEnd(restarted, taskId)).pop()!;
    expect(done.state).toBe('succeeded');
    expect(server.createRequests).toBe(creates);
  });

  it('an aborted submit is `canceled`', async () => {
    server.fail('create', { delayMs: 1000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(await failure(backend.submit(spec(), { attemptKey: 'k', signal: controller.signal }))).toMatchObject({
      class: 'canceled',
    });
  });
});

describe('runway request shaping', () => {
  it('picks the nearest allowed ratio', () => {
    const gen = RUNWAY_MODELS['gen4.5']!.textRatios!;
    expect(nearestRatio(1920, 1080, gen)).toBe('1280:720');
    expect(nearestRatio(1080, 1350, gen)).toBe('720:1280');
    expect(nearestRatio(1080, 1080, RUNWAY_MODELS['gen4.5']!.imageRatios)).toBe('960:960');
    const veo = RUNWAY_MODELS['veo3.1']!.imageRatios;
    expect(nearestRatio(1080, 1920, veo)).toBe('720:1280');
  });

  it('asks for whole seconds within the model range, never shorter than the shot when possible', () => {
    const gen = modelCapability('runway', 'gen4.5').durations;
    expect(runwayDuration(0.5, gen)).toBe(2);
    expect(runwayDuration(4, gen)).toBe(4);
    expect(runwayDuration(4.2, gen)).toBe(5);
    expect(runwayDuration(14, gen)).toBe(10);
    const veo = modelCapability('runway', 'veo3.1').durations;
    expect(runwayDuration(5, veo)).toBe(6);
    expect(runwayDuration(9, veo)).toBe(8);
  });

  it('refuses a model the catalogue or this adapter does not know, at construction', () => {
    expect(() => runwayBackend({ apiKey: API_KEY, model: 'gen4_aleph' })).toThrow(/no runway model "gen4_aleph"/);
    // Every catalogued Runway model has a request shape here.
    for (const model of ['gen4.5', 'gen4_turbo', 'veo3.1', 'veo3.1_fast'])
      expect(runwayBackend({ apiKey: API_KEY, model }).model).toBe(model);
    expect(runwayBackend({ apiKey: API_KEY }).model).toBe(modelCapability('runway').model);
  });
});

describe('runway references and prompt dialect against the Runway test server', () => {
  let server: RunwayServer;
  beforeAll(async () => {
    server = await startRunwayServer({ apiKey: API_KEY, fps: 12 });
  });
  afterAll(() => server.close());

  const png = aPng(64, 48, 200);
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  const product: LoadedReference = {
    id: 'ref-1',
    role: 'product',
    contentType: 'image/png',
    description: 'aurora bottle',
    bytes: png,
  };
  const brand: LoadedReference = { id: 'ref-2', role: 'brand', contentType: 'image/png', bytes: aPng(32, 32, 20) };
  const withProduct = spec({
    camera: 'zoom_in',
    seed: 11,
    negativePrompt: 'blurry, extra fingers',
    continuity: [{ id: 'style', kind: 'style', description: 'Clean commercial look' }],
  });

  /** The create the server recorded for `taskId`, images summarised. */
  const receivedFor = (taskId: string) => {
    const entry = server.received().find((r) => r.taskId === taskId);
    if (!entry) throw new Error(`no create recorded for ${taskId}`);
    return { path: entry.path, body: entry.body as Record<string, unknown> };
  };
  const submit = (model: string, s: ShotSpec, references?: LoadedReference[]) =>
    runwayBackend({ apiKey: API_KEY, baseUrl: server.url, pollIntervalMs: 0, model }).submit(s, {
      attemptKey: 'k',
      signal: signal(),
      ...(references ? { references } : {}),
    });

  it.each([
    ['gen4.5', 'The camera slowly dollies in toward the subject.'],
    ['gen4_turbo', 'The camera slowly dollies in toward the subject.'],
  ])(
    '%s: the product image is the first frame in promptImage, in Runway words, other images recorded as not sent',
    async (model, cameraWords) => {
      const { taskId, sent } = await submit(model, withProduct, [product, brand]);
      const { path, body } = receivedFor(taskId);
      expect(path).toBe('/v1/image_to_video');
      expect(body.promptImage).toEqual({ bytes: png.length, sha256: sha256(png), mimeType: 'image/png' });
      expect(body.model).toBe(model);
      const prompt = body.promptText as string;
      expect(prompt.length).toBeLessThanOrEqual(modelCapability('runway', model).maxPromptChars);
      expect(prompt).toContain(cameraWords);
      expect(prompt).toContain(
        'The product shown in the first frame keeps its exact shape, colors and label throughout.',
      );
      expect(prompt).not.toMatch(/blurry|extra fingers|avoid/i);
      expect(body).not.toHaveProperty('negativePrompt');
      expect(sent).toEqual({
        model,
        prompt,
        seed: body.seed,
        references: ['ref-1'],
        firstFrame: 'ref-1',
        fields: { promptImage: 'ref-1' },
        dropped: [
          { part: 'negativePrompt', reason: `${model} on Runway has no negative prompt field` },
          { part: 'ref-2', reason: `${model} takes one image (its first frame)` },
        ],
      });
    },
  );

  it.each(['veo3.1', 'veo3.1_fast'])(
    '%s: the product image goes as the positioned first frame, and the prompt speaks Veo',
    async (model) => {
      const { taskId, sent } = await submit(model, spec({ ...withProduct, width: 1080, height: 1920 }), [product]);
      const { path, body } = receivedFor(taskId);
      expect(path).toBe('/v1/image_to_video');
      expect(body.promptImage).toEqual([
        { uri: { bytes: png.length, sha256: sha256(png), mimeType: 'image/png' }, position: 'first' },
      ]);
      expect(body.ratio).toBe('720:1280');
      expect(body.duration).toBe(4);
      const prompt = body.promptText as string;
      expect(prompt.length).toBeLessThanOrEqual(1000);
      expect(prompt).toContain('Slow dolly-in shot toward the subject.');
      expect(prompt).not.toContain('dollies in');
      expect(prompt).toContain('The product shown in the first frame');
      expect(body).not.toHaveProperty('negativePrompt');
      expect(sent).toEqual({
        model,
        prompt,
        seed: 11,
        references: ['ref-1'],
        firstFrame: 'ref-1',
        fields: { promptImage: 'ref-1' },
        dropped: [{ part: 'negativePrompt', reason: `${model} on Runway has no negative prompt field` }],
      });
    },
  );

  it('gen4_turbo without an image is refused before any request: `invalid`, uncharged, so the policy moves on', async () => {
    const creates = server.createRequests;
    const error = await failure(submit('gen4_turbo', withProduct), API_KEY);
    expect(error).toMatchObject({ class: 'invalid', code: 'runway.image_required', charged: false });
    expect(error.message).toMatch(/gen4_turbo needs an image/);
    expect(server.createRequests).toBe(creates);
    // An image too large to send inline is no image either.
    const huge: LoadedReference = { ...product, bytes: Buffer.alloc(4 * 1024 * 1024, 1) };
    expect(await failure(submit('gen4_turbo', withProduct, [huge]))).toMatchObject({ class: 'invalid' });
    expect(server.createRequests).toBe(creates);
  });

  it('gen4.5 without an image renders from text, and an image too large to inline is recorded, not sent', async () => {
    const huge: LoadedReference = { ...product, bytes: Buffer.alloc(4 * 1024 * 1024, 1) };
    const { taskId, sent } = await submit('gen4.5', withProduct, [huge]);
    const { path, body } = receivedFor(taskId);
    expect(path).toBe('/v1/text_to_video');
    expect(body).not.toHaveProperty('promptImage');
    expect(body.promptText).not.toContain('first frame');
    expect(body.promptText).toContain('The camera slowly dollies in toward the subject.');
    expect(sent.references).toEqual([]);
    expect(sent).not.toHaveProperty('fields');
    expect(sent.dropped).toContainEqual({ part: 'ref-1', reason: 'larger than the 5 MB image Runway takes inline' });
  });

  it('an image too large to inline is dropped by its size, never base64-encoded first', async () => {
    // 4 MB of bytes is a data URI of more than 5 MB; encoding it only to throw it away costs memory.
    const bytes = Buffer.alloc(4 * 1024 * 1024, 1);
    bytes.toString = () => {
      throw new Error('the oversized image was encoded');
    };
    const { sent } = await submit('gen4.5', withProduct, [{ ...product, bytes }]);
    expect(sent.references).toEqual([]);
    expect(sent.dropped).toContainEqual({ part: 'ref-1', reason: 'larger than the 5 MB image Runway takes inline' });
  });

  it('a prompt the planner filled to the limit still fits, keeping the product and camera sentences', async () => {
    const long = spec({ ...withProduct, prompt: 'Sunlit bottle on a marble plinth. '.repeat(30).trim() });
    const { taskId, sent } = await submit('gen4.5', long, [product]);
    const prompt = receivedFor(taskId).body.promptText as string;
    expect(prompt.length).toBeLessThanOrEqual(1000);
    expect(prompt).toContain('The product shown in the first frame');
    expect(prompt).toContain('The camera slowly dollies in toward the subject.');
    expect(sent.dropped).toContainEqual({
      part: 'subject',
      reason: "its end was cut to fit gen4.5's 1000-character prompt",
    });
  });
});
