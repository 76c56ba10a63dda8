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

/** Throws InvalidBlobKeyError unless `prefix` names a folder: a valid key followed by one '/'. The
 *  empty prefix (the whole store) is refused on purpose, so no list or bulk delete can reach every
 *  tenant at once by mistake. */
export function assertValidPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !prefix.endsWith('/')) {
    throw new InvalidBlobKeyError(prefix, "a prefix must be a folder ending in '/'");
  }
  const problem = keyProblem(prefix.slice(0, -1));
  if (problem !== null) throw new InvalidBlobKeyError(prefix, `a prefix ${problem}`);
}

/** Throws InvalidBlobKeyError unless `key` is a valid object key. */
export function assertValidKey(key: unknown): asserts key is string {
  const problem = keyProblem(key);
  if (problem !== null) throw new InvalidBlobKeyError(key, problem);
}

/**
 * The layout of a job's objects, written only here: every service and test builds its keys with
 * these functions, so the layout can change in one place.
 *
 *   tenants/<tenant>/jobs/<job>/shots/<shot>/attempt-<n>.mp4   a rendered shot attempt
 *   tenants/<tenant>/jobs/<job>/shots/<shot>/attempt-<n>-qa/   QA's evidence frames of it
 *   tenants/<tenant>/jobs/<job>/outputs/                       what the job delivers
 *   tenants/<tenant>/jobs/<job>/outputs/final-<variant>.mp4    the final cut of one aspect variant
 *   tenants/<tenant>/jobs/<job>/previews/plan-v<n>.mp4         the free preview of plan version n
 *   tenants/<tenant>/jobs/<job>/references/ref-<n>.<ext>      the brief's reference image n, as fetched
 *   tenants/<tenant>/assets/<asset>                            an image the tenant uploaded
 */
export interface JobRef {
  tenantId: string;
  jobId: string;
}
export interface ShotAttemptRef extends JobRef {
  shotId: string;
  attempt: number;
}

/** One id inside a key: a slash would silently move the object into another job's layout. */
function segment(what: string, value: string | number): string {
  const text = String(value);
  if (text.includes('/')) throw new InvalidBlobKeyError(text, `${what} must not contain a slash`);
  return text;
}

function checked(key: string): string {
  assertValidKey(key);
  return key;
}

const jobBase = (job: JobRef) => `tenants/${segment('tenant id', job.tenantId)}/jobs/${segment('job id', job.jobId)}`;
const attemptPrefix = (a: ShotAttemptRef) =>
  `${jobBase(a)}/shots/${segment('shot id', a.shotId)}/attempt-${segment('attempt', a.attempt)}`;

/** Where a shot attempt's rendered clip is stored. */
export const shotClipKey = (a: ShotAttemptRef): string => checked(`${attemptPrefix(a)}.mp4`);

/** The folder of QA's evidence frames for a shot attempt (no trailing slash). */
export const qaEvidencePrefix = (a: ShotAttemptRef): string => checked(`${attemptPrefix(a)}-qa`);

/** The folder of what a job delivers: final cuts, poster frame, contact sheet (no trailing slash). */
export const outputsPrefix = (job: JobRef): string => checked(`${jobBase(job)}/outputs`);

/** The final cut of one aspect-ratio variant, e.g. `9x16`. */
export const finalCutKey = (job: JobRef, variant: string): string =>
  checked(`${outputsPrefix(job)}/final-${segment('variant', variant)}.mp4`);

/** A final cut's captions, beside it: `final-<variant>.vtt` or `.srt`. */
export const captionsKey = (job: JobRef, variant: string, format: 'vtt' | 'srt'): string =>
  checked(`${outputsPrefix(job)}/final-${segment('variant', variant)}.${format}`);

/** One language's voice-over alone (the whole cut's length), beside its videos. */
export const voiceTrackKey = (job: JobRef, language: string): string =>
  checked(`${outputsPrefix(job)}/voice-${segment('language', language)}.wav`);

export interface PlanVersionRef extends JobRef {
  planVersion: number;
}

/** The free preview of one plan version: apart from the outputs, so it can never pass for a delivery. */
export const previewKey = (p: PlanVersionRef): string => {
  if (!Number.isSafeInteger(p.planVersion) || p.planVersion < 1)
    throw new InvalidBlobKeyError(String(p.planVersion), 'plan version must be a positive integer');
  return checked(`${jobBase(p)}/previews/plan-v${p.planVersion}.mp4`);
};

/** A brief reference image stored with the job (`ref-<n>`, by brief order), as the planner fetched or copied it. */
export const jobReferenceKey = (job: JobRef, referenceId: string, extension: string): string =>
  checked(`${jobBase(job)}/references/${segment('reference id', referenceId)}.${segment('extension', extension)}`);

/** An image a tenant uploaded (POST /v1/assets): outside any job, so several jobs can name it. */
export const tenantAssetKey = (tenantId: string, assetId: string): string =>
  checked(`tenants/${segment('tenant id', tenantId)}/assets/${segment('asset id', assetId)}`);

/**
 * The folders of one job's objects, with their trailing slash (ready for list/deletePrefix), by
 * what retention does with them: the job's own files, and of those, the delivered ones and the
 * three kinds of working copy.
 */
export const jobFolders = (job: JobRef) => {
  const root = `${jobBase(job)}/`;
  return {
    root,
    outputs: `${outputsPrefix(job)}/`,
    /** Shot attempt clips and QA's evidence frames beside them. */
    shots: `${root}shots/`,
    /** The brief's reference images and the client's music, as stored with the job. */
    references: `${root}references/`,
    previews: `${root}previews/`,
  };
};

/** The folder holding everything of one job (with the trailing '/', ready for list/deletePrefix). */
export const jobPrefix = (job: JobRef): string => {
  const prefix = `${jobBase(job)}/`;
  assertValidPrefix(prefix);
  return prefix;
};

/** The folder holding everything of one tenant: its jobs and its uploaded assets. */
export const tenantPrefix = (tenantId: string): string => {
  const prefix = `tenants/${segment('tenant id', tenantId)}/`;
  assertValidPrefix(prefix);
  return prefix;
};
