import type { Readable } from 'node:stream';

export interface PutOptions {
  contentType?: string;
}

export interface PutFileOptions extends PutOptions {
  /** The caller hands the file over: the local store renames it into place instead of copying,
   *  the GCS store deletes it after a successful upload. Either way it is gone afterwards. */
  move?: boolean;
}

export interface PutResult {
  uri: string;
  sizeBytes: number;
  /** Lowercase hex SHA-256 of the stored bytes. */
  sha256: string;
}

/** Inclusive byte range, as in HTTP `Range: bytes=start-end` and fs.createReadStream. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface SignedUrlOptions {
  /** 1..604800 (7 days, the GCS V4 maximum; the local store applies the same bound). */
  expiresInSeconds: number;
  /** Suggested file name (Content-Disposition's filename). */
  filename?: string;
  /** Content-Disposition: attachment (save the file) instead of inline (a browser shows or plays it). */
  download?: boolean;
}

export interface BlobStore {
  readonly kind: 'local' | 'gcs';
  /** 'local://<key>' or 'gs://<bucket>/<key>'. */
  uri(key: string): string;
  /** Inverse of uri(); throws on a foreign scheme or bucket, or an invalid key. */
  keyFromUri(uri: string): string;
  putFile(key: string, localPath: string, opts?: PutFileOptions): Promise<PutResult>;
  putBytes(key: string, data: Buffer, opts?: PutOptions): Promise<PutResult>;
  exists(key: string): Promise<boolean>;
  /** null when there is no object under `key`. */
  stat(key: string): Promise<{ sizeBytes: number } | null>;
  /** Gives fn a local file path holding the object; the local store passes its own file (no copy,
   *  so fn must not modify or delete it), GCS downloads to a temp file and deletes it after fn
   *  settles. Rejects with BlobNotFoundError when there is no such object. */
  withLocalFile<T>(key: string, fn: (path: string) => Promise<T>): Promise<T>;
  /** Errors (including a missing object) are emitted on the stream. */
  createReadStream(key: string, range?: ByteRange): Readable;
  signedUrl(key: string, opts: SignedUrlOptions): Promise<string>;
  /** Idempotent: deleting a missing object succeeds. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix` (a folder: a valid key followed by '/'), in key
   *  order. Throws TooManyBlobsError when more than `limit` (default 10_000) exist, rather than
   *  handing back a silently truncated list. */
  list(prefix: string, opts?: ListOptions): Promise<BlobListing[]>;
  /** Deletes every object under the folder `prefix` and returns how many it deleted. Idempotent
   *  (an empty or missing folder answers 0); the local store also removes the emptied folders. */
  deletePrefix(prefix: string): Promise<number>;
}

export interface ListOptions {
  /** At most this many objects (a positive integer); default DEFAULT_LIST_LIMIT. */
  limit?: number;
}

export interface BlobListing {
  key: string;
  sizeBytes: number;
  updatedAt: Date;
}

export const DEFAULT_LIST_LIMIT = 10_000;

export class TooManyBlobsError extends Error {
  override readonly name = 'TooManyBlobsError';
  constructor(
    readonly prefix: string,
    readonly limit: number,
  ) {
    super(`more than ${limit} objects under ${JSON.stringify(prefix)}`);
  }
}

/** Returns the limit to apply, or throws RangeError. */
export function listLimit(opts: ListOptions | undefined): number {
  const limit = opts?.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`list limit must be a positive integer, got ${String(limit)}`);
  return limit;
}

export class BlobNotFoundError extends Error {
  override readonly name = 'BlobNotFoundError';
  constructor(readonly key: string) {
    super(`blob not found: ${JSON.stringify(key)}`);
  }
}

/** Same bound for both stores so a URL lifetime that works locally also works on GCS. */
export const MAX_SIGNED_URL_SECONDS = 7 * 24 * 60 * 60;

export function assertSignedUrlTtl(expiresInSeconds: number): void {
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_SIGNED_URL_SECONDS) {
    throw new RangeError(
      `expiresInSeconds must be an integer in 1..${MAX_SIGNED_URL_SECONDS}, got ${String(expiresInSeconds)}`,
    );
  }
}

export function assertRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${String(start)}-${String(end)} (inclusive, 0 <= start <= end)`);
  }
}
