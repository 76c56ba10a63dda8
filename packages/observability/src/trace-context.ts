import {
  context,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
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

/** How withSpan starts its span; a string is the tracer name alone (the older signature). */
export interface SpanRunOptions {
  /** INTERNAL unless said: CLIENT for outgoing calls, CONSUMER for handled messages. */
  kind?: SpanKind;
  tracer?: string;
  /** Parent context (default: the active one), e.g. a job's stored trace outside any span. */
  parent?: Context;
  /** An error that is an expected outcome (a permanent, recorded failure): the span gets an event
   *  with `reason` instead of status ERROR, and the error is still rethrown. */
  expected?: (err: unknown) => string | undefined;
}

/** Runs fn in a new active span that is ended when fn settles; a thrown error is recorded on the
 *  span (status ERROR, message and stack redacted: spans leave the process too) and rethrown,
 *  unless options.expected names it an expected outcome. */
export async function withSpan<T>(
  name: string,
  fn: (span: Span) => Promise<T>,
  attributes?: Attributes,
  options: string | SpanRunOptions = {},
): Promise<T> {
  const opts: SpanRunOptions = typeof options === 'string' ? { tracer: options } : options;
  const spanOptions = { attributes, kind: opts.kind ?? SpanKind.INTERNAL };
  const parent = opts.parent ?? context.active();
  return tracer(opts.tracer).startActiveSpan(name, spanOptions, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      const reason = opts.expected?.(err);
      if (reason === undefined) recordSpanError(span, err);
      else recordExpectedFailure(span, reason, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Status ERROR with the (redacted) exception: an unexpected failure, worth an operator's look. */
export function recordSpanError(span: Span, err: unknown): void {
  const message = redactString(err instanceof Error ? err.message : String(err));
  if (err instanceof Error) {
    span.recordException({ name: err.name, message, stack: err.stack && redactString(err.stack) });
  }
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** An expected, recorded failure (a PermanentError): an event, status left UNSET, so error-rate
 *  views count only what nobody planned for. */
export function recordExpectedFailure(span: Span, reason: string, err: unknown): void {
  const message = redactString(err instanceof Error ? err.message : String(err));
  span.addEvent('expected_failure', { 'aiprod.failure.reason': reason, 'aiprod.failure.message': message });
}

/** The context of a stored W3C `traceparent` (a job's), or undefined if it is missing or malformed. */
export function contextFromTraceparent(traceparent: string | undefined): Context | undefined {
  if (!traceparent) return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, { traceparent });
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** Whether ctx carries a valid span context (an active span, or one extracted from a message). */
export function hasSpanContext(ctx: Context = context.active()): boolean {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && trace.isSpanContextValid(sc);
}

export { SpanKind };

/** What the API hands out while no tracer provider is registered (the same object every time). */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracer provider records spans in this process (startTelemetry with an endpoint, or a
 * test's recorder). Without one a trace is only context passed along, and work done only to join
 * a trace (a read of the job's stored traceparent) can be skipped.
 */
export function tracesRecorded(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_TRACER_PROVIDER;
}
