import type { Request, RequestHandler } from 'express';
import { count, observe, secondsSince } from '@aiprod/observability';
import { routeOf } from './tracing';

/**
 * Counts every request and its latency by route template (never the raw path: ids would make a
 * series per job), method and status. The SLOs on gateway availability and latency are computed
 * from these. Requests that matched no route are `unmatched` (404s, refused credentials).
 */
export function requestMetrics(): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    // 'close' also fires when the client goes away first (an SSE stream), unlike 'finish'.
    res.once('close', () => {
      const route = routeLabel(req);
      // An event stream is open for as long as the client listens: its duration is not latency.
      if (!res.getHeader('content-type')?.toString().startsWith('text/event-stream'))
        observe('httpRequestDuration', secondsSince(started), { route, method: req.method });
      count('httpRequests', { route, method: req.method, code: String(res.statusCode) });
    });
    next();
  };
}

function routeLabel(req: Request): string {
  if (req.path === '/healthz' || req.path === '/readyz') return req.path;
  return routeOf(req) ?? 'unmatched';
}
