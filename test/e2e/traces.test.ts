import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { waitFor } from '@aiprod/testing';
import { GatewayClient, type LocalStack } from '../../infra/local/src';
import { repoRoot, startTestStack } from './e2e-stack';

/**
 * One trace per job across the five services: the whole local platform exports its spans over
 * OTLP/HTTP to a receiver in this test, one job goes to DELIVERED, and the spans are read back.
 * Needs the services built (`npm test` builds first).
 */
const brief = JSON.parse(readFileSync(join(repoRoot, 'examples', 'briefs', 'aurora-15s.json'), 'utf8')) as Record<
  string,
  unknown
>;

/** OTLP span kinds (opentelemetry-proto's Span.SpanKind). */
const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
const STATUS_ERROR = 2;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  attributes?: OtlpAttribute[];
  status?: { code?: number };
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

/** A received span, flattened: its service and plain attribute values. */
interface Received {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  start: bigint;
  status: number;
  attributes: Record<string, string | number | boolean>;
}

const plain = (v: OtlpValue) =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue ?? '';
const attributesOf = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map((a) => [a.key, plain(a.value)]));

/** A loopback OTLP/HTTP trace receiver. The exporter sends JSON unless told otherwise; traces in
 *  any other encoding are refused (415) and counted, so a change of encoding fails this test
 *  loudly. Other signals (the services also push metrics to the same endpoint) are taken and ignored. */
function startReceiver(): Promise<{ server: Server; url: string; spans: Received[]; refused: string[] }> {
  const spans: Received[] = [];
  const refused: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.url !== '/v1/traces') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (!type.startsWith('application/json')) {
        refused.push(`${req.method} ${req.url} ${type}`);
        return void res.writeHead(415).end();
      }
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(
        (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'),
      ) as OtlpExport;
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              kind: s.kind,
              start: BigInt(s.startTimeUnixNano),
              status: s.status?.code ?? 0,
              attributes: attributesOf(s.attributes),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () =>
      done({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, refused }),
    ),
  );
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let stack: LocalStack | undefined;
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-traces-'));

beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startTestStack('traces', stateDir, { otlpEndpoint: receiver.url });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  receiver?.server.closeAllConnections();
  await new Promise((r) => receiver?.server.close(r));
  rmSync(stateDir, { recursive: true, force: true });
});

describe('one trace per job', () => {
  it('puts the spans of all five services for one job, from the gateway on, in one trace', async () => {
    const client = new GatewayClient(stack!.info);
    const submitted = await client.submit(brief);
    const job = await client.waitForTerminal(submitted.id, { timeoutMs: 120_000 });
    expect(job.status).toBe('DELIVERED');

    // SIGTERM: every service drains and flushes its last batch of spans on the way out.
    await stack!.stop();
    stack = undefined;
    // Render pools are named as Cloud Run names them: the local pool is render-local.
    const services = ['gateway', 'planner', 'render-local', 'qa', 'delivery'];
    // The client's own reads of the job (GET /v1/jobs/:id while it waited) are requests of their
    // own, each its own trace; every other span that names the job is the job's.
    const reads = () =>
      new Set(
        receiver.spans
          .filter((s) => s.kind === KIND.SERVER && s.attributes['http.request.method'] === 'GET')
          .map((s) => s.traceId),
      );
    const ofJob = () => receiver.spans.filter((s) => s.attributes.jobId === job.id && !reads().has(s.traceId));
    await waitFor(() => (services.every((name) => ofJob().some((s) => s.service === name)) ? true : undefined), {
      timeoutMs: 15_000,
      what: 'spans of the job from every service',
    });
    expect(receiver.refused).toEqual([]);

    // Every span that names the job is in one trace, and that trace holds all five services.
    const traceIds = new Set(ofJob().map((s) => s.traceId));
    expect([...traceIds]).toHaveLength(1);
    const [traceId] = [...traceIds] as [string];
    const trace = receiver.spans.filter((s) => s.traceId === traceId);
    expect([...new Set(trace.map((s) => s.service))].sort()).toEqual([...services].sort());

    // The gateway's SERVER span for the POST is the root, and the parent of the first publish.
    const server = trace.find((s) => s.kind === KIND.SERVER && s.name === 'POST /v1/jobs');
    expect(server).toMatchObject({
      service: 'gateway',
      parentSpanId: undefined,
      attributes: expect.objectContaining({
        'http.request.method': 'POST',
        'http.route': '/v1/jobs',
        'http.response.status_code': 202,
        jobId: job.id,
      }),
    });
    const publishes = trace.filter((s) => s.kind === KIND.PRODUCER).sort((a, b) => (a.start < b.start ? -1 : 1));
    expect(publishes[0]).toMatchObject({
      name: 'aiprod.job.requested.v1 publish',
      service: 'gateway',
      parentSpanId: server!.spanId,
    });
    // Every other span hangs off a span of the same trace: nothing is orphaned.
    const ids = new Set(trace.map((s) => s.spanId));
    expect(trace.filter((s) => s !== server && !ids.has(s.parentSpanId ?? ''))).toEqual([]);

    // Each stage's consumer span is a CONSUMER span with the job's ids and messaging attributes.
    const consumers = trace.filter((s) => s.kind === KIND.CONSUMER);
    expect([...new Set(consumers.map((s) => s.service))].sort()).toEqual(
      ['delivery', 'planner', 'qa', 'render-local'].sort(),
    );
    for (const span of consumers) {
      expect(span.attributes).toMatchObject({
        jobId: job.id,
        'messaging.system': 'gcp_pubsub',
        'messaging.destination.name': expect.any(String),
        'messaging.message.id': expect.any(String),
        deliveryAttempt: expect.any(Number),
      });
      expect(span.status).not.toBe(STATUS_ERROR);
    }
    const renders = consumers.filter((s) => s.service === 'render-local');
    expect([...new Set(renders.map((s) => s.attributes.shotId))].sort()).toEqual(job.shots.map((s) => s.id).sort());
    for (const span of renders) {
      expect(span.attributes).toMatchObject({ backend: 'local', shotId: expect.any(String), attempt: 1 });
    }

    // Child spans: ffmpeg runs (by operation, never their argv) and Firestore transactions.
    const ffmpeg = trace.filter((s) => s.attributes['media.tool'] === 'ffmpeg');
    expect(ffmpeg.map((s) => s.name)).toEqual(expect.arrayContaining(['ffmpeg animatic', 'ffmpeg finish_cut']));
    expect(trace.some((s) => s.attributes['media.tool'] === 'ffprobe')).toBe(true);
    // No span names a file: ffmpeg's argv (and the paths in it) stays out of the trace.
    expect(JSON.stringify(trace.map((s) => [s.name, s.attributes]))).not.toContain(stateDir);
    const transactions = trace.filter((s) => s.name.startsWith('firestore.transaction '));
    expect(transactions.map((s) => s.attributes['aiprod.transaction.purpose'])).toEqual(
      expect.arrayContaining(['transition', 'savePlan', 'passShot']),
    );
  }, 180_000);
});
