import { probe } from '@aiprod/media';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startRunwayServer, validateRunwayCreate, type RunwayServer } from './runway-server';

const KEY = 'key_test';
const headers = {
  authorization: `Bearer ${KEY}`,
  'x-runway-version': '2024-11-06',
  'content-type': 'application/json',
};
const good = { model: 'gen4.5', promptText: 'a cat', ratio: '1280:720', duration: 2 };
/** A tiny PNG's bytes (only the data URI's shape is checked). */
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
const PNG_URI = `data:image/png;base64,${PNG.toString('base64')}`;
const i2v = (model: string, promptImage: unknown, extra: Record<string, unknown> = {}) => ({
  model,
  promptImage,
  promptText: 'the product turns slowly',
  ratio: '1280:720',
  duration: model.startsWith('veo') ? 4 : 5,
  ...extra,
});
const paths = (endpoint: 'text_to_video' | 'image_to_video', b: unknown) =>
  validateRunwayCreate(endpoint, b).map((i) => i.path.join('.'));

async function call(
  server: RunwayServer,
  method: string,
  path: string,
  body?: unknown,
  h: Record<string, string> = headers,
) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: h,
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read vendor JSON by path
    json: text ? (JSON.parse(text) as Record<string, any>) : undefined,
  };
}

describe('runway test server', () => {
  let server: RunwayServer;
  beforeEach(async () => {
    server = await startRunwayServer({ apiKey: KEY, fps: 8 });
  });
  afterEach(async () => {
    await server.close();
  });

  it('validates bodies like Runway: model, ratio per model, duration range, promptText length, seed', () => {
    expect(validateRunwayCreate('text_to_video', good)).toEqual([]);
    const fields = (b: unknown) => validateRunwayCreate('text_to_video', b).map((i) => i.path.join('.'));
    expect(fields({ ...good, model: 'gen4_turbo' })).toEqual(['model']);
    expect(fields({ ...good, ratio: '960:960' })).toEqual(['ratio']);
    expect(fields({ ...good, duration: 11 })).toEqual(['duration']);
    expect(fields({ ...good, duration: 2.5 })).toEqual(['duration']);
    expect(fields({ ...good, promptText: 'x'.repeat(1001) })).toEqual(['promptText']);
    expect(fields({ ...good, promptText: 'x'.repeat(1000) })).toEqual([]);
    expect(fields({ ...good, seed: -1 })).toEqual(['seed']);
    expect(fields({ ...good, model: 'veo3.1', ratio: '1920:1080', duration: 5 })).toEqual(['duration']);
    expect(validateRunwayCreate('image_to_video', { model: 'gen4_turbo', ratio: '960:960' })[0]?.path).toEqual([
      'promptImage',
    ]);
  });

  it('answers 400 for a bad body or version, 401 for a wrong key, 405/404 for wrong routes; counts creates', async () => {
    const bad = await call(server, 'POST', '/v1/text_to_video', { ...good, ratio: '1:1' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: 'Validation of body failed', issues: [{ path: ['ratio'] }] });
    expect(
      (await call(server, 'POST', '/v1/text_to_video', good, { ...headers, 'x-runway-version': '2023-01-01' })).status,
    ).toBe(400);
    expect(
      (await call(server, 'POST', '/v1/text_to_video', good, { ...headers, authorization: 'Bearer nope' })).status,
    ).toBe(401);
    expect((await call(server, 'GET', '/v1/text_to_video')).status).toBe(405);
    expect((await call(server, 'GET', '/v1/nothing')).status).toBe(404);
    expect(server.createRequests).toBe(3);
    expect(server.tasksCreated).toBe(0);
  });

  it('runs a task PENDING → RUNNING → SUCCEEDED with a fresh, downloadable MP4 URL on each poll', async () => {
    const { json } = await call(server, 'POST', '/v1/text_to_video', good);
    const id = json!.id as string;
    expect(json).toMatchObject({ id: expect.any(String), estimatedCost: { credits: 24 } });
    expect((await call(server, 'GET', `/v1/tasks/${id}`)).json).toMatchObject({ status: 'PENDING' });
    expect((await call(server, 'GET', `/v1/tasks/${id}`)).json).toMatchObject({ status: 'RUNNING', progress: 0.5 });
    const done = (await call(server, 'GET', `/v1/tasks/${id}`)).json!;
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: [expect.stringMatching(/^http:\/\/127\.0\.0\.1/)] });
    const again = (await call(server, 'GET', `/v1/tasks/${id}`)).json!;
    expect(again.output[0]).not.toBe(done.output[0]);
    const dir = await mkdtemp(join(tmpdir(), 'runway-server-'));
    try {
      const res = await fetch(done.output[0]);
      expect(res.headers.get('content-type')).toBe('video/mp4');
      const file = join(dir, 'out.mp4');
      await writeFile(file, Buffer.from(await res.arrayBuffer()));
      const info = await probe(file);
      expect(info.video).toMatchObject({ width: 1280, height: 720, frames: 16 });
      expect(server.files.downloads).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('expires output URLs after a time, or on demand, with the chosen status', async () => {
    server.scriptTask({
      pending: { polls: 0 },
      running: { polls: 0 },
      output: { expiresInMs: 150, expiredStatus: 403 },
    });
    const { json } = await call(server, 'POST', '/v1/text_to_video', good);
    const url = (await call(server, 'GET', `/v1/tasks/${json!.id}`)).json!.output[0] as string;
    expect((await fetch(url)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(url)).status).toBe(403);
    const fresh = (await call(server, 'GET', `/v1/tasks/${json!.id}`)).json!.output[0] as string;
    server.files.expire(fresh);
    expect((await fetch(fresh)).status).toBe(403);
  });

  it('injects faults per operation: 429 with Retry-After, then the next request is served', async () => {
    server.fail('create', { status: 429, retryAfterSeconds: 3 });
    const limited = await call(server, 'POST', '/v1/text_to_video', good);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(limited.json).toHaveProperty('error');
    expect((await call(server, 'POST', '/v1/text_to_video', good)).status).toBe(200);
    expect(server.createRequests).toBe(2);
    expect(server.tasksCreated).toBe(1);
  });

  it('DELETE cancels a live task and deletes a finished one', async () => {
    const { json } = await call(server, 'POST', '/v1/text_to_video', good);
    expect((await call(server, 'DELETE', `/v1/tasks/${json!.id}`)).status).toBe(204);
    expect((await call(server, 'GET', `/v1/tasks/${json!.id}`)).json).toMatchObject({ status: 'CANCELLED' });
    expect((await call(server, 'DELETE', `/v1/tasks/${json!.id}`)).status).toBe(204);
    expect((await call(server, 'GET', `/v1/tasks/${json!.id}`)).status).toBe(404);
  });

  it('takes each model on its own endpoints only: gen4_turbo needs an image, gen4_aleph is video to video', async () => {
    const turbo = await call(server, 'POST', '/v1/text_to_video', { ...good, model: 'gen4_turbo' });
    expect(turbo.status).toBe(400);
    expect(turbo.json!.issues[0]).toMatchObject({
      path: ['model'],
      message: expect.stringContaining('image_to_video'),
    });
    for (const endpoint of ['text_to_video', 'image_to_video'] as const) {
      const [issue] = validateRunwayCreate(endpoint, { ...i2v('gen4_aleph', PNG_URI) });
      expect(issue).toMatchObject({ path: ['model'], message: expect.stringContaining('video_to_video') });
    }
    expect(paths('image_to_video', i2v('gen4_turbo', PNG_URI, { duration: 10 }))).toEqual([]);
    expect(paths('image_to_video', i2v('veo3.1_fast', PNG_URI, { ratio: '1080:1920', audio: true }))).toEqual([]);
    // gen4.5 from an image still needs its prompt and duration; veo3.1 lengths are 4, 6 or 8.
    expect(paths('image_to_video', i2v('gen4.5', PNG_URI, { promptText: undefined, duration: undefined }))).toEqual([
      'promptText',
      'duration',
    ]);
    expect(paths('image_to_video', i2v('veo3.1', PNG_URI, { duration: 5, ratio: '960:960' }))).toEqual([
      'ratio',
      'duration',
    ]);
  });

  it('takes promptImage as an https URL, an upload or an image data URI, or as positioned items', () => {
    const ok = (model: string, img: unknown) => paths('image_to_video', i2v(model, img));
    expect(ok('gen4_turbo', 'https://cdn.example.com/product.png')).toEqual([]);
    expect(ok('gen4_turbo', 'runway://uploads/abc')).toEqual([]);
    expect(ok('gen4_turbo', PNG_URI)).toEqual([]);
    expect(ok('gen4_turbo', `data:image/webp;base64,${PNG.toString('base64')}`)).toEqual([]);
    expect(ok('gen4_turbo', 'http://cdn.example.com/product.png')).toEqual(['promptImage']);
    expect(ok('gen4_turbo', `data:image/gif;base64,${PNG.toString('base64')}`)).toEqual(['promptImage']);
    expect(ok('gen4_turbo', `data:image/png;base64,${'A'.repeat(5 * 1024 * 1024)}`)).toEqual(['promptImage']);
    expect(ok('gen4.5', [{ uri: PNG_URI, position: 'first' }])).toEqual([]);
    // Only the Veo models take a last frame, and only with a first one.
    const firstAndLast = [
      { uri: PNG_URI, position: 'first' },
      { uri: 'https://cdn.example.com/end.png', position: 'last' },
    ];
    expect(ok('veo3.1', firstAndLast)).toEqual([]);
    expect(ok('gen4.5', firstAndLast)).toEqual(['promptImage', 'promptImage.1.position']);
    expect(ok('gen4_turbo', [{ uri: PNG_URI, position: 'last' }])).toEqual(['promptImage.0.position']);
    expect(ok('veo3.1_fast', [{ uri: PNG_URI, position: 'last' }])).toEqual(['promptImage']);
    expect(
      ok('veo3.1', [
        { uri: PNG_URI, position: 'first' },
        { uri: PNG_URI, position: 'first' },
      ]),
    ).toEqual(['promptImage.1.position']);
    expect(ok('veo3.1', [{ uri: PNG_URI, position: 'first', weight: 1 }])).toEqual(['promptImage.0']);
    expect(ok('veo3.1', [])).toEqual(['promptImage']);
  });

  it('refuses fields the model does not take with 400 unrecognized_keys', async () => {
    const refused = await call(server, 'POST', '/v1/text_to_video', {
      ...good,
      negativePrompt: 'blur',
      camera: 'dolly',
    });
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({
      error: 'Validation of body failed',
      issues: [
        { code: 'unrecognized_keys', path: [], message: "Unrecognized key(s) in object: 'negativePrompt', 'camera'" },
      ],
    });
    expect(paths('text_to_video', { ...good, model: 'veo3.1', duration: 8, negativePrompt: 'blur' })).toEqual([]);
    expect(paths('image_to_video', i2v('gen4_turbo', PNG_URI, { audio: false }))).toEqual(['']);
    expect(paths('text_to_video', { ...good, contentModeration: { publicFigureThreshold: 'low' } })).toEqual([]);
    expect(paths('text_to_video', { ...good, contentModeration: { publicFigureThreshold: 'none' } })).toEqual([
      'contentModeration',
    ]);
    expect(server.tasksCreated).toBe(0);
  });

  it('keeps tasks above a model’s concurrency limit THROTTLED until a slot frees, in creation order', async () => {
    server.setConcurrency('gen4.5', 1);
    const ids: string[] = [];
    for (const prompt of ['one', 'two', 'three']) {
      ids.push((await call(server, 'POST', '/v1/text_to_video', { ...good, promptText: prompt })).json!.id as string);
    }
    const other = (await call(server, 'POST', '/v1/text_to_video', { ...good, model: 'veo3.1', duration: 4 })).json!;
    const status = async (id: string) => (await call(server, 'GET', `/v1/tasks/${id}`)).json!.status as string;
    const [a, b, c] = ids as [string, string, string];
    expect(server.task(b)?.status).toBe('THROTTLED');
    expect(await status(b)).toBe('THROTTLED');
    expect(await status(c)).toBe('THROTTLED');
    // Another model has its own slots.
    expect(await status(other.id as string)).toBe('PENDING');
    expect([await status(a), await status(a), await status(a)]).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
    expect(await status(c)).toBe('THROTTLED');
    expect(await status(b)).toBe('PENDING');
    expect((await call(server, 'DELETE', `/v1/tasks/${b}`)).status).toBe(204);
    expect(await status(c)).toBe('PENDING');
    server.setConcurrency('gen4.5', undefined);
    const free = (await call(server, 'POST', '/v1/text_to_video', { ...good, promptText: 'four' })).json!.id as string;
    expect(await status(free)).toBe('PENDING');
  });

  it('records what it received, images summarised, readable in-process and at /__received', async () => {
    const last = { uri: 'https://cdn.example.com/end.png', position: 'last' };
    const body = i2v('veo3.1', [{ uri: PNG_URI, position: 'first' }, last]);
    const created = await call(server, 'POST', '/v1/image_to_video', body);
    await call(server, 'POST', '/v1/text_to_video', { ...good, promptText: 'x'.repeat(1001) });
    await call(server, 'GET', `/v1/tasks/${created.json!.id}`);
    const summary = {
      bytes: PNG.length,
      sha256: createHash('sha256').update(PNG).digest('hex'),
      mimeType: 'image/png',
    };
    const expected = [
      {
        seq: 1,
        method: 'POST',
        path: '/v1/image_to_video',
        status: 200,
        taskId: created.json!.id,
        body: { ...body, promptImage: [{ uri: summary, position: 'first' }, last] },
      },
      {
        seq: 2,
        path: '/v1/text_to_video',
        status: 400,
        refusal: { error: 'Validation of body failed', issues: [{ path: ['promptText'] }] },
      },
    ];
    expect(server.received()).toMatchObject(expected);
    expect(server.received()).toHaveLength(2);
    const res = await fetch(`${server.url}/__received`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { received: unknown }).received).toMatchObject(expected);
    // The record is not a Runway route: no key needed, and it is not in the request log.
    expect(server.requests.some((r) => r.path === '/__received')).toBe(false);
    expect((await fetch(`${server.url}/__received`, { method: 'DELETE' })).status).toBe(204);
    expect(server.received()).toEqual([]);
  });
});
