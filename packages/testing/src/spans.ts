import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';

export interface SpanRecorder {
  /** Every span ended since the start (or the last reset), in the order they ended. */
  spans(): ReadableSpan[];
  reset(): void;
  /** Unregisters the provider, context manager and propagator, so another suite can start its own. */
  stop(): Promise<void>;
}

/**
 * Records spans in memory, in this process: the same global context manager and W3C propagator
 * startTelemetry registers, plus a tracer provider that keeps what it records. For unit tests of
 * what code puts on spans (kinds, attributes, statuses, parents); export over OTLP is tested by
 * packages/observability and test/e2e/traces.test.ts.
 */
export function recordSpans(): SpanRecorder {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    stop: async () => {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
