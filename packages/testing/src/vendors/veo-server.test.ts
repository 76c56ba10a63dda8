import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probe } from '@aiprod/media';
import { startVeoServer, type VeoServer } from './veo-server';

const MODEL = 'veo-3.1-fast-generate-001';
const RESOURCE = `projects/p1/locations/us-central1/publishers/google/models/${MODEL}`;
const AUTH = { authorization: 'Bearer test-token', 'content-type': 'application/json' };

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- protocol bodies under test
}

async function post(server: VeoServer, path: string, body: unknown, headers: Record<string, string> = AUTH) {
  const res = await fetch(`${server.url}/v1beta1/${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json } as Answer;
}

const create = (server: VeoServer, parameters: Record<string, unknown> = {}, model = MODEL) =>
  post(server, `projects/p1/locations/us-central1/publishers/google/models/${model}:predictLongRunning`, {
    instances: [{ prompt: 'A runner at dawn' }],
    parameters: { durationSeconds: 4, aspectRatio: '16:9', resolution: '720p', ...parameters },
  });

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const inline = { bytesBase64Encoded: PNG.toString('base64'), mimeType: 'image/png' };
const stored = { gcsUri: 'gs://aiprod-refs/job1/product.jpg', mimeType: 'image/jpeg' };
const asset = (image: unknown = inline) => ({ image, referenceType: 'asset' });

/** A predictLongRunning call with a chosen instance. */
const createWith = (server: VeoServer, instance: Record<string, unknown>, parameters: Record<string, unknown> = {}) =>
  post(server, `${RESOURCE}:predictLongRunning`, {
    instances: [{ prompt: 'The product on a marble plinth', ...instance }],
    parameters: { durationSeconds: 8, aspectRatio: '16:9', ...parameters },
  });

const fetchOp = (server: VeoServer, operationName: string) =>
  post(server, `${RESOURCE}:fetchPredictOperation`, { operationName });

describe('veo test server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-veo-server-test-'));
  const bucketDir = join(dir, 'bucket');
  let server: VeoServer;

  beforeAll(async () => {
    server = await startVeoServer({ gcs: { uriPrefix: 'gs://aiprod-clips', dir: bucketDir } });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates an operation and answers it done with an inline MP4 of the requested size, length and sound', async () => {
    const created = await create(server, { generateAudio: true, seed: 7 });
    expect(created.status).toBe(200);
    expect(created.json.name).toMatch(new RegExp(`^${RESOURCE}/operations/[0-9a-f-]{36}$`));

    const polled = await fetchOp(server, created.json.name);
    expect(polled.status).toBe(200);
    expect(polled.json).toMatchObject({ name: created.json.name, done: true, response: { raiMediaFilteredCount: 0 } });
    const [video] = polled.json.response.videos;
    expect(video.mimeType).toBe('video/mp4');
    const file = join(dir, 'inline.mp4');
    writeFileSync(file, Buffer.from(video.bytesBase64Encoded, 'base64'));
    const probed = await probe(file);
    expect(probed.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, fps: 24 });
    expect(probed.durationSeconds).toBeCloseTo(4, 1);
    expect(probed.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 2 });
    expect(server.operations.at(-1)).toMatchObject({ prompt: 'A runner at dawn', polls: 1, done: true });
  });

  it('makes a silent 9:16 1080p clip when no audio is asked for', async () => {
    const created = await create(server, { aspectRatio: '9:16', resolution: '1080p', durationSeconds: 6 });
    const polled = await fetchOp(server, created.json.name);
    const file = join(dir, 'vertical.mp4');
    writeFileSync(file, Buffer.from(polled.json.response.videos[0].bytesBase64Encoded, 'base64'));
    const probed = await probe(file);
    expect(probed.video).toMatchObject({ width: 1080, height: 1920 });
    expect(probed.durationSeconds).toBeCloseTo(6, 1);
    expect(probed.audio).toBeNull();
  });

  it('writes into the mapped bucket and answers gcsUri when a storageUri is given', async () => {
    const created = await create(server, { storageUri: 'gs://aiprod-clips/veo/job1/s01/1/' });
    const polled = await fetchOp(server, created.json.name);
    const id = created.json.name.split('/').pop();
    expect(polled.json.response.videos).toEqual([
      { gcsUri: `gs://aiprod-clips/veo/job1/s01/1/${id}/sample_0.mp4`, mimeType: 'video/mp4' },
    ]);
    const probed = await probe(join(bucketDir, 'veo/job1/s01/1', id, 'sample_0.mp4'));
    expect(probed.video).toMatchObject({ width: 1280, height: 720 });
    expect(server.operations.at(-1)?.outputGcsUri).toBe('gs://aiprod-clips/veo/job1/s01/1/');

    const elsewhere = await create(server, { storageUri: 'gs://someone-elses-bucket/x/' });
    expect(elsewhere.status).toBe(400);
    const escape = await create(server, { storageUri: 'gs://aiprod-clips/../../etc/' });
    expect(escape.status).toBe(400);
  });

  it.each([
    [{ durationSeconds: 5 }, /supported durations are \[4,6,8\]/],
    [{ durationSeconds: 10 }, /supported durations/],
    [{ aspectRatio: '1:1' }, /aspect ratio/],
    [{ resolution: '4k' }, /resolution/],
    [{ personGeneration: 'everyone' }, /personGeneration/],
    [{ storageUri: 'https://example.com/x' }, /gs:\/\//],
  ])('refuses %p with 400 INVALID_ARGUMENT as Vertex does', async (parameters, message) => {
    const before = server.operations.length;
    const answer = await create(server, parameters);
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(answer.json.error.message).toMatch(message);
    expect(server.operations).toHaveLength(before);
  });

  it.each(['veo-3.0-generate-001', 'veo-3.0-fast-generate-001', 'veo-2.0-generate-001', 'imagen-4.0'])(
    'answers 404 NOT_FOUND for %s: discontinued or not a Veo model',
    async (model) => {
      const before = server.operations.length;
      const answer = await create(server, {}, model);
      expect(answer.status).toBe(404);
      expect(answer.json.error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
      expect(answer.json.error.message).toContain(`models/${model}\``);
      expect(server.operations).toHaveLength(before);
    },
  );

  it('accepts the Veo 3.1 models, GA and preview', async () => {
    for (const model of ['veo-3.1-generate-001', 'veo-3.1-generate-preview', 'veo-3.1-fast-generate-preview']) {
      expect((await create(server, {}, model)).status).toBe(200);
    }
  });

  it('answers 401 without a bearer token and 404 for an unknown route or operation', async () => {
    const path = `${RESOURCE}:predictLongRunning`;
    const unauth = await post(server, path, { instances: [{ prompt: 'x' }] }, { 'content-type': 'application/json' });
    expect(unauth.status).toBe(401);
    expect(unauth.json.error.status).toBe('UNAUTHENTICATED');
    expect((await post(server, `${RESOURCE}:predict`, {})).status).toBe(404);
    const unknown = await fetchOp(server, `${RESOURCE}/operations/00000000-0000-0000-0000-000000000000`);
    expect(unknown.status).toBe(404);
    const mismatched = await fetchOp(
      server,
      'projects/p1/locations/us-central1/publishers/google/models/other/operations/1',
    );
    expect(mismatched.status).toBe(400);
  });

  it('plays scripted create failures in order and counts every create call', async () => {
    const before = server.counts.predictLongRunning;
    server.enqueueCreate({ status: 429, retryAfterSeconds: 12 });
    server.enqueueCreate({ status: 503 });
    server.enqueueCreate({ status: 403 });
    server.enqueueCreate({ malformed: true });

    const limited = await create(server);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('12');
    expect(limited.json.error).toMatchObject({
      status: 'RESOURCE_EXHAUSTED',
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '12s' }],
    });
    expect((await create(server)).json.error.status).toBe('UNAVAILABLE');
    expect((await create(server)).json.error.status).toBe('PERMISSION_DENIED');
    const malformed = await create(server);
    expect(malformed.status).toBe(200);
    expect(malformed.json).toBeUndefined();
    expect((await create(server)).status).toBe(200);
    expect(server.counts.predictLongRunning - before).toBe(5);
  });

  it('keeps a slow operation running for the scripted number of polls', async () => {
    server.enqueueCreate({ operation: { pollsUntilDone: 2 } });
    const { json } = await create(server);
    expect((await fetchOp(server, json.name)).json).toEqual({ name: json.name });
    expect((await fetchOp(server, json.name)).json).toEqual({ name: json.name });
    expect((await fetchOp(server, json.name)).json.done).toBe(true);
  });

  it('finishes operations with a safety filter, an error or nothing', async () => {
    server.enqueueCreate({ operation: { outcome: { kind: 'filtered', reasons: ['celebrity likeness'] } } });
    server.enqueueCreate({ operation: { outcome: { kind: 'error', code: 13, message: 'Internal error' } } });
    server.enqueueCreate({ operation: { outcome: { kind: 'empty' } } });
    const filtered = await fetchOp(server, (await create(server)).json.name);
    expect(filtered.json.response).toMatchObject({
      raiMediaFilteredCount: 1,
      raiMediaFilteredReasons: ['celebrity likeness'],
    });
    expect(filtered.json.response.videos).toBeUndefined();
    const failed = await fetchOp(server, (await create(server)).json.name);
    expect(failed.json).toMatchObject({ done: true, error: { code: 13, message: 'Internal error' } });
    const empty = await fetchOp(server, (await create(server)).json.name);
    expect(empty.json.done).toBe(true);
    expect(empty.json.response.videos).toBeUndefined();
    expect(empty.json.response.raiMediaFilteredCount).toBeUndefined();
  });

  it('plays scripted poll failures without advancing the operation', async () => {
    const { json } = await create(server);
    server.enqueuePoll({ status: 500 });
    server.enqueuePoll({ malformed: true });
    expect((await fetchOp(server, json.name)).status).toBe(500);
    expect((await fetchOp(server, json.name)).json).toBeUndefined();
    expect(server.operations.at(-1)?.polls).toBe(0);
    expect((await fetchOp(server, json.name)).json.done).toBe(true);
  });

  it('takes a first frame, with or without a last frame, inline or from GCS; never a last frame alone', async () => {
    expect((await createWith(server, { image: inline })).status).toBe(200);
    expect((await createWith(server, { image: stored, lastFrame: inline }, { durationSeconds: 4 })).status).toBe(200);
    expect((await createWith(server, { prompt: undefined, image: inline })).status).toBe(200);
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ lastFrame: inline }, /lastFrame requires image/],
      [{ image: { ...inline, mimeType: 'image/gif' } }, /mimeType image\/gif is not supported/],
      [{ image: { ...inline, ...stored } }, /exactly one of bytesBase64Encoded or gcsUri/],
      [{ image: { bytesBase64Encoded: 'not base64!', mimeType: 'image/png' } }, /not valid base64/],
      [{ image: { gcsUri: 'https://example.com/a.png', mimeType: 'image/png' } }, /gs:\/\//],
    ];
    for (const [instance, message] of refusals) {
      const answer = await createWith(server, instance);
      expect(answer.status).toBe(400);
      expect(answer.json.error).toMatchObject({
        code: 400,
        status: 'INVALID_ARGUMENT',
        message: expect.stringMatching(message),
      });
    }
  });

  it('takes up to 3 asset reference images, with a prompt, no frames, for 8 s clips only', async () => {
    expect((await createWith(server, { referenceImages: [asset(), asset(stored), asset()] })).status).toBe(200);
    expect((await createWith(server, { referenceImages: [asset()] }, { durationSeconds: undefined })).status).toBe(200);
    const refusals: [Record<string, unknown>, Record<string, unknown>, RegExp][] = [
      [{ referenceImages: [asset(), asset(), asset(), asset()] }, {}, /1 to 3 images/],
      [{ referenceImages: [] }, {}, /1 to 3 images/],
      [
        { referenceImages: [{ image: inline, referenceType: 'style' }] },
        {},
        /Style reference images are not supported/,
      ],
      [{ referenceImages: [{ image: inline }] }, {}, /referenceType undefined is not supported/],
      [
        { referenceImages: [asset({ mimeType: 'image/png' })] },
        {},
        /referenceImages\[0\]\.image must have exactly one/,
      ],
      [{ referenceImages: [asset()], image: inline }, {}, /cannot be combined with image, lastFrame or video/],
      [{ referenceImages: [asset()], prompt: undefined }, {}, /text prompt is required with referenceImages/],
      [
        { referenceImages: [asset()] },
        { durationSeconds: 6 },
        /supported durations are \[8\] for feature reference_to_video/,
      ],
    ];
    for (const [instance, parameters, message] of refusals) {
      const answer = await createWith(server, instance, parameters);
      expect([answer.status, answer.json.error.message]).toEqual([400, expect.stringMatching(message)]);
    }
  });

  it('records what it received, images summarised, readable in-process and at /__received', async () => {
    server.clearReceived();
    const accepted = await createWith(
      server,
      { referenceImages: [asset(), asset(stored)] },
      { negativePrompt: 'blur' },
    );
    await createWith(server, { lastFrame: inline });
    const summary = {
      bytes: PNG.length,
      sha256: createHash('sha256').update(PNG).digest('hex'),
      mimeType: 'image/png',
    };
    const expected = [
      {
        seq: expect.any(Number),
        receivedAt: expect.any(String),
        method: 'POST',
        path: `/v1beta1/${RESOURCE}:predictLongRunning`,
        status: 200,
        taskId: accepted.json.name,
        body: {
          instances: [
            {
              prompt: 'The product on a marble plinth',
              referenceImages: [
                { image: summary, referenceType: 'asset' },
                { image: stored, referenceType: 'asset' },
              ],
            },
          ],
          parameters: { durationSeconds: 8, aspectRatio: '16:9', negativePrompt: 'blur' },
        },
      },
      {
        status: 400,
        refusal: { error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringMatching(/lastFrame/) } },
        body: { instances: [{ lastFrame: summary }] },
      },
    ];
    expect(server.received()).toEqual([expected[0], expect.objectContaining({ status: 400 })]);
    expect(server.received()[1]).toMatchObject(expected[1]!);
    const res = await fetch(`${server.url}/__received`);
    expect(((await res.json()) as { received: unknown }).received).toEqual(server.received());
    expect((await fetch(`${server.url}/__received`, { method: 'DELETE' })).status).toBe(204);
    expect(server.received()).toEqual([]);
  });
});
