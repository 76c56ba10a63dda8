import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShotSpec } from '@aiprod/contracts';
import { probe } from '@aiprod/media';
import { aPng, startReplicateServer, type ReceivedRequest, type ReplicateServer } from '@aiprod/testing';
import { modelCapability } from '@aiprod/vendor-catalogue';
import type { LoadedReference, PollResult, SentRequest, VideoBackend } from './backend';
import { CAMERA_WORDS } from './dialect';
import { replicateBackend, replicateRequest, requestedSeconds, wanFrames } from './replicate';
import { failureOf, pollToEnd } from '../../test/backend-kit';

const TOKEN = 'r8_Zx9Qk2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg';
/** The transport tests run on Wan whatever the catalogue's default, so their input stays known. */
const WAN = 'wan-video/wan-2.2-t2v-fast';

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
    backend = replicateBackend({ apiToken: TOKEN, model: WAN, baseUrl: server.baseUrl, pollIntervalMs: 0 });
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
    // The prompt in Wan's dialect: the subject, the camera in Wan's words, the palette as colour words.
    expect(created.input).toEqual({
      prompt:
        'A sneaker rotating on a pedestal, studio light. Fixed camera, static shot. Color palette: deep blue and bright yellow.',
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
    const impatient = replicateBackend({ apiToken: TOKEN, model: WAN, baseUrl: server.baseUrl, requestTimeoutMs: 200 });
    server.fail('poll', { delayMs: 1000 });
    expect(await failure(impatient.poll(taskId, signal()))).toMatchObject({
      class: 'transient',
      code: 'replicate.request_timeout',
    });
  });

  it('a wrong token is `auth`; an unknown model and a refused input are `invalid`', async () => {
    const wrong = replicateBackend({ apiToken: 'r8_wrong', model: WAN, baseUrl: server.baseUrl });
    const auth = await failure(wrong.submit(spec(), ctx()));
    expect(auth).toMatchObject({ class: 'auth', code: 'HTTP 401' });
    expect(auth.message).not.toContain('r8_wrong');
    const unknown = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, model: 'nobody/nothing' });
    expect(await failure(unknown.submit(spec(), ctx()))).toMatchObject({ class: 'invalid', code: 'HTTP 404' });
    const noPrompt = replicateBackend({
      apiToken: TOKEN,
      model: WAN,
      baseUrl: server.baseUrl,
      input: () => ({ num_frames: 81 }),
    });
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
    const dead = replicateBackend({
      apiToken: TOKEN,
      model: WAN,
      baseUrl: 'http://127.0.0.1:9/v1',
      requestTimeoutMs: 500,
    });
    await expect(dead.cancel(taskId, spec())).resolves.toEqual({ charged: true, usage: { outputSeconds: 5 } });

    // Deadline before it starts: aborted, free. While running: canceled, billed.
    const quick = replicateBackend({ apiToken: TOKEN, model: WAN, baseUrl: server.baseUrl, cancelAfter: '1s' });
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
    const restarted = replicateBackend({ apiToken: TOKEN, model: WAN, baseUrl: server.baseUrl });
    const done = (await pollToEnd(restarted, taskId)).pop()!;
    expect(done).toMatchObject({ state: 'succeeded', usage: { outputSeconds: 121 / 12 } });
    expect(server.createRequests).toBe(creates);
  });
});

/** A reference image as the render pool hands it over, with the digest the vendor must receive. */
const reference = (id: string, role: LoadedReference['role'], grey: number) => {
  const bytes = aPng(32, 32, grey);
  const loaded: LoadedReference = { id, role, contentType: 'image/png', bytes };
  return {
    loaded,
    summary: { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), mimeType: 'image/png' },
  };
};
const product = reference('product', 'product', 40);
const brand = reference('brand', 'brand', 120);
const style = reference('style', 'style', 200);
const ALL = [product, brand, style];
const summaryOf = (id: string) => ALL.find((r) => r.loaded.id === id)!.summary;

/** Every image summary anywhere in a recorded body. */
function imagesIn(value: unknown): unknown[] {
  if (Array.isArray(value)) return value.flatMap(imagesIn);
  if (value && typeof value === 'object') {
    if ('sha256' in value) return [value];
    return Object.values(value).flatMap(imagesIn);
  }
  return [];
}

/**
 * Checks that `sent` says exactly what the server received: prompt, negative prompt and seed as
 * recorded, each named field holding that reference's bytes, and no image the record leaves out.
 */
function expectSentMatches(sent: SentRequest, entry: ReceivedRequest): Record<string, unknown> {
  const input = (entry.body as { input: Record<string, unknown> }).input;
  expect(sent.prompt).toBe(input.prompt);
  expect(sent.negativePrompt).toBe(input.negative_prompt);
  expect(sent.seed).toBe(input.seed);
  for (const [field, id] of Object.entries(sent.fields ?? {})) {
    const list = /^(\w+)\[(\d+)\]$/.exec(field);
    const image = list ? (input[list[1]!] as unknown[])[Number(list[2])] : input[field];
    expect(image).toEqual(summaryOf(id));
  }
  expect(imagesIn(input)).toHaveLength(sent.references.length);
  expect(Object.values(sent.fields ?? {}).sort()).toEqual([...sent.references].sort());
  // Only fields the model declares: nothing sent that it would silently ignore.
  expect(entry.ignored).toBeUndefined();
  return input;
}

describe('replicate: reference images and prompts per model family, against the test server', () => {
  let server: ReplicateServer;

  beforeAll(async () => {
    // The server's own list: each model validated against its Replicate schema.
    server = await startReplicateServer({ apiToken: TOKEN });
  });
  afterAll(async () => {
    await server.close();
  });

  const submit = async (model: string, shot: ShotSpec, refs: readonly LoadedReference[]) => {
    const backend = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, model, pollIntervalMs: 0 });
    const { taskId, sent } = await backend.submit(shot, { ...ctx(), references: refs });
    const entry = server.received().pop()!;
    expect(entry).toMatchObject({ path: `/v1/models/${model}/predictions`, status: 201 });
    return { backend, taskId, sent, entry, input: expectSentMatches(sent, entry) };
  };

  const branded = (over: Partial<ShotSpec> = {}) =>
    spec({
      camera: 'zoom_in',
      seed: 11,
      negativePrompt: 'blurry text, extra logos',
      width: 1280,
      height: 720,
      ...over,
    });

  it('Seedance 1 lite: product, brand and style as reference_images, named [ImageN]; the camera pushes in; no negative field', async () => {
    const model = 'bytedance/seedance-1-lite';
    const { sent, input, backend, taskId } = await submit(
      model,
      branded(),
      ALL.map((r) => r.loaded),
    );
    expect(input.reference_images).toEqual([product.summary, brand.summary, style.summary]);
    expect(input.image).toBeUndefined();
    const prompt = input.prompt as string;
    expect(prompt.length).toBeLessThanOrEqual(modelCapability('replicate', model).maxPromptChars);
    expect(prompt).toContain('The camera pushes in slowly toward the subject.');
    expect(prompt).toContain('The product is [Image1], exactly as in its reference.');
    expect(input).toMatchObject({
      camera_fixed: false,
      resolution: '720p',
      aspect_ratio: '16:9',
      duration: 5,
      seed: 11,
    });
    expect(sent).toEqual({
      model,
      prompt,
      seed: 11,
      references: ['product', 'brand', 'style'],
      fields: { 'reference_images[0]': 'product', 'reference_images[1]': 'brand', 'reference_images[2]': 'style' },
      dropped: [{ part: 'negativePrompt', reason: `${model} has no field for it` }],
    });
    expect((await pollToEnd(backend, taskId)).pop()).toMatchObject({ state: 'succeeded' });
  });

  it('Seedance 1 lite at 1080p: no reference_images there, so the product is the first frame and why is recorded', async () => {
    const model = 'bytedance/seedance-1-lite';
    const { sent, input } = await submit(
      model,
      branded({ camera: 'static', width: 1920, height: 1080 }),
      ALL.map((r) => r.loaded),
    );
    expect(input.image).toEqual(product.summary);
    expect(input.reference_images).toBeUndefined();
    expect(input).toMatchObject({ resolution: '1080p', camera_fixed: true });
    expect(input.prompt).toContain(CAMERA_WORDS.seedance.static);
    expect(input.prompt).toContain('The product shown in the first frame keeps its exact shape');
    expect(sent).toMatchObject({ references: ['product'], firstFrame: 'product', fields: { image: 'product' } });
    expect(sent.dropped).toEqual([
      {
        part: 'reference_images',
        reason: `${model} refuses reference_images at 1080p: product is sent as the first frame (image) instead`,
      },
      { part: 'brand', reason: `${model} takes one image here (its first frame, image), given to product` },
      { part: 'style', reason: `${model} takes one image here (its first frame, image), given to product` },
      { part: 'negativePrompt', reason: `${model} has no field for it` },
    ]);
  });

  it('Kling v2.1: the product as start_image, the negative prompt in negative_prompt, a dolly in in Kling’s words', async () => {
    const model = 'kwaivgi/kling-v2.1';
    const { sent, input } = await submit(model, branded(), [product.loaded, brand.loaded]);
    expect(input.start_image).toEqual(product.summary);
    expect(input.negative_prompt).toBe('blurry text, extra logos');
    const prompt = input.prompt as string;
    expect(prompt.length).toBeLessThanOrEqual(modelCapability('replicate', model).maxPromptChars);
    expect(prompt).toContain('Slow dolly in toward the subject.');
    expect(input).toMatchObject({ duration: 5, mode: 'standard' });
    // Kling declares no seed: sending one would claim a seed the model never read.
    expect(input.seed).toBeUndefined();
    expect(sent).toEqual({
      model,
      prompt,
      negativePrompt: 'blurry text, extra logos',
      references: ['product'],
      firstFrame: 'product',
      fields: { start_image: 'product' },
      dropped: [
        { part: 'brand', reason: `${model} takes one image here (its first frame, start_image), given to product` },
      ],
    });
  });

  it('Kling v2.1 without any reference image: refused before any request, `invalid` and free, so the policy moves on', async () => {
    const backend = replicateBackend({ apiToken: TOKEN, baseUrl: server.baseUrl, model: 'kwaivgi/kling-v2.1' });
    const creates = server.createRequests;
    const refused = await failure(backend.submit(branded(), ctx()));
    expect(refused).toMatchObject({ class: 'invalid', code: 'replicate.image_required', charged: false });
    expect(refused.message).toContain('kwaivgi/kling-v2.1 needs an image');
    expect(server.createRequests).toBe(creates);
  });

  it('Hailuo 02: the product as first_frame_image, the camera command leads, no negative field, prompt kept as sent', async () => {
    const model = 'minimax/hailuo-02';
    const { sent, input } = await submit(model, branded({ durationSeconds: 6 }), [product.loaded]);
    expect(input.first_frame_image).toEqual(product.summary);
    const prompt = input.prompt as string;
    expect(prompt.length).toBeLessThanOrEqual(modelCapability('replicate', model).maxPromptChars);
    expect(prompt.startsWith('[Push in] ')).toBe(true);
    expect(input).toMatchObject({ duration: 6, resolution: '768p', prompt_optimizer: false });
    expect(sent).toEqual({
      model,
      prompt,
      references: ['product'],
      firstFrame: 'product',
      fields: { first_frame_image: 'product' },
      dropped: [{ part: 'negativePrompt', reason: `${model} has no field for it` }],
    });
  });

  it('Wan 2.2 t2v: text only, every reference recorded as not sent and why; negative prompt in its field', async () => {
    const model = 'wan-video/wan-2.2-t2v-fast';
    const { sent, input } = await submit(model, branded(), [product.loaded, brand.loaded]);
    expect(imagesIn(input)).toEqual([]);
    expect(input.prompt).toContain(CAMERA_WORDS.wan.zoom_in);
    expect(input.prompt).not.toContain('first frame');
    expect(input).toMatchObject({ negative_prompt: 'blurry text, extra logos', seed: 11, resolution: '720p' });
    expect(sent).toEqual({
      model,
      prompt: input.prompt,
      negativePrompt: 'blurry text, extra logos',
      seed: 11,
      references: [],
      dropped: [
        { part: 'product', reason: `${model} takes no image (text to video only)` },
        { part: 'brand', reason: `${model} takes no image (text to video only)` },
      ],
    });
  });

  it('a prompt over the model’s limit is cut to fit, keeping the camera move, and the cut is recorded', async () => {
    const model = 'bytedance/seedance-1-lite';
    const long = `A sneaker rotating on a pedestal under soft studio light, ${'with slow glints running along its stitched leather panels, '.repeat(30)}and a calm backdrop.`;
    const { sent, input } = await submit(model, branded({ prompt: long }), [product.loaded]);
    const prompt = input.prompt as string;
    expect(long.length).toBeGreaterThan(1000);
    expect(prompt.length).toBeLessThanOrEqual(modelCapability('replicate', model).maxPromptChars);
    expect(prompt).toContain(CAMERA_WORDS.seedance.zoom_in);
    expect(sent.dropped).toContainEqual({ part: 'subject', reason: `no room within ${model}'s 1000-character prompt` });
  });

  it('Seedance 1 lite without references sends no image field and still renders', async () => {
    const model = 'bytedance/seedance-1-lite';
    const { sent, input, backend, taskId } = await submit(model, spec({ seed: 3 }), []);
    expect(imagesIn(input)).toEqual([]);
    expect(input).toEqual({
      prompt: sent.prompt,
      seed: 3,
      duration: 5,
      resolution: '480p',
      aspect_ratio: '16:9',
      fps: 24,
      camera_fixed: true,
    });
    expect(sent).toEqual({ model, prompt: input.prompt, seed: 3, references: [] });
    expect((await pollToEnd(backend, taskId)).pop()).toMatchObject({ state: 'succeeded' });
  });
});

describe('replicate input shaping', () => {
  it('never asks Wan for less than the shot when it can make it, within 81–121 frames and 5–16 fps', () => {
    for (const seconds of [1, 5, 7, 10, 15, 20]) {
      const input = wanFrames(seconds);
      expect(input.num_frames).toBeGreaterThanOrEqual(81);
      expect(input.num_frames).toBeLessThanOrEqual(121);
      expect(input.frames_per_second).toBeGreaterThanOrEqual(5);
      expect(input.frames_per_second).toBeLessThanOrEqual(16);
      expect(requestedSeconds(input)!).toBeGreaterThanOrEqual(seconds);
    }
    const { input } = replicateRequest(
      'wan-video/wan-2.2-t2v-fast',
      spec({ width: 1080, height: 1920, retakeNote: 'logo cut off' }),
    );
    expect(input).toMatchObject({ aspect_ratio: '9:16', resolution: '720p' });
    expect(input.prompt).toContain('Correct what was wrong in the previous take: logo cut off.');
  });

  it('gives Seedance whole seconds it makes, at the resolution and ratio of the frame', () => {
    const seedance = (over: Partial<ShotSpec>) => replicateRequest('bytedance/seedance-1-lite', spec(over)).input;
    expect(seedance({ durationSeconds: 6.5 })).toMatchObject({ duration: 7, resolution: '480p', aspect_ratio: '16:9' });
    expect(seedance({ durationSeconds: 20, width: 1080, height: 1920 })).toMatchObject({
      duration: 12,
      resolution: '1080p',
      aspect_ratio: '9:16',
    });
    expect(seedance({ durationSeconds: 1, width: 1080, height: 1080 })).toMatchObject({
      duration: 2,
      aspect_ratio: '1:1',
    });
    expect(requestedSeconds(seedance({ durationSeconds: 5 }))).toBe(5);
  });

  it('gives Hailuo 768p for a 10 s shot (its only size for 10 s) and Kling pro mode at 1080p', () => {
    expect(
      replicateRequest('minimax/hailuo-02', spec({ durationSeconds: 10, width: 1920, height: 1080 }), [product.loaded])
        .input,
    ).toMatchObject({
      duration: 10,
      resolution: '768p',
    });
    expect(
      replicateRequest('kwaivgi/kling-v2.1', spec({ durationSeconds: 8, width: 1920, height: 1080 }), [product.loaded])
        .input,
    ).toMatchObject({
      duration: 10,
      mode: 'pro',
    });
  });
});
