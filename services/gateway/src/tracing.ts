import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Request, RequestHandler } from 'express';

/**
 * One SERVER span per request, the root of a job's trace (or the child of the caller's, read
 * from an incoming W3C `traceparent`). It is named by the route template once routing has
 * matched (`POST /v1/jobs`, never the path with its ids), else by the method alone. 5xx answers
 * are span errors; 4xx are the client's and are not. Mounted first, so that everything the
 * request does (Firestore transactions, the job's stored traceparent, publishes) runs inside it.
 *
 * Without telemetry the tracer is a no-op: the span is the caller's context or none, and this
 * costs a header parse per request.
 */
export function serverSpans(): RequestHandler {
  const tracer = trace.getTracer('@aiprod/gateway');
  return (req, res, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      req.method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.scheme': req.protocol },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    // 'close' also fires when the client goes away first (an SSE stream), unlike 'finish'.
    res.once('close', () => {
      const route = routeOf(req);
      if (route) {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      const jobId = res.locals.jobId as string | undefined;
      if (jobId) span.setAttribute('jobId', jobId);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    // Body parsing and streams call back from the socket's events: bind them to the request's
    // context, or work done in those callbacks would leave the trace.
    context.bind(ctx, req);
    context.bind(ctx, res);
    context.with(ctx, next);
  };
}

/** The matched route's template (`/v1/jobs/:id`), or undefined when no route matched. */
export function routeOf(req: Request): string | undefined {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  // baseUrl is unset again by the time an error reaches express's final handler.
  return typeof path === 'string' ? `${(req.baseUrl as string | undefined) ?? ''}${path}` : undefined;
}
