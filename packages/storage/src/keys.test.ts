import { assertValidKey, InvalidBlobKeyError, isValidKey, MAX_KEY_BYTES } from './keys';

describe('blob keys', () => {
  it.each([
    'tenants/t1/jobs/j1/shots/s01/attempt-1.mp4',
    'a',
    'a/b c/ü.mp4',
    '.hidden/x', // a dot-prefixed name is fine; only "." and ".." segments are special
    'x..y/..z',
  ])('accepts %j', (key) => {
    expect(isValidKey(key)).toBe(true);
    expect(() => assertValidKey(key)).not.toThrow();
  });

  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'leading slash'],
    ['../secret', 'parent segment at start'],
    ['a/../../b', 'parent segment inside'],
    ['a/..', 'parent segment at end'],
    ['a/./b', 'dot segment'],
    ['a\\..\\b', 'backslash'],
    ['a/b\u0000.mp4', 'NUL'],
    ['a/b\n.mp4', 'newline'],
    ['a//b', 'double slash'],
    ['a/b/', 'trailing slash'],
    ['x'.repeat(MAX_KEY_BYTES + 1), 'too long'],
  ])('rejects %j (%s)', (key) => {
    expect(isValidKey(key)).toBe(false);
    expect(() => assertValidKey(key)).toThrow(InvalidBlobKeyError);
  });

  it('rejects non-strings with a clear message', () => {
    expect(() => assertValidKey(42)).toThrow(/invalid blob key <number>: must be a string/);
  });

  it('counts the limit in UTF-8 bytes, as GCS does', () => {
    expect(isValidKey('é'.repeat(MAX_KEY_BYTES / 2))).toBe(true);
    expect(isValidKey('é'.repeat(MAX_KEY_BYTES / 2 + 1))).toBe(false);
  });
});
