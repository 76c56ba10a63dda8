import { ApiError } from '@google/genai';
import {
  clipGoogleText,
  describeGoogleError,
  protobufDurationMs,
  readGoogleError,
  redactGoogleText,
  retryAfterMs,
  retryInfoMs,
} from './errors';

const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';

/** An ApiError as @google/genai makes it: the Google error body, as JSON, in the message. */
const apiError = (status: number, error: unknown) => new ApiError({ message: JSON.stringify({ error }), status });

describe('RetryInfo and Retry-After', () => {
  it('reads google.protobuf.Duration strings, whole and fractional', () => {
    expect(protobufDurationMs('12s')).toBe(12_000);
    expect(protobufDurationMs('1.5s')).toBe(1_500);
    expect(protobufDurationMs(' 0.25s ')).toBe(250);
    for (const bad of ['12', '12ms', 's', '-1s', 12, undefined, null]) expect(protobufDurationMs(bad)).toBeUndefined();
  });

  it('finds the RetryInfo entry among other details', () => {
    const details = [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RATE_LIMIT_EXCEEDED' },
      { '@type': RETRY_INFO, retryDelay: '12s' },
    ];
    expect(retryInfoMs(details)).toBe(12_000);
    expect(retryInfoMs([{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo' }])).toBeUndefined();
    expect(retryInfoMs('not a list')).toBeUndefined();
    expect(retryInfoMs([null, 3])).toBeUndefined();
  });

  it('reads Retry-After as seconds or as an HTTP date, never negative', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7_000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Mon, 07 Dec 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Mon, 07 Dec 2026 09:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

describe('readGoogleError', () => {
  it('reads status, message and RetryInfo, which wins over Retry-After', () => {
    const err = apiError(429, {
      code: 429,
      status: 'RESOURCE_EXHAUSTED',
      message: 'Resource exhausted.',
      details: [{ '@type': RETRY_INFO, retryDelay: '1.5s' }],
    });
    expect(readGoogleError(err, { retryAfter: '30' })).toEqual({
      httpStatus: 429,
      status: 'RESOURCE_EXHAUSTED',
      statusText: '429 RESOURCE_EXHAUSTED',
      message: 'Resource exhausted.',
      retryAfterMs: 1_500,
    });
  });

  it('falls back to the Retry-After header when the body has no RetryInfo', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    const err = apiError(503, { code: 503, status: 'UNAVAILABLE', message: 'try later' });
    expect(readGoogleError(err, { retryAfter: 'Mon, 07 Dec 2026 10:00:12 GMT' }, now)?.retryAfterMs).toBe(12_000);
    expect(readGoogleError(err)).not.toHaveProperty('retryAfterMs');
  });

  it('keeps a body that is not Google JSON as the message, and ignores a status that is not a code name', () => {
    expect(readGoogleError(new ApiError({ message: '<html>Bad Gateway</html>', status: 502 }))).toEqual({
      httpStatus: 502,
      statusText: '502',
      message: '<html>Bad Gateway</html>',
    });
    expect(readGoogleError(apiError(400, { status: 'bad status!', message: 'x' }))).toMatchObject({
      statusText: '400',
      message: 'x',
    });
  });

  it('is undefined for anything that is not an ApiError', () => {
    expect(readGoogleError(new TypeError('fetch failed'))).toBeUndefined();
    expect(readGoogleError('boom')).toBeUndefined();
  });
});

describe('redaction and descriptions', () => {
  const TOKEN = 'ya29.a0AfB_secret-token-value';
  const KEY = `AIza${'x'.repeat(35)}`;

  it('redacts Google tokens and keys, bearer headers and secret query parameters', () => {
    const text = `token ${TOKEN}; Authorization: Bearer abc.def-ghi; url https://x.test/v1?key=${KEY}&alt=json; raw ${KEY}`;
    const out = redactGoogleText(text);
    expect(out).not.toContain('secret-token-value');
    expect(out).not.toContain('abc.def-ghi');
    expect(out).not.toContain(KEY);
    expect(out).toContain('[REDACTED]');
    expect(redactGoogleText('Publisher Model gemini-3.8-flash was not found')).toBe(
      'Publisher Model gemini-3.8-flash was not found',
    );
  });

  it('redacts the message read from an error body', () => {
    const err = apiError(403, { status: 'PERMISSION_DENIED', message: `caller Bearer ${TOKEN} lacks access` });
    expect(readGoogleError(err)?.message).toBe('caller Bearer [REDACTED] lacks access');
  });

  it('clips to one line within the limit', () => {
    expect(clipGoogleText('a\n  b\tc')).toBe('a b c');
    const long = clipGoogleText('x'.repeat(500), 300);
    expect(long).toHaveLength(300);
    expect(long.endsWith('…')).toBe(true);
  });

  it('describes a Google error by status, and anything else by its cause chain, redacted', () => {
    expect(describeGoogleError(apiError(500, { status: 'INTERNAL', message: 'Internal error encountered.' }))).toBe(
      '500 INTERNAL: Internal error encountered.',
    );
    const fetchFailure = new TypeError('fetch failed', {
      cause: Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:9 (${TOKEN})`), { code: 'ECONNREFUSED' }),
    });
    expect(describeGoogleError(fetchFailure)).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:9 ([REDACTED])');
    // Another realm's error is not instanceof Error; its message is still read.
    expect(describeGoogleError({ message: 'outer', cause: { message: 'inner' } })).toBe('outer: inner');
    expect(describeGoogleError('plain')).toBe('plain');
  });
});
