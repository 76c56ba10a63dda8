import type { ServerResponse } from 'node:http';

/** google.rpc.Code names by HTTP status, as Google APIs put them in `error.status`. */
const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}) {
  if (res.destroyed || res.writableEnded) return; // the client gave up (a timeout test)
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * A Google API error: `{ error: { code, message, status, details? } }`. With `retryAfterSeconds`
 * it carries both a `Retry-After` header and a `google.rpc.RetryInfo` detail, which is where
 * Google's clients read the delay from.
 */
export function googleError(res: ServerResponse, code: number, message: string, retryAfterSeconds?: number) {
  sendJson(
    res,
    code,
    googleErrorBody(code, message, retryAfterSeconds),
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterSeconds)) },
  );
}

/** The body `googleError` sends. */
export function googleErrorBody(code: number, message: string, retryAfterSeconds?: number) {
  const status = STATUS_NAMES[code] ?? (code >= 500 ? 'INTERNAL' : 'UNKNOWN');
  const details =
    retryAfterSeconds === undefined
      ? undefined
      : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` }];
  return { error: { code, message, status, ...(details ? { details } : {}) } };
}
