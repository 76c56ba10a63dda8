import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { assertSafeWebhookUrl, UnsafeWebhookUrlError, type ResolveHost, type UnsafeWebhookUrlReason } from './ssrf';

/** At most this much of a response body is read (then discarded); the connection is closed after it. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
export const USER_AGENT = 'AIPROD-Webhooks/1.0';

export type SendWebhookInput = {
  url: string;
  body: string | Buffer;
  /** Usually signWebhook's headers; `host` and `content-length` are ours to set and are ignored. */
  headers: Record<string, string>;
  /** Bound on the whole attempt: DNS, connect, TLS, request and response headers. */
  timeoutMs: number;
  allowLoopbackHttp?: boolean;
  resolve?: ResolveHost;
  /** Trusted CA certificates (PEM) for https, replacing Node's bundled roots: for tests. Default: the roots. */
  ca?: string | Buffer | Array<string | Buffer>;
};

export type SendWebhookResult = {
  /** HTTP status, or 0 when no response arrived (network error, timeout, refused by the SSRF guard). */
  status: number;
  /** From `Retry-After` (delta-seconds or HTTP-date), when the response had a valid one. */
  retryAfterSeconds?: number;
  durationMs: number;
  /** Set whenever status is 0: 'timeout', 'blocked:<reason>', or the network error's code and message. */
  error?: string;
  /** The SSRF guard refused the URL at send time; nothing was sent. */
  blocked?: UnsafeWebhookUrlReason;
};

/**
 * Parses `Retry-After`: delta-seconds, or an HTTP-date (past dates give 0). Anything else: undefined.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/[a-z]/i.test(text)) return undefined; // numbers with signs/decimals are not dates either
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** A `lookup` that answers only with the addresses the SSRF guard checked, so DNS is not asked again. */
export function pinnedLookup(hostname: string, addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return ((name: string, options: { family?: number | string; all?: boolean }, callback: CallableFunction) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const wanted = family === 4 || family === 6 ? entries.filter((entry) => entry.family === family) : entries;
    const first = wanted[0];
    if (name !== hostname || first === undefined) {
      const error: NodeJS.ErrnoException = new Error(`no checked address for ${name}`);
      error.code = 'ENOTFOUND';
      callback(error, options.all ? [] : '', 0);
    } else if (options.all) {
      callback(null, wanted);
    } else {
      callback(null, first.address, first.family);
    }
  }) as unknown as LookupFunction;
}

export function describe(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * One POST of a webhook. Re-checks the URL with the SSRF guard and connects only to the addresses it
 * checked (a pinned `lookup`: the Host header, SNI and certificate check still use the hostname), so a
 * DNS answer that changes between check and connect cannot redirect the request. Redirects are not
 * followed (a 3xx is just the status). At most MAX_RESPONSE_BYTES of the body are read, then discarded.
 * Never throws: failures come back as `{ status: 0, error }`.
 */
export async function sendWebhook(input: SendWebhookInput): Promise<SendWebhookResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const { timeoutMs } = input;
  if (!(timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');

  let timer: NodeJS.Timeout | undefined;
  let onTimeout: () => void = () => {};
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve('timeout');
    }, timeoutMs);
  });
  try {
    const checked = await Promise.race([
      assertSafeWebhookUrl(input.url, { allowLoopbackHttp: input.allowLoopbackHttp, resolve: input.resolve }),
      deadline,
    ]);
    if (checked === 'timeout') return { status: 0, error: 'timeout', durationMs: elapsed() };
    return await new Promise<SendWebhookResult>((resolve) => {
      const { url, addresses } = checked;
      const body = typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body;
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': USER_AGENT };
      for (const [name, value] of Object.entries(input.headers)) {
        const key = name.toLowerCase();
        if (key !== 'host' && key !== 'content-length' && key !== 'transfer-encoding') headers[key] = value;
      }
      headers['content-length'] = String(body.length);
      const options: https.RequestOptions = {
        method: 'POST',
        headers,
        agent: false, // a fresh connection each time: a pooled socket could outlive the pinned address
        lookup: pinnedLookup(url.hostname, addresses),
        ...(url.protocol === 'https:' && input.ca !== undefined ? { ca: input.ca } : {}),
      };
      const request = (url.protocol === 'https:' ? https : http).request(url, options, (response) => {
        const status = response.statusCode ?? 0;
        const retryAfterSeconds = parseRetryAfter(response.headers['retry-after']);
        // The status is the outcome: whatever happens to the body afterwards (cap, error, deadline)
        // only ends the read.
        const done = () => {
          resolve({ status, durationMs: elapsed(), ...(retryAfterSeconds !== undefined && { retryAfterSeconds }) });
          request.destroy();
        };
        onTimeout = done;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read >= MAX_RESPONSE_BYTES) done();
        });
        response.on('end', done);
        response.on('error', done);
        response.on('close', done);
      });
      onTimeout = () => {
        request.destroy();
        resolve({ status: 0, error: 'timeout', durationMs: elapsed() });
      };
      request.on('error', (error) => resolve({ status: 0, error: describe(error), durationMs: elapsed() }));
      request.end(body);
    });
  } catch (error) {
    if (error instanceof UnsafeWebhookUrlError) {
      return { status: 0, error: `blocked:${error.reason}`, blocked: error.reason, durationMs: elapsed() };
    }
    return { status: 0, error: describe(error), durationMs: elapsed() };
  } finally {
    clearTimeout(timer);
  }
}
