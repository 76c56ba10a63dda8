import { copyFile, mkdir } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OAuth2Client } from 'google-auth-library';
import type { ShotSpec } from '@aiprod/contracts';
import { probe } from '@aiprod/media';
import { startVeoServer, type VeoServer } from '@aiprod/testing';
import { BackendFailure, type BackendError, type PollResult, type VideoBackend } from './backend';
import { classifyVeoOperationError, veoBackend, type VeoBackendOptions } from './veo';
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
          prompt:
            'A runner in Aurora shoes crosses a coastal road at dawn\n\nA previous take was rejected for this reason; avoid it: the shoes were not visible',
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
