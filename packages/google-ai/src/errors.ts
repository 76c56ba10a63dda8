import { ApiError } from '@google/genai';
import { redactString } from '@aiprod/observability';
import type { HttpExchange } from './client';

/** Google credentials the general redaction does not know by shape: OAuth access tokens and API keys. */
const GOOGLE_SECRETS: readonly (readonly [RegExp, string])[] = [
  [/\bya29\.[\w.-]+/g, '[REDACTED]'],
  [/\bAIza[\w-]{35}\b/g, '[REDACTED]'],
];

/** Vendor text with anything credential-shaped replaced, before it reaches a message or a log. */
export function redactGoogleText(text: string): string {
  let out = redactString(text);
  for (const [pattern, replacement] of GOOGLE_SECRETS) out = out.replace(pattern, replacement);
  return out;
}

/** Redacted, on one line, at most `max` characters. */
export function clipGoogleText(text: string, max = 300): string {
  const one = redactGoogleText(text).replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** `"12s"` / `"1.5s"` (google.protobuf.Duration in JSON) → milliseconds. */
export function protobufDurationMs(value: unknown): number | undefined {
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(value.trim()) : null;
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

/** The delay of the `google.rpc.RetryInfo` entry in an error's `details`, in milliseconds. */
export function retryInfoMs(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  const info = (details as { '@type'?: unknown; retryDelay?: unknown }[]).find(
    (d) => typeof d === 'object' && d !== null && d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo',
  );
  return protobufDurationMs(info?.retryDelay);
}

/** A Retry-After header, as delta-seconds or an HTTP date, in milliseconds from `now`. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What a Google API error says, read without trusting it. */
export interface GoogleErrorInfo {
  httpStatus: number;
  /** The google.rpc.Code name the body gives (`RESOURCE_EXHAUSTED`, `NOT_FOUND`...), if any. */
  status?: string;
  /** `429 RESOURCE_EXHAUSTED`, or `429` when the body names no status. */
  statusText: string;
  /** The server's message, redacted; the raw text when the body is not Google's JSON. */
  message: string;
  /** How long the server asked us to wait: RetryInfo first (Google's clients read it), then Retry-After. */
  retryAfterMs?: number;
}

/**
 * Reads an `ApiError` of `@google/genai`, whose message is the Google error body
 * (`{ error: { code, status, message, details } }`) as JSON when the server sent one.
 * Anything else (a network failure, a timeout) is not a Google error: undefined.
 */
export function readGoogleError(
  err: unknown,
  exchange: HttpExchange = {},
  now = Date.now(),
): GoogleErrorInfo | undefined {
  if (!(err instanceof ApiError)) return undefined;
  let body: { status?: unknown; message?: unknown; details?: unknown } = {};
  try {
    const parsed = JSON.parse(err.message) as { error?: typeof body } | null;
    body = parsed?.error ?? {};
  } catch {
    body = { message: err.message };
  }
  const status = typeof body.status === 'string' && /^[A-Z_]+$/.test(body.status) ? body.status : undefined;
  const wait = retryInfoMs(body.details) ?? retryAfterMs(exchange.retryAfter, now);
  return {
    httpStatus: err.status,
    ...(status ? { status } : {}),
    statusText: `${err.status}${status ? ` ${status}` : ''}`,
    message: typeof body.message === 'string' ? redactGoogleText(body.message) : '',
    ...(wait !== undefined ? { retryAfterMs: wait } : {}),
  };
}

/**
 * One line on what went wrong, redacted: a Google error's status and message, or the messages
 * along a `cause` chain (fetch says "fetch failed" and hides ECONNREFUSED in its cause).
 * Duck-typed: errors from another realm (undici's, in jest) are not `instanceof Error`.
 */
export function describeGoogleError(err: unknown): string {
  const google = readGoogleError(err);
  if (google) return redactGoogleText(`${google.statusText}: ${google.message}`);
  const parts: string[] = [];
  let e: unknown = err;
  while (typeof e === 'object' && e !== null && 'message' in e && parts.length < 4) {
    parts.push(String(e.message));
    e = 'cause' in e ? e.cause : undefined;
  }
  return redactGoogleText(parts.length ? parts.join(': ') : String(err));
}

/** The error names along a `cause` chain: the SDK wraps a non-Error rejection (a DOMException
 *  from another realm) in `new Error('exception … sending request', { cause })`. */
export function causeNames(err: unknown): string[] {
  const names: string[] = [];
  let e: unknown = err;
  while (typeof e === 'object' && e !== null && names.length < 4) {
    if ('name' in e) names.push(String((e as { name: unknown }).name));
    e = 'cause' in e ? (e as { cause: unknown }).cause : undefined;
  }
  return names;
}
