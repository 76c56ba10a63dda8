/** Object keys are relative, slash-separated paths such as
 *  `tenants/t1/jobs/j1/shots/s01/attempt-1.mp4`. The same rules apply to both stores so that a key
 *  accepted locally is accepted on GCS and vice versa, and so that a key can never name a file
 *  outside the local root (path traversal) however it is later joined or decoded. */

/** GCS's own limit on object names (UTF-8 bytes); enforced locally too so both stores agree. */
export const MAX_KEY_BYTES = 1024;

export class InvalidBlobKeyError extends Error {
  override readonly name = 'InvalidBlobKeyError';
  constructor(
    readonly key: unknown,
    readonly reason: string,
  ) {
    // The key is quoted with JSON.stringify so that control characters are visible, not acted on.
    super(`invalid blob key ${safeQuote(key)}: ${reason}`);
  }
}

function safeQuote(key: unknown): string {
  if (typeof key !== 'string') return `<${typeof key}>`;
  return JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…` : key);
}

/** Returns why `key` is not a valid object key, or null when it is. */
export function keyProblem(key: unknown): string | null {
  if (typeof key !== 'string') return 'must be a string';
  if (key.length === 0) return 'must not be empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `must be at most ${MAX_KEY_BYTES} bytes`;
  // NUL truncates paths in C APIs; CR/LF and other controls are refused by GCS and poison logs.
  if (hasControlCharacter(key)) return 'must not contain NUL or control characters';
  // A backslash is a separator on Windows and a classic way to smuggle `..\` past a `/` split.
  if (key.includes('\\')) return 'must not contain a backslash';
  if (key.startsWith('/')) return 'must be relative (no leading slash)';
  for (const segment of key.split('/')) {
    if (segment === '') return 'must not contain empty segments (leading, trailing or double slash)';
    if (segment === '.' || segment === '..') return 'must not contain "." or ".." segments';
  }
  return null;
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

export function isValidKey(key: unknown): key is string {
  return keyProblem(key) === null;
}

/** Throws InvalidBlobKeyError unless `key` is a valid object key. */
export function assertValidKey(key: unknown): asserts key is string {
  const problem = keyProblem(key);
  if (problem !== null) throw new InvalidBlobKeyError(key, problem);
}
