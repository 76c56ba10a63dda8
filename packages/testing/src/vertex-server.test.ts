import { TRANSLATION_REQUEST_HEADING, startVertexServer, type VertexServer } from './vertex-server';

const PATH =
  '/v1beta1/projects/proj-1/locations/europe-west1/publishers/google/models/gemini-3.8-flash:generateContent';
const BODY = { contents: [{ role: 'user', parts: [{ text: 'hello' }] }] };

async function call(
  server: VertexServer,
  options: { path?: string; body?: string; auth?: boolean; signal?: AbortSignal } = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${options.path ?? PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.auth === false ? {} : { authorization: 'Bearer test-token' }),
    },
    body: options.body ?? JSON.stringify(BODY),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

describe('vertex test server', () => {
  let server: VertexServer;
  beforeEach(async () => {
    server = await startVertexServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('listens on loopback and answers scripted behaviours in order, then the default', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    server.enqueue({ json: { score: 1 } });
    server.enqueue({ text: 'not json' });
    server.setDefault({ json: { fallback: true } });

    const first = await call(server);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      candidates: [{ content: { role: 'model', parts: [{ text: '{"score":1}' }] }, finishReason: 'STOP' }],
      modelVersion: 'gemini-3.8-flash',
      usageMetadata: { promptTokenCount: expect.any(Number), totalTokenCount: expect.any(Number) },
    });
    expect((await call(server)).json).toMatchObject({ candidates: [{ content: { parts: [{ text: 'not json' }] } }] });
    expect((await call(server)).json).toMatchObject({
      candidates: [{ content: { parts: [{ text: '{"fallback":true}' }] } }],
    });
  });

  it('records every request with its path, model and parsed body', async () => {
    server.setDefault({ json: {} });
    await call(server);
    expect(server.requests).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: PATH,
        project: 'proj-1',
        location: 'europe-west1',
        model: 'gemini-3.8-flash',
        body: BODY,
      }),
    ]);
    expect(server.requests[0]?.headers.authorization).toBe('Bearer test-token');
  });

  it('answers a loud 500 when nothing was scripted', async () => {
    const res = await call(server);
    expect(res.status).toBe(500);
    expect(res.json).toEqual({
      error: { code: 500, status: 'INTERNAL', message: 'vertex test server: no behaviour queued and no default set' },
    });
  });

  it('speaks Google errors: 429 with RetryInfo and Retry-After, 500, 503', async () => {
    server.enqueue({ status: 429, retryAfterSeconds: 7 });
    server.enqueue({ status: 500 });
    server.enqueue({ status: 503, message: 'try later' });

    const limited = await call(server);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.json).toEqual({
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        message: expect.stringContaining('Resource exhausted'),
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' }],
      },
    });
    expect((await call(server)).json).toEqual({
      error: { code: 500, status: 'INTERNAL', message: 'Internal error encountered.' },
    });
    const unavailable = await call(server);
    expect(unavailable.status).toBe(503);
    expect(unavailable.json).toEqual({ error: { code: 503, status: 'UNAVAILABLE', message: 'try later' } });
  });

  it('answers a translation request with its lines tagged and clipped, and refuses anything else loudly', async () => {
    const request = {
      from: 'en',
      to: 'fr',
      limits: { onScreenText: 12 },
      shots: [{ shot: 1, onScreenText: 'Meet Aurora today' }, { shot: 2, voiceOver: 'Lighter.' }, { shot: 3 }],
      callToAction: 'Run brighter',
    };
    const ask = (r: unknown) =>
      JSON.stringify({
        contents: [
          { role: 'user', parts: [{ text: `Translate.\n\n${TRANSLATION_REQUEST_HEADING}\n${JSON.stringify(r)}` }] },
        ],
      });
    const text = (res: { json: Record<string, unknown> }) =>
      JSON.parse(
        (res.json as { candidates: { content: { parts: { text: string }[] } }[] }).candidates[0]!.content.parts[0]!
          .text,
      ) as unknown;
    server.enqueue({ translate: {} });
    server.enqueue({ translate: {} });
    server.enqueue({ translate: { dropShot: true, dropCallToAction: true } });
    server.enqueue({ translate: {} });

    expect(text(await call(server, { body: ask(request) }))).toEqual({
      shots: [{ shot: 1, onScreenText: '[fr] Meet Au' }, { shot: 2, voiceOver: '[fr] Lighter.' }, { shot: 3 }],
      callToAction: '[fr] Run brighter',
    });
    // The glossary's call to action is the client's own: used as it is.
    expect(text(await call(server, { body: ask({ ...request, glossary: { callToAction: 'Courez' } }) }))).toMatchObject(
      {
        callToAction: 'Courez',
      },
    );
    expect(text(await call(server, { body: ask(request) }))).toEqual({
      shots: [
        { shot: 1, onScreenText: '[fr] Meet Au' },
        { shot: 2, voiceOver: '[fr] Lighter.' },
      ],
    });
    const director = await call(server);
    expect(director.status).toBe(500);
    expect(director.json).toMatchObject({ error: { message: expect.stringContaining('not a translation request') } });
  });

  it('blocks like the safety filter, on the prompt or on the answer', async () => {
    server.enqueue({ safetyBlock: 'SAFETY' });
    server.enqueue({ safetyBlock: 'PROHIBITED_CONTENT', stage: 'response' });

    const prompt = await call(server);
    expect(prompt.status).toBe(200);
    expect(prompt.json.candidates).toBeUndefined();
    expect(prompt.json.promptFeedback).toMatchObject({ blockReason: 'SAFETY' });

    const response = await call(server);
    expect(response.json.candidates).toEqual([
      { finishReason: 'PROHIBITED_CONTENT', safetyRatings: expect.any(Array) },
    ]);
  });

  it('delays an answer, and survives a client that gave up', async () => {
    server.enqueue({ delayMs: 150, then: { json: { late: true } } });
    const started = Date.now();
    const late = await call(server);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(late.json).toMatchObject({ candidates: [{ content: { parts: [{ text: '{"late":true}' }] } }] });

    server.enqueue({ delayMs: 300, then: { json: {} } });
    await expect(call(server, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 350)); // the late answer goes nowhere, quietly
    server.enqueue({ json: { still: 'fine' } });
    expect((await call(server)).status).toBe(200);
  });

  it('answers protocol errors like Vertex, without consuming the script', async () => {
    server.enqueue({ json: { kept: true } });
    const wrongPath = await call(server, { path: '/v1/models/gemini-3.8-flash:generateContent' });
    expect(wrongPath.status).toBe(404);
    expect(wrongPath.json).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });

    const noAuth = await call(server, { auth: false });
    expect(noAuth.status).toBe(401);
    expect(noAuth.json).toMatchObject({ error: { status: 'UNAUTHENTICATED' } });

    const badJson = await call(server, { body: '{nope' });
    expect(badJson.status).toBe(400);
    expect(badJson.json).toMatchObject({ error: { status: 'INVALID_ARGUMENT' } });

    expect((await call(server)).json).toMatchObject({
      candidates: [{ content: { parts: [{ text: '{"kept":true}' }] } }],
    });
    expect(server.requests.map((r) => r.path)).toEqual([
      '/v1/models/gemini-3.8-flash:generateContent',
      PATH,
      PATH,
      PATH,
    ]);
  });

  it('refuses a retired or unknown model with 404 NOT_FOUND, as Vertex does, without consuming the script', async () => {
    server.enqueue({ json: { kept: true } });
    for (const model of ['gemini-2.5-flash', 'gemini-2.0-flash-001', 'gemini-9-nonsense']) {
      const refused = await call(server, { path: PATH.replace('gemini-3.8-flash', model) });
      expect(refused.status).toBe(404);
      expect(refused.json).toEqual({
        error: {
          code: 404,
          status: 'NOT_FOUND',
          message: expect.stringContaining(
            `Publisher Model \`projects/proj-1/locations/europe-west1/publishers/google/models/${model}\` was not found or your project does not have access to it.`,
          ),
        },
      });
    }
    expect((await call(server)).json).toMatchObject({
      candidates: [{ content: { parts: [{ text: '{"kept":true}' }] } }],
    });
  });

  it('serves the models it is told to', async () => {
    const narrow = await startVertexServer({ models: ['gemini-2.5-flash'], defaultBehaviour: { json: {} } });
    try {
      expect((await call(narrow, { path: PATH.replace('gemini-3.8-flash', 'gemini-2.5-flash') })).status).toBe(200);
      expect((await call(narrow)).status).toBe(404);
    } finally {
      await narrow.close();
    }
  });

  it('closes promptly with a request still waiting', async () => {
    server.enqueue({ delayMs: 60_000 });
    const pending = call(server).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1000);
    // fetch's own TypeError, from outside jest's realm: match on the message.
    expect(await pending).toMatchObject({ message: 'fetch failed' });
  });
});
