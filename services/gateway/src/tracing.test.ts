import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import express from 'express';
import request from 'supertest';
import { recordSpans, waitFor, type SpanRecorder } from '@aiprod/testing';
import { serverSpans } from './tracing';

let spans: SpanRecorder;
beforeAll(() => {
  spans = recordSpans();
});
afterAll(() => spans.stop());
beforeEach(() => spans.reset());

/** A small app with the middleware first, as buildGateway mounts it. */
function app() {
  const a = express();
  a.use(serverSpans());
  a.use(express.json());
  a.post('/v1/jobs/:id/notes', (req, res) => {
    res.locals.jobId = req.params.id;
    // What the handler sees as active is the request's span: publishes and stores join it.
    res.status(201).json({ traceId: trace.getActiveSpan()?.spanContext().traceId, body: req.body as unknown });
  });
  a.get('/v1/broken', () => {
    throw new Error('bug');
  });
  a.get('/v1/refused', (_req, res) => void res.status(403).end());
  return a;
}

/** The request's one span: ended on the response's 'close', which may come just after the client has the answer. */
const only = async () => {
  await waitFor(() => (spans.spans().length ? true : undefined), { timeoutMs: 2000, what: 'the server span' });
  expect(spans.spans()).toHaveLength(1);
  return spans.spans()[0]!;
};

describe('gateway server spans', () => {
  it("continues the caller's trace from traceparent, named by the route template", async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await request(app())
      .post('/v1/jobs/job_abc/notes')
      .set('traceparent', `00-${traceId}-b7ad6b7169203331-01`)
      .send({ note: 'x' });
    expect(res.status).toBe(201);
    // The body was parsed (stream callbacks) and the handler ran inside the span.
    expect(res.body).toEqual({ traceId, body: { note: 'x' } });
    const span = await only();
    expect(span.name).toBe('POST /v1/jobs/:id/notes');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/jobs/:id/notes',
      'http.response.status_code': 201,
      jobId: 'job_abc',
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('starts a new trace without traceparent', async () => {
    await request(app()).post('/v1/jobs/job_abc/notes').send({});
    expect((await only()).parentSpanContext).toBeUndefined();
  });

  it('marks a 5xx as a span error and a 4xx not', async () => {
    await request(app()).get('/v1/broken').expect(500);
    expect(await only()).toMatchObject({ name: 'GET /v1/broken', status: { code: SpanStatusCode.ERROR } });
    spans.reset();
    await request(app()).get('/v1/refused').expect(403);
    expect(await only()).toMatchObject({ name: 'GET /v1/refused', status: { code: SpanStatusCode.UNSET } });
  });

  it('names an unrouted request by its method alone (never by its path)', async () => {
    await request(app()).get('/v1/jobs/job_secretish/unknown').expect(404);
    const span = await only();
    expect(span.name).toBe('GET');
    expect(span.attributes['http.route']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });
});
