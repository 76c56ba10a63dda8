import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { redactString } from './redact';

/** W3C `traceparent` (and `tracestate` when set) for the active (or given) context, to put in
 *  Pub/Sub message attributes or outgoing HTTP headers. Empty when there is no valid span or no
 *  propagator is registered (startTelemetry not called). */
export function injectTraceContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** Runs fn inside the trace context carried by message attributes / request headers, so that
 *  spans started and lines logged in fn join the producer's trace. The base is the root context,
 *  not the active one: a message that carries no trace must not inherit the consumer loop's.
 *  Needs the context manager registered by startTelemetry. */
export function withExtractedContext<T>(attributes: Readonly<Record<string, string>> | undefined, fn: () => T): T {
  const ctx = propagation.extract(ROOT_CONTEXT, attributes ?? {});
  return context.with(ctx, fn);
}

export function tracer(name = 'aiprod'): Tracer {
  return trace.getTracer(name);
}

/** Runs fn in a new active span that is ended when fn settles; a thrown error is recorded on the
 *  span (status ERROR, message and stack redacted: spans leave the process too) and rethrown. */
export async function withSpan<T>(
  name: string,
  fn: (span: Span) => Promise<T>,
  attributes?: Attributes,
  tracerName?: string,
): Promise<T> {
  return tracer(tracerName).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      const message = redactString(err instanceof Error ? err.message : String(err));
      if (err instanceof Error) {
        span.recordException({ name: err.name, message, stack: err.stack && redactString(err.stack) });
      }
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw err;
    } finally {
      span.end();
    }
  });
}
