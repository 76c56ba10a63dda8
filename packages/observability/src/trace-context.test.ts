import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { contextFromTraceparent, hasSpanContext, withSpan } from './trace-context';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

const ended = () => exporter.getFinishedSpans();

describe('withSpan', () => {
  it('keeps the older signature (attributes, tracer name) and records unexpected errors, redacted', async () => {
    await expect(
      withSpan(
        'call',
        async () => Promise.reject(new Error('401 for Bearer abcdefghijklmnopqrstuvwxyz123456')),
        { a: 1 },
        't',
      ),
    ).rejects.toThrow('401');
    const [span] = ended();
    expect(span).toMatchObject({ name: 'call', kind: SpanKind.INTERNAL, attributes: { a: 1 } });
    expect(span!.instrumentationScope.name).toBe('t');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.status.message).not.toContain('abcdefghijklmnopqrstuvwxyz123456');
  });

  it('takes a kind, and leaves an expected failure UNSET with an event naming its reason', async () => {
    const refused = Object.assign(new Error('refused by the vendor'), { reason: 'render_refused' });
    await expect(
      withSpan('vendor create', async () => Promise.reject(refused), undefined, {
        kind: SpanKind.CLIENT,
        expected: (err) => (err as { reason?: string }).reason,
      }),
    ).rejects.toBe(refused);
    const [span] = ended();
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.events.map((e) => [e.name, e.attributes?.['aiprod.failure.reason']])).toEqual([
      ['expected_failure', 'render_refused'],
    ]);
  });

  it('starts under a stored traceparent when given it as the parent', async () => {
    const parent = contextFromTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(parent && hasSpanContext(parent)).toBe(true);
    expect(hasSpanContext(ROOT_CONTEXT)).toBe(false);
    await withSpan('sweep', async () => undefined, undefined, { parent });
    const [span] = ended();
    expect(span!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(contextFromTraceparent('garbage')).toBeUndefined();
    expect(contextFromTraceparent(undefined)).toBeUndefined();
  });
});
