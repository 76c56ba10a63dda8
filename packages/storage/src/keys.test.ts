import {
  assertValidKey,
  finalCutKey,
  previewKey,
  InvalidBlobKeyError,
  isValidKey,
  keyProblem,
  MAX_KEY_BYTES,
  outputsPrefix,
  qaEvidencePrefix,
  shotClipKey,
  jobReferenceKey,
  tenantAssetKey,
} from './keys';

describe('blob keys', () => {
  it.each([
    shotClipKey({ tenantId: 't1', jobId: 'j1', shotId: 's01', attempt: 1 }),
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

describe('the object-key layout', () => {
  const attempt = { tenantId: 't1', jobId: 'j1', shotId: 's01', attempt: 2 };

  it('puts a shot attempt, its QA evidence and the outputs where the layout says', () => {
    expect(shotClipKey(attempt)).toBe('tenants/t1/jobs/j1/shots/s01/attempt-2.mp4');
    expect(qaEvidencePrefix(attempt)).toBe('tenants/t1/jobs/j1/shots/s01/attempt-2-qa');
    expect(outputsPrefix(attempt)).toBe('tenants/t1/jobs/j1/outputs');
    expect(finalCutKey(attempt, '9x16')).toBe('tenants/t1/jobs/j1/outputs/final-9x16.mp4');
    expect(previewKey({ ...attempt, planVersion: 3 })).toBe('tenants/t1/jobs/j1/previews/plan-v3.mp4');
    expect(jobReferenceKey(attempt, 'ref-2', 'webp')).toBe('tenants/t1/jobs/j1/references/ref-2.webp');
    expect(tenantAssetKey('t1', 'asset_0a')).toBe('tenants/t1/assets/asset_0a');
  });

  it('keeps every key it builds valid for both stores', () => {
    for (const key of [shotClipKey(attempt), qaEvidencePrefix(attempt), finalCutKey(attempt, '16x9')]) {
      expect(keyProblem(key)).toBeNull();
    }
  });

  it.each([
    [() => shotClipKey({ ...attempt, tenantId: 't1/jobs/j9' }), /tenant id must not contain a slash/],
    [() => qaEvidencePrefix({ ...attempt, shotId: '../s02' }), /shot id must not contain a slash/],
    [() => outputsPrefix({ tenantId: 't1', jobId: '..' }), /must not contain "\." or "\.\." segments/],
    [() => finalCutKey(attempt, '9:16/x'), /variant must not contain a slash/],
    [() => jobReferenceKey(attempt, '../ref-1', 'png'), /reference id must not contain a slash/],
    [() => tenantAssetKey('t2', 'a/../../t1'), /asset id must not contain a slash/],
    [() => outputsPrefix({ tenantId: '', jobId: 'j1' }), /empty segments/],
    [() => previewKey({ ...attempt, planVersion: 0 }), /plan version must be a positive integer/],
    [() => previewKey({ ...attempt, planVersion: 1.5 }), /plan version must be a positive integer/],
  ])('refuses an id that would leave the job layout (%#)', (build, reason) => {
    expect(build).toThrow(InvalidBlobKeyError);
    expect(build).toThrow(reason);
  });
});
