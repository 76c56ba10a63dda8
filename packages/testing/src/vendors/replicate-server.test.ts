import { createHash } from 'node:crypto';
import {
  parseCancelAfter,
  REPLICATE_MODELS,
  replicateClipFor,
  startReplicateServer,
  type ReplicateServer,
} from './replicate-server';

const TOKEN = 'r8_test';
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const input = { prompt: 'a cat', num_frames: 17, frames_per_second: 8, aspect_ratio: '9:16', resolution: '480p' };

async function call(
  server: ReplicateServer,
  method: string,
  path: string,
  body?: unknown,
  h: Record<string, string> = {},
) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...headers, ...h },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read vendor JSON by path
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, any> };
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const PNG_URI = `data:image/png;base64,${PNG.toString('base64')}`;
const URL_IMAGE = 'https://cdn.example.com/product.jpg';

describe('replicate test server', () => {
  let server: ReplicateServer;
  beforeEach(async () => {
    // acme/vid: a model outside the catalogue, named so it is served with the generic check.
    server = await startReplicateServer({ apiToken: TOKEN, models: ['acme/vid', ...Object.keys(REPLICATE_MODELS)] });
  });
  afterEach(async () => {
    await server.close();
  });

  it('parses Cancel-After durations and sizes clips from the input', () => {
    expect(parseCancelAfter('15m')).toBe(900_000);
    expect(parseCancelAfter('1h30m')).toBe(5_400_000);
    expect(parseCancelAfter('90s')).toBe(90_000);
    expect(parseCancelAfter('1500ms')).toBe(1500);
    expect(parseCancelAfter('soon')).toBeUndefined();
    expect(replicateClipFor(input)).toEqual({ durationSeconds: 17 / 8, width: 480, height: 854, fps: 8 });
  });

  it('creates (201), runs starting → processing → succeeded, and serves the output', async () => {
    const created = await call(server, 'POST', '/v1/models/acme/vid/predictions', { input });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      status: 'starting',
      model: 'acme/vid',
      input,
      urls: { get: expect.any(String) },
    });
    const id = created.json.id as string;
    expect((await call(server, 'GET', `/v1/predictions/${id}`)).json.status).toBe('starting');
    expect((await call(server, 'GET', `/v1/predictions/${id}`)).json).toMatchObject({
      status: 'processing',
      logs: expect.stringMatching(/%\|/),
    });
    const done = (await call(server, 'GET', `/v1/predictions/${id}`)).json;
    expect(done).toMatchObject({
      status: 'succeeded',
      output: expect.stringMatching(/\.mp4$/),
      metrics: { predict_time: expect.any(Number) },
    });
    expect((await fetch(done.output)).status).toBe(200);
    expect(server.predictionsCreated).toBe(1);
  });

  it('Prefer: wait holds the create until the prediction ends', async () => {
    server.scriptPrediction({ starting: { ms: 100 }, processing: { ms: 100 } });
    const created = await call(server, 'POST', '/v1/models/acme/vid/predictions', { input }, { prefer: 'wait=5' });
    expect(created.json).toMatchObject({ status: 'succeeded', output: expect.any(String) });
  });

  it('answers 401, 422 and injected 429 with the Replicate error shape; counts creates', async () => {
    expect(
      (await call(server, 'POST', '/v1/models/acme/vid/predictions', { input }, { authorization: 'Bearer x' })).status,
    ).toBe(401);
    const invalid = await call(server, 'POST', '/v1/models/acme/vid/predictions', { input: { num_frames: 0 } });
    expect(invalid.status).toBe(422);
    expect(invalid.json.invalid_fields.map((f: { field: string }) => f.field)).toEqual([
      'input.prompt',
      'input.num_frames',
    ]);
    server.fail('create', { status: 429, retryAfterSeconds: 4 });
    const limited = await call(server, 'POST', '/v1/models/acme/vid/predictions', { input });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('4');
    expect(limited.json).toEqual({
      title: 'Too many requests',
      detail: 'Request was throttled. Your rate limit resets in ~4s.',
      status: 429,
    });
    expect(server.createRequests).toBe(3);
    expect(server.predictionsCreated).toBe(0);
  });

  it('cancel ends a live prediction as canceled; an unknown id is 404', async () => {
    const { json } = await call(server, 'POST', '/v1/models/acme/vid/predictions', { input });
    expect((await call(server, 'POST', `/v1/predictions/${json.id}/cancel`)).json.status).toBe('canceled');
    expect((await call(server, 'GET', '/v1/predictions/nope')).status).toBe(404);
  });

  /** The fields a model's create is refused for (422), or [] when it is accepted (201). */
  const refusedFields = async (model: string, modelInput: Record<string, unknown>) => {
    const answer = await call(server, 'POST', `/v1/models/${model}/predictions`, { input: modelInput });
    if (answer.status === 201) return [];
    expect(answer.status).toBe(422);
    expect(answer.json).toMatchObject({ title: 'Input validation failed', status: 422, detail: expect.any(String) });
    return (answer.json.invalid_fields as { field: string }[]).map((f) => f.field);
  };

  it('answers 404 for a model it does not serve, by default anything outside its catalogue', async () => {
    const strict = await startReplicateServer({ apiToken: TOKEN });
    try {
      const path = (m: string) => `${strict.url}/v1/models/${m}/predictions`;
      const post = (m: string, body: unknown) =>
        fetch(path(m), { method: 'POST', headers, body: JSON.stringify(body) });
      const unknown = await post('acme/vid', { input });
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({
        title: 'Not found',
        detail: 'The requested resource could not be found.',
        status: 404,
      });
      expect((await post('bytedance/seedance-1-lite', { input: { prompt: 'a cat' } })).status).toBe(201);
    } finally {
      await strict.close();
    }
  });

  it('seedance-1: first and last frame, or 1–4 reference images (lite only, not with frames or 1080p)', async () => {
    const lite = 'bytedance/seedance-1-lite';
    const base = { prompt: 'the product turns', duration: 2, resolution: '480p', fps: 24 };
    expect(await refusedFields(lite, { ...base, image: PNG_URI, last_frame_image: URL_IMAGE })).toEqual([]);
    expect(await refusedFields(lite, { ...base, reference_images: [PNG_URI, URL_IMAGE], camera_fixed: true })).toEqual(
      [],
    );
    expect(await refusedFields(lite, { ...base, last_frame_image: URL_IMAGE })).toEqual(['input.last_frame_image']);
    expect(await refusedFields(lite, { ...base, reference_images: Array(5).fill(URL_IMAGE) })).toEqual([
      'input.reference_images',
    ]);
    expect(await refusedFields(lite, { ...base, reference_images: [URL_IMAGE], image: PNG_URI })).toEqual([
      'input.reference_images',
    ]);
    expect(await refusedFields(lite, { ...base, reference_images: [URL_IMAGE], resolution: '1080p' })).toEqual([
      'input.reference_images',
    ]);
    expect(
      await refusedFields(lite, { ...base, duration: 13, fps: 30, aspect_ratio: '2:1', image: 'ftp://x/y.png' }),
    ).toEqual(['input.image', 'input.duration', 'input.aspect_ratio', 'input.fps']);
    expect(await refusedFields('bytedance/seedance-1-pro', { ...base, image: PNG_URI, resolution: '1080p' })).toEqual(
      [],
    );
  });

  it('kling-v2.1 needs a start image and pro mode for an end image; hailuo-02 makes 10 s only at 768p', async () => {
    const kling = 'kwaivgi/kling-v2.1';
    expect(await refusedFields(kling, { prompt: 'a cat' })).toEqual(['input.start_image']);
    expect(await refusedFields(kling, { prompt: 'a cat', start_image: URL_IMAGE, end_image: PNG_URI })).toEqual([
      'input.end_image',
    ]);
    expect(await refusedFields(kling, { prompt: 'a cat', start_image: URL_IMAGE, duration: 7 })).toEqual([
      'input.duration',
    ]);
    expect(
      await refusedFields(kling, {
        prompt: 'a cat',
        start_image: URL_IMAGE,
        end_image: PNG_URI,
        mode: 'pro',
        negative_prompt: 'blur',
        duration: 5,
      }),
    ).toEqual([]);
    const hailuo = 'minimax/hailuo-02';
    const frames = { prompt: 'a cat', first_frame_image: PNG_URI, last_frame_image: URL_IMAGE };
    expect(await refusedFields(hailuo, { ...frames, duration: 10, resolution: '768p' })).toEqual([]);
    expect(await refusedFields(hailuo, { ...frames, duration: 10 })).toEqual(['input.duration']);
    expect(await refusedFields(hailuo, { ...frames, resolution: '720p' })).toEqual(['input.resolution']);
  });

  it('wan-2.2: i2v needs an image; t2v keeps Wan’s frame and resolution limits', async () => {
    const clip = { num_frames: 81, frames_per_second: 16, resolution: '480p' };
    expect(await refusedFields('wan-video/wan-2.2-i2v-fast', { prompt: 'a cat', ...clip })).toEqual(['input.image']);
    expect(await refusedFields('wan-video/wan-2.2-i2v-fast', { prompt: 'a cat', image: PNG_URI, ...clip })).toEqual([]);
    expect(
      await refusedFields('wan-video/wan-2.2-t2v-fast', {
        prompt: 'a cat',
        ...clip,
        num_frames: 17,
        resolution: '1080p',
      }),
    ).toEqual(['input.num_frames', 'input.resolution']);
  });

  it('records what it received, images summarised and undeclared inputs listed, in-process and at /__received', async () => {
    const sent = { prompt: 'the product turns', image: PNG_URI, reference_images: [URL_IMAGE], duration: 2, fps: 24 };
    const created = await call(server, 'POST', '/v1/models/bytedance/seedance-1-pro/predictions', { input: sent });
    expect(created.status).toBe(201);
    await call(server, 'POST', '/v1/models/kwaivgi/kling-v2.1/predictions', { input: { prompt: 'no image' } });
    const summary = {
      bytes: PNG.length,
      sha256: createHash('sha256').update(PNG).digest('hex'),
      mimeType: 'image/png',
    };
    const [accepted, refused] = server.received();
    expect(accepted).toMatchObject({
      path: '/v1/models/bytedance/seedance-1-pro/predictions',
      status: 201,
      taskId: created.json.id,
      body: { input: { ...sent, image: summary } },
      // seedance-1-pro declares no reference_images: Replicate accepts the create and the model ignores them.
      ignored: ['reference_images'],
    });
    expect(refused).toMatchObject({
      status: 422,
      refusal: { status: 422, invalid_fields: [{ field: 'input.start_image' }] },
    });
    const res = await fetch(`${server.url}/__received`);
    expect(((await res.json()) as { received: unknown }).received).toEqual(server.received());
    expect((await fetch(`${server.url}/__received`, { method: 'DELETE' })).status).toBe(204);
    expect(server.received()).toEqual([]);
  });
});
