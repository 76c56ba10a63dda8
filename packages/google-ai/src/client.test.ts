import { startVertexServer, type VertexServer } from '@aiprod/testing';
import { accessTokenAuth, createGoogleAiClient, observedHttp, type HttpExchange } from './client';
import { DEFAULT_GEMINI_MODEL } from './models';
import { readGoogleError } from './errors';

describe('createGoogleAiClient against the Vertex test server', () => {
  let server: VertexServer;
  beforeEach(async () => {
    server = await startVertexServer();
  });
  afterEach(async () => {
    await server.close();
  });

  const client = () =>
    createGoogleAiClient({
      project: 'proj-1',
      location: 'europe-west1',
      baseUrl: server.url,
      googleAuthOptions: accessTokenAuth('ya29.fixed-test-token'),
    });

  it('calls Vertex in the project and region with the access token, and the default model is served', async () => {
    server.enqueue({ text: 'hello' });
    const exchange: HttpExchange = {};
    const response = await client().models.generateContent({
      model: DEFAULT_GEMINI_MODEL,
      contents: 'hi',
      config: { httpOptions: observedHttp(exchange) },
    });
    expect(response.text).toBe('hello');
    expect(exchange.status).toBe(200);
    expect(server.requests[0]).toMatchObject({
      project: 'proj-1',
      location: 'europe-west1',
      model: DEFAULT_GEMINI_MODEL,
    });
    expect(server.requests[0]?.headers.authorization).toBe('Bearer ya29.fixed-test-token');
  });

  it('records the Retry-After header the SDK drops, for readGoogleError', async () => {
    server.enqueue({ status: 503, message: 'try later' });
    const exchange: HttpExchange = {};
    const statuses: number[] = [];
    const failure = await client()
      .models.generateContent({
        model: DEFAULT_GEMINI_MODEL,
        contents: 'hi',
        config: { httpOptions: observedHttp(exchange, { onStatus: (s) => statuses.push(s) }) },
      })
      .catch((e: unknown) => e);
    expect(statuses).toEqual([503]);
    expect(readGoogleError(failure, exchange)).toMatchObject({ statusText: '503 UNAVAILABLE', message: 'try later' });

    server.enqueue({ status: 429, retryAfterSeconds: 12 });
    const limited = await client()
      .models.generateContent({
        model: DEFAULT_GEMINI_MODEL,
        contents: 'hi',
        config: { httpOptions: observedHttp(exchange) },
      })
      .catch((e: unknown) => e);
    expect(exchange.retryAfter).toBe('12');
    expect(readGoogleError(limited, exchange)?.retryAfterMs).toBe(12_000);
    // The SDK made one request per call: no retries of its own.
    expect(server.requests).toHaveLength(2);
  });

  it('aborts a call on the extra signal', async () => {
    server.enqueue({ delayMs: 5_000 });
    const started = Date.now();
    const failure = await client()
      .models.generateContent({
        model: DEFAULT_GEMINI_MODEL,
        contents: 'hi',
        config: { httpOptions: observedHttp({}, { signal: AbortSignal.timeout(100) }) },
      })
      .catch((e: unknown) => e);
    expect(failure).toBeDefined();
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('refuses incomplete options', () => {
    expect(() => createGoogleAiClient({ project: '', location: 'europe-west1' })).toThrow(/project/);
    expect(() => createGoogleAiClient({ project: 'p', location: '' })).toThrow(/location/);
    expect(() => createGoogleAiClient({ apiKey: '' })).toThrow(/API key/);
    expect(createGoogleAiClient({ apiKey: 'k' }).vertexai).toBe(false);
  });
});
