import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Bucket, File, Storage } from '@google-cloud/storage';
import { assertValidKey, assertValidPrefix } from './keys';
import {
  assertRange,
  assertSignedUrlTtl,
  BlobNotFoundError,
  listLimit,
  TooManyBlobsError,
  type BlobListing,
  type BlobStore,
  type ByteRange,
  type ListOptions,
  type PutFileOptions,
  type PutOptions,
  type PutResult,
  type SignedUrlOptions,
} from './types';
import { contentDisposition, errorCode, hashFile, sha256Hex } from './util';

export interface GcsBlobStoreOptions {
  bucket: string;
  /** Injected client (tests, custom credentials); by default one from Application Default Credentials. */
  storage?: Storage;
  /** Uploads up to this size go in a single request (resumable:false); larger ones are resumable,
   *  so a dropped connection does not restart a multi-GB video. Default 8 MiB. */
  resumableThresholdBytes?: number;
}

const DEFAULT_RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
/** The JSON API's own maximum page size for objects.list. */
const LIST_PAGE_SIZE = 1000;
/** Bounds a deletePrefix run at 10 million objects: no job or tenant comes near, and a runaway loop
 *  (a server that keeps answering a page token) ends. */
const MAX_DELETE_PAGES = 10_000;
/** Concurrent object deletions within one page: GCS handles far more, this keeps sockets modest. */
const DELETE_CONCURRENCY = 16;
// Bucket naming rules (simplified): lowercase letters, digits, '-', '_', '.'; 3..222 chars.
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/** The @google-cloud/storage module costs ~25 MB of RSS, so it is only loaded when a GCS store is
 *  actually built without an injected client: services running on the local store never pay it. */
function loadStorageModule(): typeof import('@google-cloud/storage') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@google-cloud/storage') as typeof import('@google-cloud/storage');
}

/** A BlobStore on one Google Cloud Storage bucket. The SHA-256 of every object is kept in its
 *  custom metadata (`sha256`), since GCS itself only records MD5/CRC32C. */
export class GcsBlobStore implements BlobStore {
  readonly kind = 'gcs' as const;
  readonly bucketName: string;
  private readonly bucket: Bucket;
  private readonly resumableThreshold: number;

  constructor(opts: GcsBlobStoreOptions) {
    if (!BUCKET_NAME.test(opts.bucket)) throw new Error(`invalid GCS bucket name: ${JSON.stringify(opts.bucket)}`);
    const storage = opts.storage ?? new (loadStorageModule().Storage)();
    this.bucketName = opts.bucket;
    this.bucket = storage.bucket(opts.bucket);
    this.resumableThreshold = opts.resumableThresholdBytes ?? DEFAULT_RESUMABLE_THRESHOLD;
  }

  uri(key: string): string {
    assertValidKey(key);
    return `gs://${this.bucketName}/${key}`;
  }

  keyFromUri(uri: string): string {
    const prefix = `gs://${this.bucketName}/`;
    if (!uri.startsWith(prefix)) {
      throw new Error(`not a URI in bucket ${this.bucketName}: ${JSON.stringify(uri)}`);
    }
    const key = uri.slice(prefix.length);
    assertValidKey(key);
    return key;
  }

  async putFile(key: string, localPath: string, opts: PutFileOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    // One extra local read for the digest: the caller owns the file and must not change it during
    // the upload (the library's own MD5/CRC32C check covers the bytes in transit).
    const { sizeBytes, sha256 } = await hashFile(localPath);
    await this.bucket.upload(localPath, {
      destination: key,
      resumable: sizeBytes > this.resumableThreshold,
      metadata: objectMetadata(sha256, opts.contentType),
    });
    if (opts.move) await rm(localPath, { force: true });
    return { uri: this.uri(key), sizeBytes, sha256 };
  }

  async putBytes(key: string, data: Buffer, opts: PutOptions = {}): Promise<PutResult> {
    const sha256 = sha256Hex(data);
    await this.file(key).save(data, {
      resumable: data.length > this.resumableThreshold,
      metadata: objectMetadata(sha256, opts.contentType),
    });
    return { uri: this.uri(key), sizeBytes: data.length, sha256 };
  }

  async exists(key: string): Promise<boolean> {
    const [exists] = await this.file(key).exists();
    return exists;
  }

  async stat(key: string): Promise<{ sizeBytes: number } | null> {
    try {
      const [metadata] = await this.file(key).getMetadata();
      return { sizeBytes: Number(metadata.size ?? 0) };
    } catch (err) {
      if (errorCode(err) === 404) return null;
      throw err;
    }
  }

  async withLocalFile<T>(key: string, fn: (path: string) => Promise<T>): Promise<T> {
    const file = this.file(key);
    const dir = await mkdtemp(join(tmpdir(), 'aiprod-blob-'));
    try {
      // Keep the object's base name so tools that sniff the extension (ffprobe) still work.
      const path = join(dir, basename(key));
      try {
        await file.download({ destination: path });
      } catch (err) {
        if (errorCode(err) === 404) throw new BlobNotFoundError(key);
        throw err;
      }
      return await fn(path);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  createReadStream(key: string, range?: ByteRange): Readable {
    assertRange(range);
    const file = this.file(key);
    return file.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async signedUrl(key: string, opts: SignedUrlOptions): Promise<string> {
    const file = this.file(key);
    assertSignedUrlTtl(opts.expiresInSeconds);
    // Both instants from one whole-second clock reading, so X-Goog-Expires is exactly the TTL asked for.
    const nowSeconds = Math.floor(Date.now() / 1000);
    const [url] = await file.getSignedUrl({
      version: 'v4',
      action: 'read',
      accessibleAt: nowSeconds * 1000,
      expires: (nowSeconds + opts.expiresInSeconds) * 1000,
      ...(opts.filename !== undefined || opts.download
        ? { responseDisposition: contentDisposition(opts.download ? 'attachment' : 'inline', opts.filename) }
        : {}),
    });
    return url;
  }

  async delete(key: string): Promise<void> {
    await this.file(key).delete({ ignoreNotFound: true });
  }

  async list(prefix: string, opts?: ListOptions): Promise<BlobListing[]> {
    assertValidPrefix(prefix);
    const limit = listLimit(opts);
    const found: BlobListing[] = [];
    let pageToken: string | undefined;
    do {
      // One more than the limit, so "exactly limit" and "more than limit" can be told apart.
      const page = await this.listPage(prefix, Math.min(LIST_PAGE_SIZE, limit + 1 - found.length), pageToken);
      found.push(...page.items);
      if (found.length > limit) throw new TooManyBlobsError(prefix, limit);
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    return found;
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertValidPrefix(prefix);
    let deleted = 0;
    let pageToken: string | undefined;
    for (let pages = 0; pages < MAX_DELETE_PAGES; pages++) {
      // Page tokens are positions in key order, so deleting a page does not disturb the next one.
      const page = await this.listPage(prefix, LIST_PAGE_SIZE, pageToken);
      for (let i = 0; i < page.items.length; i += DELETE_CONCURRENCY) {
        const gone = await Promise.all(
          page.items.slice(i, i + DELETE_CONCURRENCY).map((o) => this.deleteCounted(o.key)),
        );
        deleted += gone.filter(Boolean).length;
      }
      pageToken = page.nextPageToken;
      if (pageToken === undefined) return deleted;
    }
    throw new Error(`deletePrefix(${JSON.stringify(prefix)}) stopped after ${MAX_DELETE_PAGES} pages`);
  }

  /** true when this call removed the object, false when it was already gone (a concurrent delete). */
  private async deleteCounted(key: string): Promise<boolean> {
    try {
      await this.file(key).delete();
      return true;
    } catch (err) {
      if (errorCode(err) === 404) return false;
      throw err;
    }
  }

  private async listPage(
    prefix: string,
    maxResults: number,
    pageToken: string | undefined,
  ): Promise<{ items: BlobListing[]; nextPageToken?: string }> {
    const [files, next] = await this.bucket.getFiles({
      prefix,
      autoPaginate: false,
      maxResults,
      ...(pageToken === undefined ? {} : { pageToken }),
    });
    const items = files.map((f) => ({
      key: f.name,
      sizeBytes: Number(f.metadata.size ?? 0),
      updatedAt: new Date(String(f.metadata.updated ?? f.metadata.timeCreated ?? 0)),
    }));
    const nextPageToken = (next as { pageToken?: unknown } | null | undefined)?.pageToken;
    return typeof nextPageToken === 'string' && nextPageToken !== '' ? { items, nextPageToken } : { items };
  }

  private file(key: string): File {
    assertValidKey(key);
    return this.bucket.file(key);
  }
}

function objectMetadata(
  sha256: string,
  contentType: string | undefined,
): { contentType?: string; metadata: { sha256: string } } {
  return contentType === undefined ? { metadata: { sha256 } } : { contentType, metadata: { sha256 } };
}
