import { context, ROOT_CONTEXT, trace, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, type LoggerOptions } from './logger';
import { startTelemetry, type TelemetryHandle } from './telemetry';

/** A stream that records what the logger writes. */
function captureStream() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    text: () => chunks.join(''),
    /** Waits for winston's internal piping to flush, then parses one JSON object per line. */
    async lines(expected?: number): Promise<Record<string, unknown>[]> {
      for (let i = 0; i < 500; i++) {
        const n = chunks.join('').split('\n').filter(Boolean).length;
        if (expected === undefined ? i > 1 : n >= expected) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      return chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

function makeLogger(extra: Partial<LoggerOptions> = {}) {
  const cap = captureStream();
  const logger = createLogger({ service: 'planner', projectId: 'aiprod-test', stream: cap.stream, ...extra });
  return { logger, cap };
}

function spanContext(): SpanContext {
  return {
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: TraceFlags.SAMPLED,
  };
}

function inSpan<T>(sc: SpanContext, fn: () => T): T {
  return context.with(trace.setSpanContext(ROOT_CONTEXT, sc), fn);
}

let telemetry: TelemetryHandle;
const savedEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
beforeAll(() => {
  // Registers the AsyncLocalStorage context manager that context.with needs (no exporter).
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  telemetry = startTelemetry({ service: 'logger-test' });
});
afterAll(async () => {
  await telemetry.shutdown();
  if (savedEndpoint !== undefined) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = savedEndpoint;
});

describe('createLogger', () => {
  it('writes one Cloud Logging JSON object per line', async () => {
    const { logger, cap } = makeLogger();
    const before = Date.now();
    logger.info('plan ready', { jobId: 'j1', tenantId: 't1', shots: 3 });
    logger.warn('slow');
    const [first, second] = await cap.lines(2);
    expect(cap.text().split('\n')).toHaveLength(3); // two lines, newline-terminated
    expect(first).toEqual({
      severity: 'INFO',
      message: 'plan ready',
      time: expect.any(String),
      serviceContext: { service: 'planner' },
      shots: 3,
      'logging.googleapis.com/labels': { jobId: 'j1', tenantId: 't1' },
    });
    expect(Date.parse(String(first?.time))).toBeGreaterThanOrEqual(before);
    expect(second).toMatchObject({ severity: 'WARNING', message: 'slow' });
    expect(second).not.toHaveProperty('logging.googleapis.com/labels');
  });

  it('maps every level to its Cloud Logging severity and filters below the threshold', async () => {
    const { logger, cap } = makeLogger({ level: 'debug' });
    logger.critical('c');
    logger.error('e');
    logger.warn('w');
    logger.notice('n');
    logger.info('i');
    logger.debug('d');
    const lines = await cap.lines(6);
    expect(lines.map((l) => [l.message, l.severity])).toEqual([
      ['c', 'CRITICAL'],
      ['e', 'ERROR'],
      ['w', 'WARNING'],
      ['n', 'NOTICE'],
      ['i', 'INFO'],
      ['d', 'DEBUG'],
    ]);

    const quiet = makeLogger({ level: 'warn' });
    quiet.logger.info('dropped');
    quiet.logger.debug('dropped');
    quiet.logger.error('kept');
    expect((await quiet.cap.lines(1)).map((l) => l.message)).toEqual(['kept']);
  });

  it('refuses an unknown level', () => {
    expect(() => createLogger({ service: 's', level: 'verbose' })).toThrow(/unknown log level "verbose"/);
  });

  it('lets no secret through, in the message, meta, nested meta or errors', async () => {
    const secrets = {
      apiKey: 'aiprod_live_A1b2C3d4E5f6G7h8I9j0K1l2',
      bearer: 'abc.def-ghi_TOKEN123',
      jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
      googSig: 'deadbeefcafebabe0123456789abcdef',
      googCred: 'signer%40aiprod.iam.gserviceaccount.com',
      localSig: 'SIGSECRETVALUE1234567890',
      pem: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ',
      whsec: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      password: 'hunter2-password-value',
      xApiKey: 'x-api-key-value-42',
      cookie: 'session=cookie-value-77',
      refresh: 'refresh-token-value-99',
      signingKey: 'signing-key-bytes',
      basic: 'dXNlcjpwYXNzd29yZA==',
      errSecret: 'error-carried-secret-55',
    };
    const { logger, cap } = makeLogger();
    const signedGcs = `https://storage.googleapis.com/media/a.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=${secrets.googCred}%2F20250101%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Signature=${secrets.googSig}`;
    const err = new Error(`upstream rejected Bearer ${secrets.errSecret}`);
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;

    logger.error(`calling with Authorization: Bearer ${secrets.bearer} and key ${secrets.apiKey}`, {
      jobId: 'j1',
      url: signedGcs,
      local: `http://localhost:8080/files/t1/a.mp4?expires=1700000000&sig=${secrets.localSig}`,
      token: secrets.jwt,
      note: `jwt in text ${secrets.jwt}`,
      pemText: `-----BEGIN PRIVATE KEY-----\n${secrets.pem}\n-----END PRIVATE KEY-----\n`,
      webhook: { secret: `whsec_${secrets.whsec}`, echoed: `whsec_${secrets.whsec}` },
      request: {
        headers: { authorization: `Basic ${secrets.basic}`, 'X-Api-Key': secrets.xApiKey, cookie: secrets.cookie },
        body: { user: 'ana', password: secrets.password },
      },
      auth: [{ refresh_token: secrets.refresh }],
      signingKey: Buffer.from(secrets.signingKey),
      err,
      circular,
      maxTokens: 512,
      key: 'tenants/t1/jobs/j1/final.mp4',
    });
    const out = cap.text() + (await cap.lines(1)).length; // wait for the line, keep the raw text
    for (const [name, secret] of Object.entries(secrets)) {
      expect({ name, leaked: out.includes(secret) }).toEqual({ name, leaked: false });
    }
    const [line] = await cap.lines(1);
    expect(line).toMatchObject({
      severity: 'ERROR',
      serviceContext: { service: 'planner' },
      'logging.googleapis.com/labels': { jobId: 'j1' },
      url: 'https://storage.googleapis.com/media/a.mp4?[REDACTED]',
      local: 'http://localhost:8080/files/t1/a.mp4?[REDACTED]',
      token: '[REDACTED]',
      request: { headers: { authorization: '[REDACTED]' }, body: { user: 'ana', password: '[REDACTED]' } },
      circular: { name: 'loop', self: '[Circular]' },
      maxTokens: 512,
      key: 'tenants/t1/jobs/j1/final.mp4',
      err: { name: 'Error', message: 'upstream rejected Bearer [REDACTED]' },
    });
    expect(line?.message).toBe('calling with Authorization: [REDACTED] and key aiprod_live_[REDACTED]');
    expect(line?.stack_trace).toEqual(expect.stringContaining('Error: upstream rejected Bearer [REDACTED]'));
    expect(line?.stack_trace).toEqual(expect.stringContaining('logger.test.ts'));
    // the caller's objects are untouched
    expect(err.message).toBe(`upstream rejected Bearer ${secrets.errSecret}`);
  });

  it('logs an Error passed directly, without mutating it', async () => {
    const { logger, cap } = makeLogger();
    const err = new Error('token=abc123secret expired');
    logger.error(err);
    logger.warn('retrying after', err);
    const [direct, withMessage] = await cap.lines(2);
    expect(direct).toMatchObject({ severity: 'ERROR', message: 'token=[REDACTED] expired' });
    expect(direct?.stack_trace).toEqual(expect.stringContaining('Error: token=[REDACTED] expired'));
    expect(withMessage).toMatchObject({ severity: 'WARNING', message: 'retrying after token=[REDACTED] expired' });
    expect(cap.text()).not.toContain('abc123secret');
    expect(err.message).toBe('token=abc123secret expired');
  });

  it('child loggers carry their meta, labels included', async () => {
    const { logger, cap } = makeLogger();
    logger.child({ jobId: 'j9', tenantId: 't9', stage: 'render' }).info('shot done', { shotId: 's01' });
    const [line] = await cap.lines(1);
    expect(line).toMatchObject({
      message: 'shot done',
      stage: 'render',
      shotId: 's01',
      'logging.googleapis.com/labels': { jobId: 'j9', tenantId: 't9' },
    });
  });

  it('adds trace fields only while a span is active', async () => {
    const { logger, cap } = makeLogger();
    const sc = spanContext();
    inSpan(sc, () => logger.info('inside'));
    logger.info('outside');
    const [inside, outside] = await cap.lines(2);
    expect(inside).toMatchObject({
      'logging.googleapis.com/trace': `projects/aiprod-test/traces/${sc.traceId}`,
      'logging.googleapis.com/spanId': sc.spanId,
      'logging.googleapis.com/trace_sampled': true,
    });
    expect(Object.keys(outside ?? {}).filter((k) => k.includes('trace') || k.includes('spanId'))).toEqual([]);
  });

  it('follows the span across awaits (AsyncLocalStorage)', async () => {
    const { logger, cap } = makeLogger();
    const sc = spanContext();
    await inSpan(sc, async () => {
      await new Promise((r) => setTimeout(r, 5));
      logger.info('after await');
    });
    const [line] = await cap.lines(1);
    expect(line?.['logging.googleapis.com/spanId']).toBe(sc.spanId);
  });

  it('uses the bare trace id when no project is known', async () => {
    const saved = { g: process.env.GOOGLE_CLOUD_PROJECT, c: process.env.GCLOUD_PROJECT };
    delete process.env.GOOGLE_CLOUD_PROJECT;
    delete process.env.GCLOUD_PROJECT;
    try {
      const cap = captureStream();
      const logger = createLogger({ service: 's', stream: cap.stream });
      const sc = spanContext();
      inSpan(sc, () => logger.info('x'));
      const [line] = await cap.lines(1);
      expect(line?.['logging.googleapis.com/trace']).toBe(sc.traceId);
    } finally {
      if (saved.g !== undefined) process.env.GOOGLE_CLOUD_PROJECT = saved.g;
      if (saved.c !== undefined) process.env.GCLOUD_PROJECT = saved.c;
    }
  });

  it('meta cannot spoof the shape fields', async () => {
    const { logger, cap } = makeLogger();
    logger.info('real', { severity: 'DEBUG', time: 'yesterday', serviceContext: { service: 'evil' } });
    const [line] = await cap.lines(1);
    expect(line).toMatchObject({ severity: 'INFO', serviceContext: { service: 'planner' } });
    expect(line?.time).not.toBe('yesterday');
  });
});
