import { parseCancelAfter, replicateClipFor, startReplicateServer, type ReplicateServer } from './replicate-server';

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

describe('replicate test server', () => {
  let server: ReplicateServer;
  beforeEach(async () => {
    server = await startReplicateServer({ apiToken: TOKEN });
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
});
