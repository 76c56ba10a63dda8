import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** Prefix of every webhook secret (Standard Webhooks / Svix convention). */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Bytes of key material in a secret we generate (the spec allows 24–64). */
export const WEBHOOK_SECRET_BYTES = 32;
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
/** Default window for `webhook-timestamp`, either side of now (the spec's recommendation). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

export type VerifyFailureReason = 'missing_headers' | 'bad_signature' | 'timestamp_too_old' | 'timestamp_in_future';
export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailureReason };

/** Incoming headers as Node (`IncomingHttpHeaders`), fetch (`Headers`) or a plain object give them. */
export type IncomingWebhookHeaders = Headers | Record<string, string | string[] | undefined>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MESSAGE_ID = /^[\x21-\x7e]{1,256}$/;

/** A fresh `whsec_<base64 of 32 random bytes>` secret. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(WEBHOOK_SECRET_BYTES).toString('base64');
}

/** Throws unless `secret` is `whsec_` + canonical base64 of 24–64 bytes. Never echoes the secret. */
export function assertValidWebhookSecret(secret: string): void {
  if (typeof secret !== 'string' || !secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    throw new TypeError(`webhook secret must start with "${WEBHOOK_SECRET_PREFIX}"`);
  }
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (!BASE64.test(encoded)) throw new TypeError('webhook secret is not valid base64');
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw new TypeError(`webhook secret must hold ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes, not ${bytes}`);
  }
}

function bodyText(body: string | Buffer): string {
  return typeof body === 'string' ? body : body.toString('utf8');
}

/** `v1,<base64>` for one secret, computed by the `standardwebhooks` reference library. */
function signatureFor(secret: string, id: string, timestamp: number, body: string): string {
  assertValidWebhookSecret(secret);
  return new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
}

/**
 * The three Standard Webhooks headers for one delivery attempt. `timestamp` is unix seconds;
 * `secrets` are every currently valid secret of the endpoint (two during a rotation's overlap),
 * each contributing one `v1,…` entry to `webhook-signature`. The body must be the exact bytes sent
 * (UTF-8; a Buffer is decoded as UTF-8).
 */
export function signWebhook(input: {
  id: string;
  timestamp: number;
  body: string | Buffer;
  secrets: string[];
}): WebhookHeaders {
  const { id, timestamp, secrets } = input;
  if (!MESSAGE_ID.test(id)) throw new TypeError('webhook id must be 1-256 visible ASCII characters');
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TypeError('webhook timestamp must be a non-negative integer (unix seconds)');
  }
  if (secrets.length === 0) throw new TypeError('at least one webhook secret is required');
  const body = bodyText(input.body);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((secret) => signatureFor(secret, id, timestamp, body)).join(' '),
  };
}

function header(headers: IncomingWebhookHeaders, name: string): string | undefined {
  if (typeof Headers !== 'undefined' && headers instanceof Headers) return headers.get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() !== name) continue;
    const value = record[key];
    return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}

/**
 * Checks a received webhook against one secret. `now` is a Date or unix seconds (default: the clock).
 * Missing or malformed headers give `missing_headers`; the timestamp is checked before the signature;
 * any one matching `v1` entry in `webhook-signature` is enough; comparisons are constant-time.
 */
export function verifyWebhook(input: {
  headers: IncomingWebhookHeaders;
  body: string | Buffer;
  secret: string;
  toleranceSeconds?: number;
  now?: Date | number;
}): VerifyResult {
  const { headers, secret, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS } = input;
  assertValidWebhookSecret(secret);
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures || !/^\d{1,15}$/.test(timestampText)) {
    return { ok: false, reason: 'missing_headers' };
  }
  const timestamp = Number(timestampText);
  const now =
    input.now === undefined
      ? Math.floor(Date.now() / 1000)
      : input.now instanceof Date
        ? Math.floor(input.now.getTime() / 1000)
        : Math.floor(input.now);
  if (now - timestamp > toleranceSeconds) return { ok: false, reason: 'timestamp_too_old' };
  if (timestamp - now > toleranceSeconds) return { ok: false, reason: 'timestamp_in_future' };

  const expected = Buffer.from(signatureFor(secret, id, timestamp, bodyText(input.body)).slice('v1,'.length));
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const candidate = Buffer.from(entry.slice(comma + 1));
    // Length is public (always 44 for HMAC-SHA256); the content comparison is constant-time.
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
  }
  return matched ? { ok: true } : { ok: false, reason: 'bad_signature' };
}
