import { startReplicateServer, type ReplicateServer } from './replicate-server';
import { startRunwayServer, type RunwayServer } from './runway-server';
import { startVeoServer, type VeoServer } from './veo-server';

/**
 * The vendor servers' billing models: what the real vendor would charge for what a client did,
 * priced with the platform's price table (the figures below are that table's, worked by hand).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read vendor JSON by path
type Json = Record<string, any>;

async function send(url: string, method: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(url, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as Json };
}

describe('runway billing: SUCCEEDED tasks for their requested duration', () => {
  const headers = { authorization: 'Bearer k', 'x-runway-version': '2024-11-06', 'content-type': 'application/json' };
  let server: RunwayServer;
  const create = (promptText: string, duration: number, seed?: number) =>
    send(`${server.url}/v1/text_to_video`, 'POST', headers, {
      model: 'gen4.5',
      promptText,
      ratio: '1280:720',
      duration,
      ...(seed !== undefined ? { seed } : {}),
    });
  const poll = (id: string) => send(`${server.url}/v1/tasks/${id}`, 'GET', headers);
  const pollToEnd = async (id: string) => {
    for (let i = 0; i < 10; i++) {
      const { json } = await poll(id);
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(json.status)) return json;
    }
    throw new Error('task did not end');
  };

  beforeEach(async () => {
    server = await startRunwayServer({ fps: 4 });
  });
  afterEach(() => server.close());

  it('bills a success, not a failure, a deletion while running, a refused create or a task still running', async () => {
    server.fail('create', { status: 503 });
    expect((await create('refused', 5)).status).toBe(503);
    const ok = (await create('shot one', 4, 7)).json.id as string;
    server.scriptTask({ outcome: { failureCode: 'INTERNAL.BAD_OUTPUT.CODE01' } });
    const failed = (await create('shot two', 5)).json.id as string;
    const deleted = (await create('shot three', 6)).json.id as string;
    const running = (await create('shot four', 3)).json.id as string;

    expect((await pollToEnd(ok)).status).toBe('SUCCEEDED');
    expect((await pollToEnd(failed)).status).toBe('FAILED');
    await poll(deleted);
    expect((await send(`${server.url}/v1/tasks/${deleted}`, 'DELETE', headers)).status).toBe(204);
    await poll(running);

    expect(server.billedTasks).toEqual([{ taskId: ok, seconds: 4, usd: 0.48, why: 'SUCCEEDED' }]);
    expect(server.billedUsd).toBe(0.48);
    const calls = server.calls;
    expect({ creates: calls.creates, cancels: calls.cancels, polls: calls.polls }).toEqual({
      creates: 4,
      cancels: 1,
      polls: 2 + 2 + 1 + 1 + 2,
    });
    expect(calls.createsByKey[JSON.stringify(['shot one', 7])]).toBe(1);
    expect(calls.createsByKey[JSON.stringify(['refused', null])]).toBeUndefined();
  });

  it('settle: a task its client stopped polling still finishes, and is billed', async () => {
    const abandoned = (await create('abandoned', 5)).json.id as string;
    server.scriptTask({ outcome: { failureCode: 'SAFETY.INPUT.TEXT' } });
    await create('refused later', 5);
    expect(server.billedUsd).toBe(0);
    server.settle();
    expect(server.billedTasks).toEqual([
      { taskId: abandoned, seconds: 5, usd: 0.6, why: 'SUCCEEDED after its client stopped polling' },
    ]);
  });

  it('counts a second create of the same prompt and seed under one key', async () => {
    await create('same shot', 5, 1);
    await create('same shot', 5, 1);
    await create('same shot', 5, 2);
    expect(server.calls.createsByKey).toEqual({
      [JSON.stringify(['same shot', 1])]: 2,
      [JSON.stringify(['same shot', 2])]: 1,
    });
  });
});

describe('replicate billing: predict time of what ran', () => {
  const headers = { authorization: 'Bearer r8', 'content-type': 'application/json' };
  const MODEL = 'wan-video/wan-2.2-t2v-fast';
  let server: ReplicateServer;
  // Wan's shortest clip: 81 frames, here at a low frame rate so ffmpeg makes it quickly.
  const input = (prompt: string) => ({ prompt, num_frames: 81, frames_per_second: 8, resolution: '480p', seed: 3 });
  const create = (prompt: string, h: Record<string, string> = {}) =>
    send(`${server.baseUrl}/models/${MODEL}/predictions`, 'POST', { ...headers, ...h }, { input: input(prompt) });
  const poll = (id: string) => send(`${server.baseUrl}/predictions/${id}`, 'GET', headers);
  const cancel = (id: string) => send(`${server.baseUrl}/predictions/${id}/cancel`, 'POST', headers);

  beforeEach(async () => {
    server = await startReplicateServer({ fps: 8 });
  });
  afterEach(() => server.close());

  it('bills success and failure after processing by predict time; cancel while starting and abort are free', async () => {
    server.scriptPrediction({ predictTime: 40 });
    const ok = (await create('ok')).json.id as string;
    server.scriptPrediction({ outcome: { error: 'CUDA out of memory', predictTime: 20 } });
    const failed = (await create('failed')).json.id as string;
    server.scriptPrediction({ outcome: { error: 'NSFW content detected' } });
    const refused = (await create('refused')).json.id as string;
    const early = (await create('cancelled early')).json.id as string;
    const aborted = (await create('aborted', { 'Cancel-After': '1ms' })).json.id as string;
    server.fail('create', { status: 429, retryAfterSeconds: 2 });
    expect((await create('throttled')).status).toBe(429);

    for (const id of [ok, failed, refused]) for (let i = 0; i < 3; i++) await poll(id);
    expect((await cancel(early)).json.status).toBe('canceled');
    await new Promise((r) => setTimeout(r, 5));
    expect((await poll(aborted)).json.status).toBe('aborted');
    const okView = (await poll(ok)).json;
    expect(okView.metrics.predict_time).toBe(40);

    // 40 s × 0.001525 = 0.061; 20 s × 0.001525 = 0.0305 (the table rounds to 1e-4).
    expect(server.billedTasks).toEqual([
      { taskId: ok, seconds: 40, usd: 0.061, why: 'succeeded' },
      { taskId: failed, seconds: 20, usd: 0.0305, why: 'failed after processing began' },
    ]);
    expect(server.billedUsd).toBe(0.0915);
    expect(server.calls.creates).toBe(5);
    expect(server.calls.cancels).toBe(1);
  });

  it('bills a cancel while processing by the predict time it reports', async () => {
    server.scriptPrediction({ processing: { polls: 50 } });
    const id = (await create('long')).json.id as string;
    await poll(id);
    await poll(id);
    expect((await poll(id)).json.status).toBe('processing');
    await new Promise((r) => setTimeout(r, 120));
    const view = (await cancel(id)).json;
    expect(view.status).toBe('canceled');
    const billed = server.billedTasks;
    expect(billed).toEqual([
      { taskId: id, seconds: view.metrics.predict_time, usd: expect.any(Number), why: 'canceled while processing' },
    ]);
    expect(billed[0]!.seconds).toBeGreaterThanOrEqual(0.1);
  });

  it('settle: a prediction its client stopped polling runs on (through wall-time phases) and is billed', async () => {
    server.scriptPrediction({ processing: { ms: 60_000 }, predictTime: 10 });
    const id = (await create('abandoned')).json.id as string;
    await poll(id);
    expect(server.billedUsd).toBe(0);
    await server.settle();
    expect(server.billedTasks).toEqual([
      { taskId: id, seconds: 10, usd: 0.0153, why: 'succeeded after its client stopped polling' },
    ]);
    expect(server.calls.createsByKey).toEqual({ [JSON.stringify(['abandoned', 3])]: 1 });
  });
});

describe('veo billing: every accepted operation, except refusals and errors', () => {
  const MODEL = 'veo-3.1-fast-generate-001';
  const RESOURCE = `projects/p/locations/us-central1/publishers/google/models/${MODEL}`;
  const headers = { authorization: 'Bearer t', 'content-type': 'application/json' };
  let server: VeoServer;
  const create = (prompt: string, parameters: Record<string, unknown>, attempt?: string) =>
    send(`${server.url}/v1beta1/${RESOURCE}:predictLongRunning`, 'POST', headers, {
      instances: [{ prompt }],
      parameters: { aspectRatio: '16:9', resolution: '720p', ...parameters },
      ...(attempt ? { labels: { aiprod_attempt: attempt } } : {}),
    });
  const poll = (operationName: string) =>
    send(`${server.url}/v1beta1/${RESOURCE}:fetchPredictOperation`, 'POST', headers, { operationName });

  beforeEach(async () => {
    server = await startVeoServer({ defaultPlan: { pollsUntilDone: 100 } });
  });
  afterEach(() => server.close());

  it('bills accepted operations never polled to the end, with sound; not refused creates, filtered or failed ones', async () => {
    server.enqueueCreate({ status: 429, retryAfterSeconds: 3 });
    expect((await create('throttled', { durationSeconds: 8 }, 'job1-s1-a1')).status).toBe(429);
    const a = (await create('shot a', { durationSeconds: 8 }, 'job1-s1-a1')).json.name as string;
    const b = (await create('shot b', { durationSeconds: 6, generateAudio: true }, 'job1-s2-a1')).json.name as string;
    server.enqueueCreate({ operation: { outcome: { kind: 'filtered' } } });
    const filtered = (await create('shot c', { durationSeconds: 4 }, 'job1-s3-a1')).json.name as string;
    server.enqueueCreate({ operation: { outcome: { kind: 'error', code: 13, message: 'Internal' } } });
    const errored = (await create('shot d', { durationSeconds: 4 }, 'job1-s4-a1')).json.name as string;
    const again = (await create('shot a', { durationSeconds: 8 }, 'job1-s1-a1')).json.name as string;

    expect((await poll(filtered)).json.done).toBe(true);
    expect((await poll(errored)).json.error.code).toBe(13);
    expect((await poll(a)).json.done).toBeUndefined();

    // 8 s × 0.10; 6 s × (0.10 + 0.05 for sound).
    expect(server.billedTasks.map((t) => [t.taskId, t.seconds, t.usd])).toEqual([
      [a, 8, 0.8],
      [b, 6, 0.9],
      [again, 8, 0.8],
    ]);
    expect(server.billedUsd).toBe(2.5);
    expect(server.calls.createsByKey).toEqual({ 'job1-s1-a1': 2, 'job1-s2-a1': 1, 'job1-s3-a1': 1, 'job1-s4-a1': 1 });
    expect(server.calls.polls).toBe(3);
  });

  it('counts creates without a label by prompt and seed; a reset create makes nothing', async () => {
    server.enqueueCreate({ resetConnection: true });
    await expect(create('no label', { durationSeconds: 4, seed: 9 })).rejects.toThrow();
    await create('no label', { durationSeconds: 4, seed: 9 });
    expect(server.calls.createsByKey).toEqual({ [JSON.stringify(['no label', 9])]: 1 });
    expect(server.billedUsd).toBe(0.4);
  });

  it('bills a create answered 200 with a cut body: Vertex accepted it, though its name is lost', async () => {
    server.enqueueCreate({ malformed: true });
    // The body is cut mid-JSON: `send` could not parse it, so this one is read as text.
    const cut = await fetch(`${server.url}/v1beta1/${RESOURCE}:predictLongRunning`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        instances: [{ prompt: 'cut answer' }],
        parameters: { aspectRatio: '16:9', resolution: '720p', durationSeconds: 4 },
        labels: { aiprod_attempt: 'job2-s1-a1' },
      }),
    });
    expect(cut.status).toBe(200);
    const text = await cut.text();
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
    expect(server.billedTasks).toEqual([
      {
        taskId: server.operations[0]!.name,
        seconds: 4,
        usd: 0.4,
        why: 'accepted (billed whether or not it is polled)',
      },
    ]);
    expect(server.calls.createsByKey).toEqual({ 'job2-s1-a1': 1 });
  });
});
