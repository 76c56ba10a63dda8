import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidKey, assertValidPrefix, isValidKey } from './keys';
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
import { errorCode, hashFile, sha256Hex } from './util';

export interface LocalBlobStoreOptions {
  /** Directory holding the objects; created on first write. */
  rootDir: string;
  /** Where the gateway serves `/files/*`, e.g. `http://localhost:8080`. */
  publicBaseUrl: string;
  /** HMAC key for signed URLs; at least 16 bytes. */
  signingKey: Buffer;
}

const LOCAL_SCHEME = 'local://';
const MIN_SIGNING_KEY_BYTES = 16;
const FILES_PREFIX = '/files/';

/** A BlobStore on the local filesystem, for development and tests. Signed URLs point at the
 *  gateway's `/files/*` route, which checks them with verifyLocalSignature. */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  private readonly rootDir: string;
  private readonly publicBaseUrl: string;
  private readonly signingKey: Buffer;

  constructor(opts: LocalBlobStoreOptions) {
    if (!Buffer.isBuffer(opts.signingKey) || opts.signingKey.length < MIN_SIGNING_KEY_BYTES) {
      throw new Error(`LocalBlobStore signingKey must be a Buffer of at least ${MIN_SIGNING_KEY_BYTES} bytes`);
    }
    const base = new URL(opts.publicBaseUrl); // throws on a malformed URL, early rather than per link
    if (base.search || base.hash) throw new Error('LocalBlobStore publicBaseUrl must not have a query or fragment');
    this.rootDir = resolve(opts.rootDir);
    this.publicBaseUrl = opts.publicBaseUrl.replace(/\/+$/, '');
    this.signingKey = Buffer.from(opts.signingKey); // own copy: later mutation by the caller cannot change it
  }

  uri(key: string): string {
    assertValidKey(key);
    return `${LOCAL_SCHEME}${key}`;
  }

  keyFromUri(uri: string): string {
    if (!uri.startsWith(LOCAL_SCHEME)) throw new Error(`not a local:// URI: ${JSON.stringify(uri)}`);
    const key = uri.slice(LOCAL_SCHEME.length);
    assertValidKey(key);
    return key;
  }

  /** Absolute path of the file that holds `key` (it may not exist). Useful to serve it directly. */
  pathFor(key: string): string {
    assertValidKey(key);
    const path = join(this.rootDir, ...key.split('/'));
    // Defence in depth: assertValidKey already rules out traversal, this makes it structural.
    if (!path.startsWith(this.rootDir + sep)) throw new Error(`key escapes the store root: ${JSON.stringify(key)}`);
    return path;
  }

  async putFile(key: string, localPath: string, opts: PutFileOptions = {}): Promise<PutResult> {
    const dest = this.pathFor(key);
    await mkdir(dirname(dest), { recursive: true });
    if (opts.move) {
      const { sizeBytes, sha256 } = await hashFile(localPath);
      await fsyncPath(localPath);
      try {
        await rename(localPath, dest); // atomic: readers see the old object or the whole new one
      } catch (err) {
        if (errorCode(err) !== 'EXDEV') throw err;
        // Different filesystem: fall back to an atomic copy, then drop the source.
        await writeAtomically(dest, (tmp) => copyFile(localPath, tmp));
        await unlink(localPath);
      }
      await fsyncDir(dirname(dest));
      return { uri: this.uri(key), sizeBytes, sha256 };
    }
    // Hash while copying so the digest describes exactly the bytes written, even if the
    // source is being changed underneath us.
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        sizeBytes += chunk.length;
        done(null, chunk);
      },
    });
    await writeAtomically(dest, (tmp) =>
      pipeline(createReadStream(localPath), tap, createWriteStream(tmp, { flags: 'wx' })),
    );
    return { uri: this.uri(key), sizeBytes, sha256: hash.digest('hex') };
  }

  async putBytes(key: string, data: Buffer, _opts: PutOptions = {}): Promise<PutResult> {
    // contentType is not stored locally: the gateway infers it from the key's extension.
    const dest = this.pathFor(key);
    await mkdir(dirname(dest), { recursive: true });
    await writeAtomically(dest, async (tmp) => {
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
    });
    return { uri: this.uri(key), sizeBytes: data.length, sha256: sha256Hex(data) };
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async stat(key: string): Promise<{ sizeBytes: number } | null> {
    const path = this.pathFor(key);
    try {
      const st = await stat(path);
      // A directory is a key prefix, not an object (GCS has no directories).
      return st.isFile() ? { sizeBytes: st.size } : null;
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw err;
    }
  }

  async withLocalFile<T>(key: string, fn: (path: string) => Promise<T>): Promise<T> {
    const path = this.pathFor(key);
    if ((await this.stat(key)) === null) throw new BlobNotFoundError(key);
    return fn(path);
  }

  createReadStream(key: string, range?: ByteRange): Readable {
    assertRange(range);
    const path = this.pathFor(key);
    return createReadStream(path, range ? { start: range.start, end: range.end } : undefined);
  }

  async signedUrl(key: string, opts: SignedUrlOptions): Promise<string> {
    assertValidKey(key);
    assertSignedUrlTtl(opts.expiresInSeconds);
    const expires = Math.floor(Date.now() / 1000) + opts.expiresInSeconds;
    const download = opts.download === true;
    const sig = localSignature(this.signingKey, key, expires, opts.filename, download);
    const query = new URLSearchParams({ expires: String(expires), sig });
    if (opts.filename !== undefined) query.set('filename', opts.filename);
    if (download) query.set('download', '1');
    return `${this.publicBaseUrl}${FILES_PREFIX}${encodeKeyPath(key)}?${query.toString()}`;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathFor(key), { force: true });
  }

  async list(prefix: string, opts?: ListOptions): Promise<BlobListing[]> {
    assertValidPrefix(prefix);
    const limit = listLimit(opts);
    const found = await this.walk(prefix, limit + 1);
    if (found.length > limit) throw new TooManyBlobsError(prefix, limit);
    return found;
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertValidPrefix(prefix);
    let deleted = 0;
    for (const object of await this.walk(prefix, Number.POSITIVE_INFINITY)) {
      try {
        await unlink(this.pathFor(object.key));
        deleted += 1;
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err; // deleted meanwhile by someone else
      }
    }
    // The folder itself, with any write still in flight (its temp file) and emptied subfolders.
    const folder = this.pathFor(prefix.slice(0, -1));
    await rm(folder, { recursive: true, force: true });
    // Then each parent left empty, up to the root: an erased job leaves no trace of its id.
    for (let dir = dirname(folder); dir.startsWith(this.rootDir + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ENOENT') continue;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') break;
        throw err;
      }
    }
    return deleted;
  }

  /** The objects under `prefix` in key order, at most `max` of them. A write in flight (its
   *  temp file) is not an object yet and is left out. */
  private async walk(prefix: string, max: number): Promise<BlobListing[]> {
    const found: BlobListing[] = [];
    const visit = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw err;
      }
      for (const entry of entries) {
        if (found.length >= max) return;
        const key = `${keyPrefix}${entry.name}`;
        if (entry.isDirectory()) {
          await visit(join(dir, entry.name), `${key}/`);
        } else if (entry.isFile() && !TEMP_FILE.test(entry.name) && isValidKey(key)) {
          try {
            const st = await stat(join(dir, entry.name));
            found.push({ key, sizeBytes: st.size, updatedAt: st.mtime });
          } catch (err) {
            if (errorCode(err) !== 'ENOENT') throw err; // deleted while we walked
          }
        }
      }
    };
    await visit(this.pathFor(prefix.slice(0, -1)), prefix);
    // GCS lists in UTF-8 byte order of the names; the same order here keeps the stores alike.
    return found.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }
}

/** The temp-file names writeAtomically uses. */
const TEMP_FILE = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** Percent-encodes each segment, keeping the `/` separators. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** base64url HMAC-SHA256 over "GET\n<key>\n<expires>", plus "\n<filename>" when a file name is
 *  given, so that a holder of the link cannot change the name the gateway announces. A download
 *  link (Content-Disposition: attachment) signs "GET attachment" as its first line instead: the
 *  disposition is covered too, and no inline link's payload can equal a download link's. */
function localSignature(
  signingKey: Buffer,
  key: string,
  expires: number,
  filename: string | undefined,
  download: boolean,
): string {
  return localMac(signingKey, key, expires, filename, download).toString('base64url');
}

function localMac(
  signingKey: Buffer,
  key: string,
  expires: number,
  filename: string | undefined,
  download: boolean,
): Buffer {
  const method = download ? 'GET attachment' : 'GET';
  const payload =
    filename === undefined ? `${method}\n${key}\n${expires}` : `${method}\n${key}\n${expires}\n${filename}`;
  return createHmac('sha256', signingKey).update(payload, 'utf8').digest();
}

export type LocalSignatureVerdict = 'ok' | 'expired' | 'bad_signature';

export interface VerifyLocalSignatureInput {
  key: string;
  /** Unix seconds, as a number or the raw query-string value. */
  expires: number | string;
  sig: string;
  signingKey: Buffer;
  filename?: string;
  /** The link asks for Content-Disposition: attachment (`download=1`). */
  download?: boolean;
  now?: Date;
}

/** Checks a signed `/files/*` link. The signature is checked before the expiry so that a link
 *  with a tampered expiry reports 'bad_signature', never 'expired'. Constant-time comparison. */
export function verifyLocalSignature(input: VerifyLocalSignatureInput): LocalSignatureVerdict {
  const { key, sig, signingKey, filename } = input;
  const download = input.download === true;
  const expires = typeof input.expires === 'number' ? input.expires : parseUnixSeconds(input.expires);
  if (expires === null || !Number.isSafeInteger(expires) || expires < 0) return 'bad_signature';
  if (!isValidKey(key)) return 'bad_signature';
  // Exactly the 43 characters of an unpadded base64url SHA-256 MAC: Node's decoder skips
  // invalid characters, so without this many different strings would decode to the same MAC.
  if (typeof sig !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return 'bad_signature';
  const given = Buffer.from(sig, 'base64url');
  const expected = localMac(signingKey, key, expires, filename, download);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad_signature';
  const nowSeconds = Math.floor((input.now ?? new Date()).getTime() / 1000);
  return nowSeconds >= expires ? 'expired' : 'ok';
}

function parseUnixSeconds(value: string): number | null {
  return /^\d{1,12}$/.test(value) ? Number(value) : null;
}

export interface SignedFileRequest {
  key: string;
  expires: number;
  sig: string;
  filename?: string;
  /** Present (true) only when the link asks for an attachment. */
  download?: true;
}

type QueryLike = URLSearchParams | Record<string, unknown>;

/** Pulls key/expires/sig/filename out of a `/files/<encoded key>?expires=…&sig=…` request, for
 *  the gateway. `pathname` must start with `/files/` (strip any mount prefix first); `query` is a
 *  URLSearchParams or an Express-style `req.query`. Returns null for anything malformed; the
 *  result still has to go through verifyLocalSignature. */
export function parseSignedFileRequest(pathname: string, query: QueryLike): SignedFileRequest | null {
  if (!pathname.startsWith(FILES_PREFIX)) return null;
  const segments: string[] = [];
  for (const raw of pathname.slice(FILES_PREFIX.length).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment.includes('/')) return null; // an encoded %2F never comes from encodeKeyPath
    segments.push(segment);
  }
  const key = segments.join('/');
  if (!isValidKey(key)) return null;
  const expiresRaw = queryValue(query, 'expires');
  const sig = queryValue(query, 'sig');
  const filename = queryValue(query, 'filename');
  const download = queryValue(query, 'download');
  if (typeof expiresRaw !== 'string' || typeof sig !== 'string' || filename === null) return null;
  // Only the exact form signedUrl writes: anything else would be a second spelling of one link.
  if (download !== undefined && download !== '1') return null;
  const expires = parseUnixSeconds(expiresRaw);
  if (expires === null) return null;
  return {
    key,
    expires,
    sig,
    ...(filename === undefined ? {} : { filename }),
    ...(download === undefined ? {} : { download: true as const }),
  };
}

/** undefined when absent, null when present but not a single string (repeated or nested). */
function queryValue(query: QueryLike, name: string): string | undefined | null {
  if (query instanceof URLSearchParams) {
    const all = query.getAll(name);
    if (all.length === 0) return undefined;
    return all.length === 1 ? (all[0] ?? null) : null;
  }
  const value = query[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null;
}

/** Writes via a temp file in the destination directory (same filesystem, so rename is atomic),
 *  fsyncs it, renames it over the final name and fsyncs the directory: a crash leaves either the
 *  old object or the complete new one under `dest`, never a partial file. */
async function writeAtomically(dest: string, write: (tmpPath: string) => Promise<void>): Promise<void> {
  const tmp = join(dirname(dest), `.${basename(dest)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await write(tmp);
    await fsyncPath(tmp);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(dest));
}

/** fsync works on a read-only descriptor, which also covers files we may not write to. */
async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes the rename itself durable. Best effort: some filesystems refuse fsync on a directory,
 *  and the data is already safe under one name or the other. */
async function fsyncDir(dir: string): Promise<void> {
  try {
    await fsyncPath(dir);
  } catch {
    // ignore: durability of the directory entry only
  }
}
