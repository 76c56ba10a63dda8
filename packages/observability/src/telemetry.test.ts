import { context, ROOT_CONTEXT, trace, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import ts from 'typescript';
import { startTelemetry, type TelemetryHandle } from './telemetry';
import { injectTraceContext, tracer, withExtractedContext } from './trace-context';

function spanContext(): SpanContext {
  return {
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: TraceFlags.SAMPLED,
  };
}

function activeTraceId(): string | undefined {
  return trace.getActiveSpan()?.spanContext().traceId;
}

describe('startTelemetry without an endpoint (propagation only)', () => {
  let handle: TelemetryHandle;
  const savedEnv = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  beforeAll(() => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    handle = startTelemetry({ service: 'planner' });
  });
  afterAll(async () => {
    await handle.shutdown();
    if (savedEnv !== undefined) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = savedEnv;
  });

  it('round-trips a trace id through message attributes', () => {
    const sc = spanContext();
    const attributes = context.with(trace.setSpanContext(ROOT_CONTEXT, sc), () => injectTraceContext());
    expect(attributes).toEqual({ traceparent: `00-${sc.traceId}-${sc.spanId}-01` });

    const seen = withExtractedContext(attributes, () => trace.getActiveSpan()?.spanContext());
    expect(seen).toMatchObject({ traceId: sc.traceId, spanId: sc.spanId, isRemote: true });
  });

  it('keeps the extracted context across awaits and into onward messages', async () => {
    const sc = spanContext();
    const incoming = { traceparent: `00-${sc.traceId}-${sc.spanId}-01`, other: 'attr' };
    const onward = await withExtractedContext(incoming, async () => {
      await new Promise((r) => setTimeout(r, 5));
      // With no SDK the tracer is a no-op, but its spans still carry the parent's trace.
      return tracer('test').startActiveSpan('handle', (span) => {
        span.end();
        return injectTraceContext();
      });
    });
    expect(onward.traceparent).toContain(`-${sc.traceId}-`);
  });

  it('exports nothing: spans are non-recording', () => {
    const span = tracer().startSpan('x');
    expect(span.isRecording()).toBe(false);
    span.end();
  });

  it('gives an empty context for missing or malformed attributes', () => {
    expect(withExtractedContext(undefined, activeTraceId)).toBeUndefined();
    expect(withExtractedContext({ traceparent: 'garbage' }, activeTraceId)).toBeUndefined();
    expect(context.with(ROOT_CONTEXT, () => injectTraceContext())).toEqual({});
  });

  it('does not inherit the ambient trace when a message carries none', () => {
    const ambient = spanContext();
    const inside = context.with(trace.setSpanContext(ROOT_CONTEXT, ambient), () =>
      withExtractedContext({}, activeTraceId),
    );
    expect(inside).toBeUndefined();
  });

  it('a second start returns the running handle', () => {
    expect(startTelemetry({ service: 'other' })).toBe(handle);
  });
});

describe('shutdown', () => {
  const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  beforeAll(() => delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
  afterAll(() => {
    if (saved !== undefined) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
  });

  it('unregisters propagation so telemetry can be started again', async () => {
    const sc = spanContext();
    const inject = () => context.with(trace.setSpanContext(ROOT_CONTEXT, sc), () => injectTraceContext());
    const first = startTelemetry({ service: 's' });
    expect(inject()).toHaveProperty('traceparent');
    await first.shutdown();
    await first.shutdown(); // idempotent
    expect(inject()).toEqual({});
    const second = startTelemetry({ service: 's' });
    expect(second).not.toBe(first);
    expect(inject()).toHaveProperty('traceparent');
    await second.shutdown();
  });
});

/* The OTLP exporter loads `http` with a dynamic import(), which jest's module sandbox refuses
 * (it needs --experimental-vm-modules). So exporting is tested where it will run: in a plain Node
 * child process, on this package transpiled to CommonJS, against a loopback OTLP receiver. */

const PACKAGE_DIR = join(__dirname, '..');
const DRIVER = `
const { count, startTelemetry, withSpan } = require('./index.js');
const mode = process.argv[2];
const handle = startTelemetry(mode === 'option'
  ? { service: 'render-under-test', otlpEndpoint: process.env.RECEIVER }
  : { service: 'render-under-test' });
(async () => {
  count('qaChecks', { check: 'black_frames', verdict: 'fail' });
  const traceId = await withSpan('render-shot', async (span) => span.spanContext().traceId, { shotId: 's01' });
  await withSpan('call-upstream', async () => { throw new Error('401 for Bearer span-secret-token-1234'); })
    .catch(() => undefined);
  const loaded = Object.keys(require.cache);
  const report = {
    traceId,
    sdkLoaded: loaded.some((p) => p.includes('sdk-node')),
    exporterLoaded: loaded.some((p) => p.includes('exporter-trace-otlp-http')),
    metricsExporterLoaded: loaded.some((p) => p.includes('exporter-metrics-otlp-http')),
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
  };
  await handle.shutdown();
  process.stdout.write(JSON.stringify(report));
})();
`;

interface ChildReport {
  traceId: string;
  sdkLoaded: boolean;
  exporterLoaded: boolean;
  metricsExporterLoaded: boolean;
  rssMb: number;
}

/** Transpiles src/*.ts (not tests) into dir, with the driver beside them. */
function buildPackage(dir: string): void {
  for (const file of readdirSync(__dirname)) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    const source = readFileSync(join(__dirname, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    writeFileSync(join(dir, file.replace(/\.ts$/, '.js')), outputText);
  }
  writeFileSync(join(dir, 'driver.js'), DRIVER);
}

function runDriver(dir: string, mode: string, env: Record<string, string>): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const clean = { ...process.env };
    delete clean.OTEL_EXPORTER_OTLP_ENDPOINT;
    execFile(
      process.execPath,
      ['driver.js', mode],
      // NODE_PATH lets the transpiled files find this package's dependencies from the temp dir.
      { cwd: dir, env: { ...clean, NODE_PATH: join(PACKAGE_DIR, 'node_modules'), ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`driver failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as ChildReport);
      },
    );
  });
}

interface Received {
  path: string;
  body: string;
}

describe('startTelemetry in a real Node process', () => {
  let server: Server;
  let receiver: string;
  let dir: string;
  const received: Received[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aiprod-otel-test-'));
    buildPackage(dir);
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        received.push({ path: req.url ?? '', body: body.toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    receiver = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    received.length = 0;
  });

  it('exports spans over OTLP/HTTP with the service name, redacting recorded errors', async () => {
    const report = await runDriver(dir, 'option', { RECEIVER: receiver });
    expect(report).toMatchObject({ sdkLoaded: true, exporterLoaded: true, metricsExporterLoaded: true });
    expect(received.map((r) => r.path).sort()).toEqual(['/v1/metrics', '/v1/traces']);
    const body = received.find((r) => r.path === '/v1/traces')?.body ?? '';
    expect(body).toContain('"render-shot"');
    expect(body).toContain('"call-upstream"');
    expect(body).toContain('render-under-test');
    expect(body).toContain(report.traceId);
    expect(body).toContain('s01');
    expect(body).toContain('401 for Bearer [REDACTED]');
    expect(body).not.toContain('span-secret-token-1234');
  });

  it('pushes the catalogue metrics over OTLP/HTTP on shutdown, with the service name', async () => {
    await runDriver(dir, 'option', { RECEIVER: receiver });
    const metrics = received.find((r) => r.path === '/v1/metrics')?.body ?? '';
    expect(metrics).toContain('"aiprod_qa_checks"');
    expect(metrics).toContain('black_frames');
    expect(metrics).toContain('render-under-test');
    expect(metrics).toContain('"aiprod_process_resident_memory_bytes"');
  });

  it('takes the endpoint from OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    await runDriver(dir, 'env', { OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver}/` });
    expect(received.map((r) => r.path).sort()).toEqual(['/v1/metrics', '/v1/traces']);
    expect(received.find((r) => r.path === '/v1/traces')?.body).toContain('"render-shot"');
  });

  it('without an endpoint exports nothing and never loads the SDK or exporter', async () => {
    const report = await runDriver(dir, 'env', {});
    expect(report).toMatchObject({ sdkLoaded: false, exporterLoaded: false, metricsExporterLoaded: false });
    expect(report.traceId).toBe('00000000000000000000000000000000'); // no-op tracer, no parent
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual([]);
  });
});
