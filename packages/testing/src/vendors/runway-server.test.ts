import { probe } from '@aiprod/media';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRunwayServer, validateRunwayCreate, type RunwayServer } from './runway-server';

const KEY = 'key_test';
const headers = {
  authorization: `Bearer ${KEY}`,
  'x-runway-version': '2024-11-06',
  'content-type': 'application/json',
};
const good = { model: 'gen4.5', promptText: 'a cat', ratio: '1280:720', duration: 2 };

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
});
