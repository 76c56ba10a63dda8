import { createHash } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OAuth2Client } from 'google-auth-library';
import type { ShotSpec } from '@aiprod/contracts';
import { probe } from '@aiprod/media';
import { aPng, startVeoServer, type VeoServer } from '@aiprod/testing';
import { modelCapability } from '@aiprod/vendor-catalogue';
import { BackendFailure, type BackendError, type LoadedReference, type PollResult, type VideoBackend } from './backend';
import { CAMERA_WORDS, promptLimitsFor } from './dialect';
import { classifyVeoOperationError, veoBackend, type VeoBackendOptions } from './veo';
import { veoRequest } from './veo-request';
import { failureOf } from '../../test/backend-kit';

const PROJECT = 'aiprod-test';
const LOCATION = 'us-central1';
const MODEL = 'veo-3.1-fast-generate-001';
const TOKEN = 'ya29.secret-test-token-do-not-leak';

const SPEC: ShotSpec = {
  shotId: 's01',
  index: 0,
  purpose: 'hook',
  durationSeconds: 4,
  prompt: 'A runner in Aurora shoes crosses a coastal road at dawn',
  negativePrompt: 'text, watermark',
  camera: 'pan_left',
  palette: ['#1E3A8A', '#F59E0B'],
  width: 1280,
  height: 720,
  fps: 24,
  seed: 42,
  retakeNote: 'the shoes were not visible',
};

function fixedTokenClient(): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: TOKEN, expiry_date: Date.now() + 3_600_000 });
  return client;
}

const ctx = (attemptKey = 'job1/s01/1') => ({ attemptKey, signal: AbortSignal.timeout(30_000) });
const signal = () => AbortSignal.timeout(30_000);
const failure = (promise: Promise<unknown>) => failureOf(promise, TOKEN);

/** Polls like the render pool does, bounded: at most `max` reads. */
async function pollUntilDone(backend: VideoBackend, taskId: string, max = 10): Promise<PollResult> {
  for (let i = 0; i < max; i++) {
    const result = await backend.poll(taskId, signal());
    if (result.state !== 'pending') return result;
  }
  throw new Error(`still pending after ${max} polls`);
}

describe('veo backend against the Veo test server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-veo-backend-'));
  const bucketDir = join(dir, 'bucket');
  let server: VeoServer;
  let n = 0;
  const out = () => join(dir, `clip-${++n}.mp4`);
  const make = (options: Partial<VeoBackendOptions> = {}) =>
    veoBackend({
      project: PROJECT,
      location: LOCATION,
      baseUrl: server.url,
      authClient: fixedTokenClient(),
      pollIntervalMs: 0,
      ...options,
    });

  beforeAll(async () => {
    server = await startVeoServer({ gcs: { uriPrefix: 'gs://aiprod-clips', dir: bucketDir } });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('submits once, polls a slow operation to done, and writes a decodable MP4 of the shot', async () => {
    const backend = make({ generateAudio: true });
    expect(backend).toMatchObject({ name: 'veo', model: MODEL });
    server.enqueueCreate({ operation: { pollsUntilDone: 2 } });
    const creates = server.counts.predictLongRunning;

    const { taskId, sent: reported } = await backend.submit(SPEC, ctx());
    expect(taskId).toMatch(
      new RegExp(`^projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/${MODEL}/operations/`),
    );
    expect(await backend.poll(taskId, signal())).toEqual({ state: 'pending', detail: 'RUNNING' });
    expect(await backend.poll(taskId, signal())).toMatchObject({ state: 'pending' });
    const done = await backend.poll(taskId, signal());
    expect(server.counts.predictLongRunning - creates).toBe(1);
    if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
    expect(done.output).toMatchObject({ kind: 'bytes', mimeType: 'video/mp4' });
    expect(done.usage).toEqual({ outputSeconds: 4 });

    const file = out();
    await backend.fetchResult(done.output, file, signal());
    const probed = await probe(file);
    expect(probed.video).toMatchObject({ codec: 'h264', width: 1280, height: 720 });
    expect(probed.durationSeconds).toBeCloseTo(4, 1);
    expect(probed.audio).not.toBeNull();

    // What went over the wire: the request Vertex documents, with our bearer token.
    const sent = server.requests.filter((r) => r.route === 'predictLongRunning').at(-1)!;
    expect(sent.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent.body).toEqual({
      instances: [
        {
          // Veo's dialect: the camera as a shot name, the retake note said positively, the palette as words.
          prompt:
            'A runner in Aurora shoes crosses a coastal road at dawn. Slow pan shot to the left. Correct what was wrong in the previous take: the shoes were not visible. Color palette: dark blue and bright orange.',
        },
      ],
      parameters: {
        sampleCount: 1,
        durationSeconds: 4,
        aspectRatio: '16:9',
        resolution: '720p',
        generateAudio: true,
        personGeneration: 'allow_adult',
        negativePrompt: 'text, watermark',
        seed: 42,
      },
      labels: { aiprod_attempt: 'job1-s01-1' },
    });
    // What the pool records as sent is what Vertex received, field for field.
    const wire = sent.body as { instances: { prompt: string }[]; parameters: { negativePrompt: string; seed: number } };
    expect(reported).toEqual({
      model: MODEL,
      prompt: wire.instances[0]!.prompt,
      negativePrompt: wire.parameters.negativePrompt,
      seed: wire.parameters.seed,
      references: [],
    });
  });

  it('maps a vertical 1080p shot to 9:16 1080p without audio by default', async () => {
    const backend = make();
    const spec = { ...SPEC, width: 1080, height: 1920, durationSeconds: 8 };
    const { taskId } = await backend.submit(spec, ctx());
    const done = await pollUntilDone(backend, taskId);
    if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
    expect(server.operations.at(-1)?.parameters).toMatchObject({
      aspectRatio: '9:16',
      resolution: '1080p',
      durationSeconds: 8,
      generateAudio: false,
    });
    const file = out();
    await backend.fetchResult(done.output, file, signal());
    const probed = await probe(file);
    expect(probed.video).toMatchObject({ width: 1080, height: 1920 });
    expect(probed.audio).toBeNull();
    expect(done.usage.outputSeconds).toBe(8);
  });

  it('resumes polling from a fresh backend given only the operation name (crash resume)', async () => {
    server.enqueueCreate({ operation: { pollsUntilDone: 1 } });
    const creates = server.counts.predictLongRunning;
    const { taskId } = await make().submit({ ...SPEC, durationSeconds: 6 }, ctx());
    // The first worker died here; a new process knows only the stored task id.
    const restarted = make();
    expect(await restarted.poll(taskId, signal())).toMatchObject({ state: 'pending' });
    const done = await restarted.poll(taskId, signal());
    if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
    // Measured from the clip, since nothing in this process remembers the request.
    expect(done.usage.outputSeconds).toBe(6);
    const file = out();
    await restarted.fetchResult(done.output, file, signal());
    expect((await probe(file)).durationSeconds).toBeCloseTo(6, 1);
    expect(server.counts.predictLongRunning - creates).toBe(1);
  });

  it('has Vertex write into our bucket and reads the clip with readGcs', async () => {
    const reads: string[] = [];
    const readGcs = async (uri: string, outFile: string) => {
      reads.push(uri);
      await mkdir(dirname(outFile), { recursive: true });
      await copyFile(join(bucketDir, uri.slice('gs://aiprod-clips/'.length)), outFile);
    };
    const backend = make({ outputGcsPrefix: 'gs://aiprod-clips/veo/', readGcs });
    const { taskId } = await backend.submit(SPEC, ctx('job 7/s01/2'));
    expect(server.operations.at(-1)?.outputGcsUri).toBe('gs://aiprod-clips/veo/job_7/s01/2/');
    const done = await pollUntilDone(backend, taskId);
    if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
    expect(done.output).toEqual({
      kind: 'gcs',
      uri: `gs://aiprod-clips/veo/job_7/s01/2/${taskId.split('/').pop()}/sample_0.mp4`,
    });
    const file = out();
    await backend.fetchResult(done.output, file, signal());
    expect(reads).toEqual([done.output.kind === 'gcs' ? done.output.uri : '']);
    expect((await probe(file)).video).toMatchObject({ width: 1280, height: 720 });

    // A restarted worker measures the clip through the same reader.
    const resumed = await make({ outputGcsPrefix: 'gs://aiprod-clips/veo', readGcs }).poll(taskId, signal());
    expect(resumed).toMatchObject({ state: 'succeeded', usage: { outputSeconds: 4 } });

    expect(() => make({ outputGcsPrefix: 'gs://aiprod-clips/veo' })).toThrow(/readGcs/);
  });

  it('refuses a shot Veo cannot make before calling Vertex (class invalid)', async () => {
    const backend = make();
    const creates = server.counts.predictLongRunning;
    for (const spec of [
      { ...SPEC, durationSeconds: 5 },
      { ...SPEC, durationSeconds: 3.5 },
      { ...SPEC, width: 1080, height: 1080 },
      { ...SPEC, width: 3840, height: 2160 },
    ]) {
      expect(await failure(backend.submit(spec, ctx()))).toMatchObject({
        class: 'invalid',
        code: 'UNSUPPORTED_SPEC',
        charged: false,
      });
    }
    expect(server.counts.predictLongRunning).toBe(creates);
  });

  it('classifies a 429 as rate_limited with the retry delay, making one request (no SDK retries)', async () => {
    const backend = make();
    server.enqueueCreate({ status: 429, retryAfterSeconds: 17 });
    const creates = server.counts.predictLongRunning;
    expect(await failure(backend.submit(SPEC, ctx()))).toMatchObject({
      class: 'rate_limited',
      code: 'RESOURCE_EXHAUSTED',
      retryAfterMs: 17_000,
      charged: false,
    });
    expect(server.counts.predictLongRunning - creates).toBe(1);
  });

  it.each([
    [{ status: 503 }, { class: 'transient', code: 'UNAVAILABLE' }],
    [{ status: 500 }, { class: 'transient', code: 'INTERNAL' }],
    [{ status: 403 }, { class: 'auth', code: 'PERMISSION_DENIED' }],
    [{ status: 401 }, { class: 'auth', code: 'UNAUTHENTICATED' }],
    [
      { status: 400, message: 'Invalid value for parameter' },
      { class: 'invalid', code: 'INVALID_ARGUMENT' },
    ],
  ] as const)('classifies a create answered %p, once, not charged', async (behaviour, expected) => {
    const backend = make();
    server.enqueueCreate(behaviour);
    const creates = server.counts.predictLongRunning;
    const error = await failure(backend.submit(SPEC, ctx()));
    expect(error).toMatchObject({ ...expected, charged: false });
    expect(error.retryAfterMs).toBeUndefined();
    expect(server.counts.predictLongRunning - creates).toBe(1);
  });

  it('treats a malformed 200 on create as transient but charged: Vertex accepted it and the operation runs', async () => {
    server.enqueueCreate({ malformed: true });
    expect(await failure(make().submit(SPEC, ctx()))).toMatchObject({
      class: 'transient',
      code: 'MALFORMED_RESPONSE',
      charged: true,
    });
  });

  it('classifies poll failures as charged (the operation keeps running) and recovers on the next poll', async () => {
    const backend = make();
    const { taskId } = await backend.submit(SPEC, ctx());
    server.enqueuePoll({ status: 429, retryAfterSeconds: 3 });
    server.enqueuePoll({ status: 503 });
    server.enqueuePoll({ malformed: true });
    server.enqueuePoll({ status: 403 });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({
      class: 'rate_limited',
      retryAfterMs: 3000,
      charged: true,
    });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({ class: 'transient', charged: true });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({
      class: 'transient',
      code: 'MALFORMED_RESPONSE',
      charged: true,
    });
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({ class: 'auth', charged: true });
    expect(await backend.poll(taskId, signal())).toMatchObject({ state: 'succeeded' });
  });

  it('reports a safety filter as safety, not charged, with the reasons', async () => {
    server.enqueueCreate({
      operation: {
        outcome: { kind: 'filtered', count: 1, reasons: ['Person generation blocked. Support codes: 58061214'] },
      },
    });
    const backend = make();
    const { taskId } = await backend.submit(SPEC, ctx());
    const result = await pollUntilDone(backend, taskId);
    expect(result).toEqual({
      state: 'failed',
      error: {
        class: 'safety',
        code: 'RAI_MEDIA_FILTERED',
        message: "Veo's safety filter removed 1 video(s): Person generation blocked. Support codes: 58061214",
        charged: false,
      },
    });
  });

  it('reports done without a video or filter count as no_output', async () => {
    server.enqueueCreate({ operation: { outcome: { kind: 'empty' } } });
    const backend = make();
    const { taskId } = await backend.submit(SPEC, ctx());
    expect(await pollUntilDone(backend, taskId)).toMatchObject({
      state: 'failed',
      error: { class: 'no_output', code: 'NO_VIDEO', charged: false },
    });
  });

  it.each([
    [13, 'Internal error encountered.', 'transient', 'INTERNAL'],
    [14, 'Service unavailable', 'transient', 'UNAVAILABLE'],
    [8, 'Quota exceeded', 'rate_limited', 'RESOURCE_EXHAUSTED'],
    [3, 'Unsupported input', 'invalid', 'INVALID_ARGUMENT'],
    [
      3,
      "The prompt could not be submitted. This prompt contains sensitive words that violate Google's Responsible AI practices.",
      'safety',
      'INVALID_ARGUMENT',
    ],
    [7, 'Permission denied on the bucket', 'auth', 'PERMISSION_DENIED'],
  ])('classifies an operation that failed with code %d (%s)', async (code, message, cls, name) => {
    server.enqueueCreate({ operation: { outcome: { kind: 'error', code, message } } });
    const backend = make();
    const { taskId } = await backend.submit(SPEC, ctx());
    const result = await pollUntilDone(backend, taskId);
    expect(result).toMatchObject({ state: 'failed', error: { class: cls, code: name, charged: false } });
    if (result.state === 'failed') expect(result.error.message).toContain(message.slice(0, 40));
  });

  it('reports an operation Vertex no longer knows as no_output', async () => {
    const backend = make();
    const taskId = `projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/${MODEL}/operations/00000000-0000-0000-0000-000000000000`;
    expect(await failure(backend.poll(taskId, signal()))).toMatchObject({ class: 'no_output', code: 'NOT_FOUND' });
  });

  it('classifies an unreachable Vertex as transient and a per-request timeout as transient', async () => {
    const port = await new Promise<number>((resolve) => {
      const probeServer = createServer();
      probeServer.listen(0, '127.0.0.1', () => {
        const address = probeServer.address() as { port: number };
        probeServer.close(() => resolve(address.port));
      });
    });
    expect(await failure(make({ baseUrl: `http://127.0.0.1:${port}` }).submit(SPEC, ctx()))).toMatchObject({
      class: 'transient',
      code: 'NETWORK',
      charged: false,
    });

    server.enqueueCreate({ delayMs: 2000 });
    expect(await failure(make({ requestTimeoutMs: 200 }).submit(SPEC, ctx()))).toMatchObject({
      class: 'transient',
      code: 'DEADLINE_EXCEEDED',
    });
  });

  it("stops a poll when the caller's signal aborts, as canceled", async () => {
    const backend = make();
    const { taskId } = await backend.submit(SPEC, ctx());
    server.enqueuePoll({ delayMs: 2000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    expect(await failure(backend.poll(taskId, controller.signal))).toMatchObject({ class: 'canceled', charged: true });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('keeps credentials out of messages even when the vendor echoes them', async () => {
    server.enqueueCreate({ status: 403, message: `token Bearer ${TOKEN} has no access; url ?access_token=${TOKEN}` });
    const error = await failure(make().submit(SPEC, ctx()));
    expect(error.message).not.toContain('secret-test-token');
    expect(error.message).toContain('Bearer [REDACTED]');
  });

  it('cancel cannot stop Veo, so it reports the clip as billed; classify passes BackendFailure through', async () => {
    const backend = make();
    await expect(backend.cancel('projects/x/operations/y', { ...SPEC, durationSeconds: 6 })).resolves.toEqual({
      charged: true,
      usage: { outputSeconds: 6 },
    });
    const detail: BackendError = { class: 'safety', code: 'X', message: 'm', charged: false };
    expect(backend.classify(new BackendFailure(detail))).toBe(detail);
    expect(classifyVeoOperationError({ code: 1, message: 'cancelled' })).toMatchObject({ class: 'canceled' });
  });
});

/** A reference image as the pool hands it over: read from storage, checked against its digest. */
function reference(id: string, role: LoadedReference['role'], grey: number): LoadedReference & { sha256: string } {
  const bytes = aPng(64, 48, grey);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { id, role, contentType: 'image/png', bytes, sha256 };
}

/** The image summary the test server records for an image it received inline. */
const summary = (ref: ReturnType<typeof reference>) => ({
  bytes: ref.bytes.length,
  sha256: ref.sha256,
  mimeType: 'image/png',
});

interface VeoBody {
  instances: { prompt: string; image?: unknown; referenceImages?: unknown[] }[];
  parameters: { negativePrompt?: string; seed?: number; durationSeconds?: number };
}

describe('veo backend sends the shot as Veo reads it: references, camera words, negative prompt', () => {
  let server: VeoServer;
  const product = reference('ref-1', 'product', 40);
  const brand = reference('ref-2', 'brand', 120);
  const style = reference('ref-3', 'style', 200);
  const PRODUCT_SHOT: ShotSpec = { ...SPEC, durationSeconds: 8, camera: 'zoom_in', retakeNote: undefined };
  const make = (model?: string) =>
    veoBackend({
      project: PROJECT,
      location: LOCATION,
      baseUrl: server.url,
      authClient: fixedTokenClient(),
      pollIntervalMs: 0,
      ...(model ? { model } : {}),
    });
  /** The last create the server received, as it recorded it (images by digest). */
  const lastReceived = () => {
    const entry = server.received().at(-1)!;
    return { ...entry, body: entry.body as VeoBody };
  };

  beforeAll(async () => {
    server = await startVeoServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(['veo-3.1-fast-generate-001', 'veo-3.1-generate-001'])(
    '%s: an 8 s product shot carries the product as an asset reference, the camera as a Veo shot name',
    async (model) => {
      const backend = make(model === MODEL ? undefined : model);
      expect(backend.model).toBe(model);
      const { taskId, sent } = await backend.submit(PRODUCT_SHOT, { ...ctx(), references: [product] });

      const received = lastReceived();
      expect(received.status).toBe(200);
      expect(received.path).toContain(`/models/${model}:predictLongRunning`);
      const instance = received.body.instances[0]!;
      expect(instance.referenceImages).toEqual([{ image: summary(product), referenceType: 'asset' }]);
      expect(instance.image).toBeUndefined();
      expect(instance.prompt.length).toBeLessThanOrEqual(promptLimitsFor('veo', model).maxPromptChars);
      expect(instance.prompt).toContain('Slow dolly-in shot toward the subject.');
      expect(instance.prompt).toContain('The product from the reference image appears exactly as it looks there.');
      expect(received.body.parameters).toMatchObject({ negativePrompt: 'text, watermark', durationSeconds: 8 });
      expect(sent).toEqual({
        model,
        prompt: instance.prompt,
        negativePrompt: received.body.parameters.negativePrompt,
        seed: received.body.parameters.seed,
        references: ['ref-1'],
        fields: { 'referenceImages[0]': 'ref-1' },
      });
      // Vertex (its stand-in) made the clip: the request was one it accepts.
      const done = await pollUntilDone(backend, taskId);
      expect(done).toMatchObject({ state: 'succeeded', usage: { outputSeconds: 8 } });
    },
  );

  it('sends product then brand, leaves the style image out with its reason, and keeps a long prompt within the limit', async () => {
    const limit = promptLimitsFor('veo', MODEL).maxPromptChars;
    const longShot: ShotSpec = {
      ...PRODUCT_SHOT,
      prompt: `${'A runner in Aurora shoes crosses a coastal road at dawn, waves breaking below. '.repeat(12)}`.slice(
        0,
        1000,
      ),
      onScreenText: 'Run further',
    };
    const { sent } = await make().submit(longShot, { ...ctx(), references: [product, brand, style] });

    const { body, status } = lastReceived();
    expect(status).toBe(200);
    const instance = body.instances[0]!;
    expect(instance.referenceImages).toEqual([
      { image: summary(product), referenceType: 'asset' },
      { image: summary(brand), referenceType: 'asset' },
    ]);
    expect(instance.prompt.length).toBeLessThanOrEqual(limit);
    // The camera move and the reference sentence survive the cut; the subject is what gives way.
    expect(instance.prompt).toContain(CAMERA_WORDS.veo.zoom_in);
    expect(instance.prompt).toContain('The brand colors and logo follow the brand reference image.');
    expect(sent).toMatchObject({
      prompt: instance.prompt,
      references: ['ref-1', 'ref-2'],
      fields: { 'referenceImages[0]': 'ref-1', 'referenceImages[1]': 'ref-2' },
    });
    expect(sent.dropped).toEqual(
      expect.arrayContaining([
        { part: 'ref-3', reason: 'Veo 3.1 takes asset reference images only, not style images' },
        { part: 'subject', reason: `cut to fit the ${limit}-character prompt limit` },
      ]),
    );
  });

  it('a 6 s product shot starts from the product as its first frame (references need 8 s), and says so', async () => {
    const shot: ShotSpec = { ...PRODUCT_SHOT, durationSeconds: 6 };
    const { taskId, sent } = await make().submit(shot, { ...ctx(), references: [product, brand] });

    const { body, status } = lastReceived();
    expect(status).toBe(200);
    const instance = body.instances[0]!;
    expect(instance.image).toEqual(summary(product));
    expect(instance.referenceImages).toBeUndefined();
    expect(body.parameters.durationSeconds).toBe(6);
    expect(instance.prompt).toContain(
      'The product shown in the first frame keeps its exact shape, colors and label throughout.',
    );
    expect(instance.prompt).toContain(CAMERA_WORDS.veo.zoom_in);
    expect(sent).toEqual({
      model: MODEL,
      prompt: instance.prompt,
      negativePrompt: 'text, watermark',
      seed: SPEC.seed,
      references: ['ref-1'],
      firstFrame: 'ref-1',
      fields: { image: 'ref-1' },
      dropped: [
        {
          part: 'referenceImages',
          reason: 'Veo takes reference images only in 8 s clips, not 6 s: ref-1 is sent as the first frame instead',
        },
        { part: 'ref-2', reason: 'Veo takes reference images only in 8 s clips, not 6 s (ref-1)' },
      ],
    });
    expect(await pollUntilDone(make(), taskId)).toMatchObject({ state: 'succeeded', usage: { outputSeconds: 6 } });
  });

  it('a shot without references is a text-to-video request with nothing dropped', async () => {
    const { sent } = await make().submit(PRODUCT_SHOT, ctx());
    const { body } = lastReceived();
    expect(body.instances[0]).toEqual({
      prompt:
        'A runner in Aurora shoes crosses a coastal road at dawn. Slow dolly-in shot toward the subject. Color palette: dark blue and bright orange.',
    });
    expect(sent).toEqual({
      model: MODEL,
      prompt: body.instances[0]!.prompt,
      negativePrompt: 'text, watermark',
      seed: SPEC.seed,
      references: [],
    });
  });

  it('a model that needs a first frame is refused (invalid, not charged) for a shot with no image it can use', () => {
    const capability = { ...modelCapability('veo', MODEL), firstFrame: 'required' as const };
    const options = {
      model: MODEL,
      capability,
      limits: promptLimitsFor('veo', MODEL),
      generateAudio: false,
      personGeneration: 'allow_adult' as const,
    };
    for (const refs of [[], [style]]) {
      let thrown: unknown;
      try {
        veoRequest(PRODUCT_SHOT, refs, options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(BackendFailure);
      expect((thrown as BackendFailure).detail).toMatchObject({
        class: 'invalid',
        code: 'UNSUPPORTED_SPEC',
        charged: false,
        message: expect.stringMatching(/needs an image/),
      });
    }
    // Given the product, the same model starts from it, even in an 8 s shot.
    const request = veoRequest(PRODUCT_SHOT, [product], options);
    expect(request.source.image).toEqual({ imageBytes: product.bytes.toString('base64'), mimeType: 'image/png' });
    expect(request.config.referenceImages).toBeUndefined();
    expect(request.sent).toMatchObject({ firstFrame: 'ref-1', fields: { image: 'ref-1' } });
  });

  it('refuses at construction a Veo model the catalogue does not list (a retired veo-3.0)', () => {
    expect(() => make('veo-3.0-generate-001')).toThrow(/no veo model "veo-3.0-generate-001"/);
  });
});
