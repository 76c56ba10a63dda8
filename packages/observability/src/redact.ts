/** Redaction of secrets from anything that is about to be logged. Two complementary nets:
 *  values under sensitive-looking keys are replaced whole (at any depth), and every string is
 *  scanned for secret-shaped substrings (tokens, keys, signed URLs, PEM blocks), because secrets
 *  also leak inside free text: error messages, URLs, stringified request bodies.
 *
 *  `redact` returns a JSON-safe deep copy (no cycles, no BigInt, errors as plain objects) and
 *  never throws, so the logger can stringify its result without further care. */

export const REDACTED = '[REDACTED]';

/** Depth past which objects are not walked: deep structures in logs are a bug, not data. */
const MAX_DEPTH = 12;

/** Matched against the key lower-cased with `-`, `_`, `.` and spaces removed, as a suffix, so that
 *  `x-api-key`, `clientSecret`, `refresh_token` and `set-cookie` match while `maxTokens`,
 *  `apiKeyId` and a blob `key` do not. */
const SENSITIVE_KEY =
  /(authorization|apikey|token|secrets?|secretkey|password|passwd|passphrase|signingkey|privatekey|cookies?)$/;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key.toLowerCase().replace(/[-_.\s]/g, ''));
}

/** Query parameters whose presence makes a whole query string secret (signed URLs, API keys). */
const SENSITIVE_QUERY_PARAMS = new Set([
  'sig',
  'signature',
  'x-goog-signature',
  'x-goog-credential',
  'token',
  'key',
  'api_key',
  'apikey',
  'access_token',
  'id_token',
  'refresh_token',
  'client_secret',
  'password',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
]);

function querySecret(query: string): boolean {
  for (const pair of query.split('&')) {
    const name = pair.split('=', 1)[0] ?? '';
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // keep the raw name
    }
    if (SENSITIVE_QUERY_PARAMS.has(decoded.toLowerCase())) return true;
  }
  return false;
}

/** [pattern, replacement] applied in order to every string. Order matters: whole PEM blocks first
 *  (they contain base64 that other rules would partly eat), generic `name=value` last. */
const STRING_RULES: ReadonlyArray<readonly [RegExp, string | ((match: string, ...groups: string[]) => string)]> = [
  // PEM private keys, including a block truncated before its END line.
  [/-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)/g, '[REDACTED PRIVATE KEY]'],
  // Passwords in URL userinfo: scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]+):[^\s@/?#]+@/gi, `$1:${REDACTED}@`],
  // A query string carrying a signature, credential, token or key: the whole query goes.
  [/\?([^\s"'<>`#]*)/g, (match: string, query: string) => (querySecret(query) ? `?${REDACTED}` : match)],
  // Authorization: Bearer <token>
  [/\bBearer\s+[A-Za-z0-9\-._~+/]+=*/gi, `Bearer ${REDACTED}`],
  // JWTs (header.payload.signature, the header being base64url JSON, hence "eyJ").
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[REDACTED JWT]'],
  // Our API keys: aiprod_<env>_<base62>; the environment is kept, it helps debugging and is not secret.
  [/aiprod_([a-z]+)_[A-Za-z0-9]{20,}/g, `aiprod_$1_${REDACTED}`],
  // Webhook signing secrets.
  [/whsec_[A-Za-z0-9+/=_-]+/g, `whsec_${REDACTED}`],
  // "Authorization: <scheme> <credentials>" in dumped headers: the scheme goes too, since with
  // Basic (or an unknown scheme) the credentials are the word after it.
  [/\b(authorization)(["']?\s*[:=]\s*["']?)(?:[A-Za-z]+\s+)?[^\s"',;&}]+/gi, `$1$2${REDACTED}`],
  // name=value / "name": "value" for secret-ish names inside free text or serialized bodies.
  [
    /\b(password|passwd|secret|client_secret|api[_-]?key|access_token|refresh_token|token)(["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi,
    `$1$2${REDACTED}`,
  ],
];

export function redactString(input: string): string {
  let out = input;
  for (const [pattern, replacement] of STRING_RULES) {
    // Both overloads of replace accept our union; the cast only picks one for the type checker.
    out = out.replace(pattern, replacement as string);
  }
  return out;
}

/** Returns a redacted, JSON-safe deep copy of `value`. Never throws. */
export function redact(value: unknown): unknown {
  try {
    return walk(value, new Set<object>(), 0);
  } catch {
    return '[Unloggable]';
  }
}

function walk(value: unknown, ancestors: Set<object>, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return redactString(value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return value.toString();
    case 'symbol':
      return value.toString();
    case 'function':
      return `[Function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return null;
  const obj = value as object;
  // Only ancestors count as cycles: the same object reached twice by different paths is fine.
  if (ancestors.has(obj)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  // Raw bytes are never dumped: they can be key material, and they are useless in a log line.
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[Binary ${obj.byteLength} bytes]`;
  if (obj instanceof URL) return redactString(obj.href);
  ancestors.add(obj);
  try {
    if (obj instanceof Error) return walkError(obj, ancestors, depth);
    if (Array.isArray(obj)) return obj.map((item) => walk(item, ancestors, depth + 1));
    if (obj instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of obj) out[String(k)] = walkEntry(String(k), v, ancestors, depth);
      return out;
    }
    if (obj instanceof Set) return [...obj].map((item) => walk(item, ancestors, depth + 1));
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walk(toJSON.call(obj), ancestors, depth + 1);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj)) out[k] = walkEntry(k, readProperty(obj, k), ancestors, depth);
    return out;
  } finally {
    ancestors.delete(obj);
  }
}

function walkEntry(key: string, value: unknown, ancestors: Set<object>, depth: number): unknown {
  // null/undefined are kept: "no authorization header" is useful and reveals nothing.
  if (isSensitiveKey(key)) return value === null || value === undefined ? value : REDACTED;
  return walk(value, ancestors, depth + 1);
}

/** A getter may throw; one bad property must not cost the whole log line. */
function readProperty(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return '[Unreadable]';
  }
}

/** Errors keep name, message and stack (which are not enumerable, so JSON would drop them),
 *  plus their own enumerable fields (code, status…) and cause, all redacted. */
function walkError(err: Error, ancestors: Set<object>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: String(readProperty(err, 'name')),
    message: redactString(String(readProperty(err, 'message'))),
  };
  const stack = readProperty(err, 'stack');
  if (typeof stack === 'string') out.stack = redactString(stack);
  for (const k of Object.keys(err)) {
    if (!(k in out)) out[k] = walkEntry(k, readProperty(err, k), ancestors, depth);
  }
  const cause = readProperty(err, 'cause');
  if (cause !== undefined) out.cause = walk(cause, ancestors, depth + 1);
  const errors = readProperty(err, 'errors'); // AggregateError
  if (Array.isArray(errors) && !('errors' in out)) out.errors = walk(errors, ancestors, depth + 1);
  return out;
}
