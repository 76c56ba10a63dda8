import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { trace } from '@opentelemetry/api';
import { SpanKind, withSpan } from '@aiprod/observability';
import { BackendFailure, type BackendOutput } from './backend';

/** Helpers shared by the HTTP vendor backends (Runway, Replicate): downloads, Retry-After, redaction. */

/** Downloading a finished clip from a vendor URL: a slow or throttled link must not hold the attempt forever. */
export const VENDOR_FETCH_TIMEOUT_MS = 120_000;
/** Cancelling (or deleting) a vendor task: a short call, and never worth holding up the caller. */
export const VENDOR_CANCEL_TIMEOUT_MS = 10_000;

/** Both the caller's signal and a timeout: whichever fires first aborts the request. */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** Our per-call timeout fired (not the caller's signal). */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

/** The caller's signal aborted the call. */
export class RequestAbortedError extends Error {
  override readonly name = 'RequestAbortedError';
}

/** Which vendor call a span is for: `runway create`, `replicate poll`, `veo download`… */
export interface VendorCall {
  backend: string;
  operation: string;
}

/**
 * One CLIENT span around one vendor HTTP call (the SDKs are built not to retry, so a call is one
 * request), with the backend, the operation and the answer's status: statusRecordingFetch sets it
 * on success, the thrown error's status on failure. Never the URL or body (keys, signed URLs).
 */
export function vendorSpan<T>(call: VendorCall, fn: () => Promise<T>): Promise<T> {
  return withSpan(
    `${call.backend} ${call.operation}`,
    async (span) => {
      try {
        return await fn();
      } catch (err) {
        const status = httpStatusOf(err);
        if (status !== undefined) span.setAttribute('http.response.status_code', status);
        throw err;
      }
    },
    { backend: call.backend, 'vendor.operation': call.operation },
    { kind: SpanKind.CLIENT, tracer: '@aiprod/render' },
  );
}

/** Puts an answer's HTTP status on the active span (the vendorSpan the request runs in). */
export function recordHttpStatus(status: number): void {
  trace.getActiveSpan()?.setAttribute('http.response.status_code', status);
}

/** A fetch for an SDK that records each answer's status on the active vendor span. */
export function statusRecordingFetch(): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    recordHttpStatus(response.status);
    return response;
  };
}

/** The HTTP status an SDK error carries (`status`, or `response.status`), here or in its cause. */
function httpStatusOf(err: unknown, depth = 0): number | undefined {
  if (typeof err !== 'object' || err === null || depth > 3) return undefined;
  const e = err as { status?: unknown; response?: { status?: unknown }; cause?: unknown };
  if (typeof e.status === 'number') return e.status;
  if (typeof e.response?.status === 'number') return e.response.status;
  return httpStatusOf(e.cause, depth + 1);
}

/**
 * Runs one vendor call under the caller's signal and a timeout, and says which of the two ended
 * it. SDKs and fetch report both as an abort, often as errors from another realm (undici's),
 * where `instanceof` does not work; checking our own signals is exact. With `span`, the call gets
 * its vendorSpan.
 */
export async function callWithTimeout<T>(
  signal: AbortSignal | undefined,
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<T>,
  span?: VendorCall,
): Promise<T> {
  if (span) return vendorSpan(span, () => callWithTimeout(signal, timeoutMs, call));
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    return await call(signal ? AbortSignal.any([signal, timeout]) : timeout);
  } catch (err) {
    if (signal?.aborted) throw new RequestAbortedError('request aborted by the caller', { cause: err });
    if (timeout.aborted) throw new RequestTimeoutError(`request timed out after ${timeoutMs} ms`, { cause: err });
    throw err;
  }
}

/** The `name` of anything thrown, whatever realm it comes from. */
export function errorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof err === 'object' && typeof name === 'string' ? name : undefined;
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof err === 'object' && typeof message === 'string' ? message : String(err);
}

/**
 * Milliseconds to wait, from `Retry-After` (seconds or an HTTP date) or the non-standard
 * `retry-after-ms`; undefined when the vendor does not say.
 */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * A message fit for the job timeline: one line, at most 300 characters, without `secrets`
 * and without query strings (signed URLs carry their signature there).
 */
export function safeMessage(text: string, secrets: readonly string[]): string {
  let out = text.replace(/\s+/g, ' ').trim();
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  out = out.replace(/(https?:\/\/[^\s?#"']+)\?[^\s"']*/g, '$1?[redacted]');
  return out.length > 300 ? `${out.slice(0, 297)}...` : out;
}

/**
 * Streams a vendor output URL into `outFile` (through a `.part` file, so a broken download never
 * leaves something that looks finished). An expired URL (403/404/410) is `no_output`: the task
 * was paid for but its video is gone. Other failures are transient.
 */
/** fetchResult for the vendors that hand back an output URL (Runway, Replicate). */
export async function fetchUrlOutput(
  vendor: string,
  output: BackendOutput,
  outFile: string,
  signal: AbortSignal,
  options: { timeoutMs: number; secrets: readonly string[] },
): Promise<void> {
  if (output.kind !== 'url') {
    throw new BackendFailure({
      class: 'invalid',
      code: `${vendor}.output_kind`,
      message: `${vendor} cannot fetch a ${output.kind} output`,
      charged: false,
    });
  }
  await vendorSpan({ backend: vendor, operation: 'download' }, () =>
    downloadOutput({ vendor, url: output.url, outFile, signal, ...options }),
  );
}

export async function downloadOutput(options: {
  vendor: string;
  url: string;
  outFile: string;
  signal: AbortSignal;
  timeoutMs: number;
  secrets: readonly string[];
}): Promise<void> {
  const { vendor, url, outFile, signal } = options;
  const fail = (code: string, message: string, klass: 'no_output' | 'transient' | 'canceled') =>
    new BackendFailure({
      class: klass,
      code: `${vendor}.${code}`,
      message: safeMessage(`${vendor}: ${message}`, options.secrets),
      // The vendor task finished (and billed) before we tried to download its output.
      charged: true,
    });
  const aborted = () => fail('download_aborted', 'output download aborted by the caller', 'canceled');
  const requestSignal = withTimeout(signal, options.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { signal: requestSignal, redirect: 'follow' });
    recordHttpStatus(response.status);
  } catch (err) {
    if (signal.aborted) throw aborted();
    const timedOut = requestSignal.aborted;
    throw fail(
      timedOut ? 'download_timeout' : 'download_network',
      timedOut ? `output download timed out after ${options.timeoutMs} ms` : `output download failed: ${String(err)}`,
      'transient',
    );
  }
  if (response.status === 403 || response.status === 404 || response.status === 410) {
    await response.body?.cancel().catch(() => undefined);
    throw fail('output_expired', `output URL answered ${response.status}: expired or deleted`, 'no_output');
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    throw fail('download_http', `output download answered HTTP ${response.status}`, 'transient');
  }
  const partial = `${outFile}.part`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
      createWriteStream(partial),
    );
    await rename(partial, outFile);
  } catch (err) {
    await rm(partial, { force: true });
    if (signal.aborted) throw aborted();
    const timedOut = requestSignal.aborted;
    throw fail(
      timedOut ? 'download_timeout' : 'download_network',
      timedOut ? `output download timed out after ${options.timeoutMs} ms` : `output download broke: ${String(err)}`,
      'transient',
    );
  }
}
