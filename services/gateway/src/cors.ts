import type { RequestHandler } from 'express';

const ALLOWED_METHODS = 'GET, POST, PUT, DELETE';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Request-Id';

/**
 * CORS is off unless origins are listed: without a list no Access-Control-Allow-Origin header is
 * ever sent, so browsers on other sites cannot read responses. With a list only exact matches get
 * one (never `*`, never a reflected unknown origin), and credentials are not enabled because the
 * API authenticates with bearer tokens, not cookies.
 */
export function corsAllowList(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins.map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean));
  return (req, res, next) => {
    if (allowed.size === 0) return next();
    res.vary('Origin');
    const origin = req.get('origin');
    if (!origin || !allowed.has(origin)) return next();
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', 'Location, Retry-After, X-Request-Id');
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      return void res.status(204).end();
    }
    next();
  };
}
