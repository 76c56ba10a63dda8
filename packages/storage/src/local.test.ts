import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  createBlobStore,
  InvalidBlobKeyError,
  BlobNotFoundError,
  finalCutKey,
  jobPrefix,
  shotClipKey,
  tenantPrefix,
  TooManyBlobsError,
} from './index';
import { LocalBlobStore, parseSignedFileRequest, verifyLocalSignature } from './local';

const signingKey = randomBytes(32);
const KEY = shotClipKey({ tenantId: 't1', jobId: 'j1', shotId: 's01', attempt: 1 });

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under dir, relative, recursively (to spot stray temp files). */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe('LocalBlobStore', () => {
  let work: string;
  let root: string;
  let store: LocalBlobStore;

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'aiprod-storage-test-'));
    root = join(work, 'blobs');
    store = new LocalBlobStore({ rootDir: root, publicBaseUrl: 'http://localhost:8080/', signingKey });
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('round-trips bytes with size, sha256 and uri', async () => {
    const data = Buffer.from('hello video');
    const put = await store.putBytes(KEY, data, { contentType: 'video/mp4' });
    expect(put).toEqual({ uri: `local://${KEY}`, sizeBytes: data.length, sha256: sha256(data) });
    expect(await store.exists(KEY)).toBe(true);
    expect(await store.stat(KEY)).toEqual({ sizeBytes: data.length });
    expect(await readAll(store.createReadStream(KEY))).toEqual(data);
    expect(readFileSync(join(root, ...KEY.split('/')))).toEqual(data);
    expect(store.keyFromUri(put.uri)).toBe(KEY);
  });

  it('putFile copies (source kept) and reports the digest of the stored bytes', async () => {
    const src = join(work, 'render-out.mp4');
    const data = randomBytes(300_000); // several stream chunks
    writeFileSync(src, data);
    const put = await store.putFile(KEY, src);
    expect(put).toEqual({ uri: `local://${KEY}`, sizeBytes: data.length, sha256: sha256(data) });
    expect(existsSync(src)).toBe(true);
    expect(await store.withLocalFile(KEY, (p) => readFile(p))).toEqual(data);
  });

  it('putFile with move renames the source into place', async () => {
    const src = join(work, 'render-out.mp4');
    writeFileSync(src, 'moved bytes');
    const put = await store.putFile(KEY, src, { move: true });
    expect(put.sha256).toBe(sha256('moved bytes'));
    expect(existsSync(src)).toBe(false);
    expect(readFileSync(store.pathFor(KEY), 'utf8')).toBe('moved bytes');
  });

  it('writes atomically: no temp file left and overwrite replaces content whole', async () => {
    await store.putBytes(KEY, Buffer.from('first version, longer than the second'));
    const src = join(work, 'v2');
    writeFileSync(src, 'second');
    await store.putFile(KEY, src);
    await store.putBytes('tenants/t1/other.json', Buffer.from('{}'));
    expect(readFileSync(store.pathFor(KEY), 'utf8')).toBe('second');
    expect(listFiles(root).sort()).toEqual([KEY, 'tenants/t1/other.json']);
  });

  it('a failed write leaves neither a partial object nor a temp file', async () => {
    await store.putBytes(KEY, Buffer.from('original'));
    await expect(store.putFile(KEY, join(work, 'does-not-exist'))).rejects.toThrow(/ENOENT/);
    expect(readFileSync(store.pathFor(KEY), 'utf8')).toBe('original');
    expect(listFiles(root)).toEqual([KEY]);
  });

  it('reports missing objects', async () => {
    expect(await store.exists('nope/x.mp4')).toBe(false);
    expect(await store.stat('nope/x.mp4')).toBeNull();
    await expect(store.withLocalFile('nope/x.mp4', async () => 1)).rejects.toBeInstanceOf(BlobNotFoundError);
    // a key prefix (directory) is not an object
    await store.putBytes('a/b/c', Buffer.from('x'));
    expect(await store.stat('a/b')).toBeNull();
  });

  it('serves inclusive byte ranges', async () => {
    await store.putBytes(KEY, Buffer.from('0123456789'));
    expect((await readAll(store.createReadStream(KEY, { start: 2, end: 5 }))).toString()).toBe('2345');
    expect((await readAll(store.createReadStream(KEY, { start: 9, end: 9 }))).toString()).toBe('9');
    expect(() => store.createReadStream(KEY, { start: 5, end: 2 })).toThrow(RangeError);
    expect(() => store.createReadStream(KEY, { start: -1, end: 2 })).toThrow(RangeError);
  });

  it('deletes idempotently', async () => {
    await store.putBytes(KEY, Buffer.from('x'));
    await store.delete(KEY);
    expect(await store.exists(KEY)).toBe(false);
    await expect(store.delete(KEY)).resolves.toBeUndefined();
  });

  it.each(['../escape.txt', 'a/../../escape.txt', '/abs/path', 'a\\..\\..\\x', 'a/\u0000b', 'a//b', ''])(
    'rejects traversal/invalid key %j in every operation, touching nothing',
    async (bad) => {
      const src = join(work, 'src');
      writeFileSync(src, 'x');
      await expect(store.putBytes(bad, Buffer.from('x'))).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.putFile(bad, src)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.exists(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.stat(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.delete(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.withLocalFile(bad, async () => 1)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.signedUrl(bad, { expiresInSeconds: 60 })).rejects.toBeInstanceOf(InvalidBlobKeyError);
      expect(() => store.createReadStream(bad)).toThrow(InvalidBlobKeyError);
      expect(() => store.uri(bad)).toThrow(InvalidBlobKeyError);
      expect(() => store.keyFromUri(`local://${bad}`)).toThrow(InvalidBlobKeyError);
      expect(readdirSync(work).sort()).toEqual(['src']); // nothing created, not even the root
    },
  );

  it('keyFromUri refuses foreign schemes', () => {
    expect(() => store.keyFromUri(`gs://bucket/${KEY}`)).toThrow(/not a local:\/\/ URI/);
    expect(() => store.keyFromUri(`file:///${KEY}`)).toThrow(/not a local:\/\/ URI/);
  });

  it('refuses a short signing key and a malformed base URL', () => {
    expect(() => new LocalBlobStore({ rootDir: root, publicBaseUrl: 'http://x', signingKey: Buffer.alloc(8) })).toThrow(
      /signingKey/,
    );
    expect(() => new LocalBlobStore({ rootDir: root, publicBaseUrl: 'not a url', signingKey })).toThrow();
  });

  describe('signed URLs', () => {
    const key = 'tenants/t1/jobs/j1/final cut (v2).mp4';

    async function signAndParse(opts: { expiresInSeconds: number; filename?: string; download?: boolean }) {
      const url = new URL(await store.signedUrl(key, opts));
      const parsed = parseSignedFileRequest(url.pathname, url.searchParams);
      if (!parsed) throw new Error(`unparseable signed URL ${url.href}`);
      return { url, parsed };
    }

    it('has the documented shape and verifies', async () => {
      const before = Math.floor(Date.now() / 1000);
      const { url, parsed } = await signAndParse({ expiresInSeconds: 3600 });
      expect(url.origin).toBe('http://localhost:8080');
      expect(url.pathname).toBe('/files/tenants/t1/jobs/j1/final%20cut%20(v2).mp4');
      expect(parsed.key).toBe(key);
      expect(parsed.expires).toBeGreaterThanOrEqual(before + 3600);
      expect(parsed.expires).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
      // the signature is the documented HMAC, recomputable by anyone holding the key
      const { createHmac } = await import('node:crypto');
      const expected = createHmac('sha256', signingKey).update(`GET\n${key}\n${parsed.expires}`).digest('base64url');
      expect(url.searchParams.get('sig')).toBe(expected);
      expect(verifyLocalSignature({ ...parsed, signingKey })).toBe('ok');
    });

    it('rejects a tampered key, expiry, signature, filename or signing key', async () => {
      const { parsed } = await signAndParse({ expiresInSeconds: 3600, filename: 'Final.mp4' });
      expect(verifyLocalSignature({ ...parsed, signingKey })).toBe('ok');
      expect(verifyLocalSignature({ ...parsed, signingKey, key: 'tenants/t2/jobs/j1/final cut (v2).mp4' })).toBe(
        'bad_signature',
      );
      expect(verifyLocalSignature({ ...parsed, signingKey, expires: parsed.expires + 86_400 })).toBe('bad_signature');
      expect(verifyLocalSignature({ ...parsed, signingKey, expires: String(parsed.expires - 10) })).toBe(
        'bad_signature',
      );
      const flipped = (parsed.sig[0] === 'A' ? 'B' : 'A') + parsed.sig.slice(1);
      expect(verifyLocalSignature({ ...parsed, signingKey, sig: flipped })).toBe('bad_signature');
      expect(verifyLocalSignature({ ...parsed, signingKey, sig: parsed.sig.slice(0, -1) })).toBe('bad_signature');
      expect(verifyLocalSignature({ ...parsed, signingKey, sig: `${parsed.sig}=` })).toBe('bad_signature');
      expect(verifyLocalSignature({ ...parsed, signingKey, sig: '' })).toBe('bad_signature');
      expect(verifyLocalSignature({ ...parsed, signingKey, filename: 'evil.exe' })).toBe('bad_signature');
      expect(verifyLocalSignature({ ...parsed, signingKey, filename: undefined })).toBe('bad_signature');
      expect(verifyLocalSignature({ ...parsed, signingKey: randomBytes(32) })).toBe('bad_signature');
      expect(verifyLocalSignature({ ...parsed, signingKey, expires: 'soon' })).toBe('bad_signature');
    });

    it('signs the disposition: download=1 cannot be added to an inline link nor removed from a download link', async () => {
      const inline = await signAndParse({ expiresInSeconds: 3600, filename: 'Final.mp4' });
      expect(inline.parsed.download).toBeUndefined();
      expect(verifyLocalSignature({ ...inline.parsed, signingKey, download: true })).toBe('bad_signature');
      const download = await signAndParse({ expiresInSeconds: 3600, filename: 'Final.mp4', download: true });
      expect(download.url.searchParams.get('download')).toBe('1');
      expect(download.parsed.download).toBe(true);
      expect(verifyLocalSignature({ ...download.parsed, signingKey })).toBe('ok');
      expect(verifyLocalSignature({ ...download.parsed, signingKey, download: false })).toBe('bad_signature');
      const bare = await signAndParse({ expiresInSeconds: 3600, download: true });
      expect(verifyLocalSignature({ ...bare.parsed, signingKey })).toBe('ok');
      expect(verifyLocalSignature({ ...bare.parsed, signingKey, download: false })).toBe('bad_signature');
      // only the one spelling signedUrl writes
      for (const value of ['true', '0', '']) {
        const url = new URL(download.url.href);
        url.searchParams.set('download', value);
        expect(parseSignedFileRequest(url.pathname, url.searchParams)).toBeNull();
      }
    });

    it('reports expiry only once the signature is genuine', async () => {
      const { parsed } = await signAndParse({ expiresInSeconds: 60 });
      const at = (s: number) => new Date(s * 1000);
      expect(verifyLocalSignature({ ...parsed, signingKey, now: at(parsed.expires - 1) })).toBe('ok');
      expect(verifyLocalSignature({ ...parsed, signingKey, now: at(parsed.expires) })).toBe('expired');
      expect(verifyLocalSignature({ ...parsed, signingKey, now: at(parsed.expires + 3600) })).toBe('expired');
    });

    it('bounds the lifetime to 1 s .. 7 days', async () => {
      await expect(store.signedUrl(key, { expiresInSeconds: 0 })).rejects.toThrow(RangeError);
      await expect(store.signedUrl(key, { expiresInSeconds: 604_801 })).rejects.toThrow(RangeError);
      await expect(store.signedUrl(key, { expiresInSeconds: 1.5 })).rejects.toThrow(RangeError);
      await expect(store.signedUrl(key, { expiresInSeconds: 604_800 })).resolves.toContain('/files/');
    });

    it('parseSignedFileRequest refuses malformed requests', () => {
      const q = { expires: '1700000000', sig: 'x'.repeat(43) };
      expect(parseSignedFileRequest('/files/a/b.mp4', q)).toEqual({ key: 'a/b.mp4', ...q, expires: 1700000000 });
      expect(parseSignedFileRequest('/other/a/b.mp4', q)).toBeNull();
      expect(parseSignedFileRequest('/files/a/%2E%2E/%2E%2E/etc/passwd', q)).toBeNull();
      expect(parseSignedFileRequest('/files/a%2F..%2F..%2Fx', q)).toBeNull();
      expect(parseSignedFileRequest('/files/a/%E0%A4%A', q)).toBeNull(); // broken percent-encoding
      expect(parseSignedFileRequest('/files/', q)).toBeNull();
      expect(parseSignedFileRequest('/files/a', { sig: q.sig })).toBeNull();
      expect(parseSignedFileRequest('/files/a', { ...q, expires: '12abc' })).toBeNull();
      expect(parseSignedFileRequest('/files/a', { ...q, sig: [q.sig, q.sig] })).toBeNull(); // express arrays
      expect(parseSignedFileRequest('/files/a', new URLSearchParams(`expires=1&sig=a&sig=b`))).toBeNull();
    });
  });

  describe('list and deletePrefix', () => {
    const job = { tenantId: 't1', jobId: 'j1' };
    const sibling = { tenantId: 't1', jobId: 'j10' }; // shares the string prefix "…/jobs/j1"
    const other = { tenantId: 't2', jobId: 'j1' };
    const clip = (ref: { tenantId: string; jobId: string }, shotId: string) =>
      shotClipKey({ ...ref, shotId, attempt: 1 });

    beforeEach(async () => {
      await store.putBytes(clip(job, 's02'), Buffer.from('22'));
      await store.putBytes(clip(job, 's01'), Buffer.from('1'));
      await store.putBytes(finalCutKey(job, '16x9'), Buffer.from('cut!'));
      await store.putBytes(clip(sibling, 's01'), Buffer.from('x'));
      await store.putBytes(clip(other, 's01'), Buffer.from('y'));
    });

    it('lists exactly the objects under a folder, in key order, with size and mtime', async () => {
      const before = Date.now();
      const listed = await store.list(jobPrefix(job));
      expect(listed.map((o) => o.key)).toEqual([
        'tenants/t1/jobs/j1/outputs/final-16x9.mp4',
        'tenants/t1/jobs/j1/shots/s01/attempt-1.mp4',
        'tenants/t1/jobs/j1/shots/s02/attempt-1.mp4',
      ]);
      expect(listed.map((o) => o.sizeBytes)).toEqual([4, 1, 2]);
      for (const o of listed) expect(o.updatedAt.getTime()).toBeLessThanOrEqual(before + 1000);
      expect((await store.list(tenantPrefix('t1'))).map((o) => o.key)).toHaveLength(4);
      expect(await store.list('tenants/t3/')).toEqual([]);
    });

    it('leaves a write in flight (its temp file) out of the listing', async () => {
      const dir = join(root, 'tenants', 't1', 'jobs', 'j1', 'outputs');
      writeFileSync(join(dir, '.final-9x16.mp4.0123456789ab.tmp'), 'partial');
      expect((await store.list(jobPrefix(job))).map((o) => o.key)).not.toContain(
        'tenants/t1/jobs/j1/outputs/.final-9x16.mp4.0123456789ab.tmp',
      );
      expect(await store.list(jobPrefix(job))).toHaveLength(3);
    });

    it('throws rather than truncating when more than the limit exist', async () => {
      await expect(store.list(jobPrefix(job), { limit: 3 })).resolves.toHaveLength(3);
      await expect(store.list(jobPrefix(job), { limit: 2 })).rejects.toBeInstanceOf(TooManyBlobsError);
      await expect(store.list(jobPrefix(job), { limit: 0 })).rejects.toThrow(RangeError);
    });

    it('refuses anything but a folder prefix', async () => {
      for (const bad of ['', '/', 'tenants/t1', 'tenants//', '../', 'tenants/../', 'a\\b/']) {
        await expect(store.list(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.deletePrefix(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      }
      expect(() => jobPrefix({ tenantId: 't1', jobId: '' })).toThrow(InvalidBlobKeyError);
      expect(() => tenantPrefix('a/b')).toThrow(InvalidBlobKeyError);
    });

    it('deletes the folder, its temp files and emptied parents, and nothing else; idempotent', async () => {
      writeFileSync(join(root, 'tenants', 't1', 'jobs', 'j1', 'outputs', '.late.mp4.0123456789ab.tmp'), 'x');
      expect(await store.deletePrefix(jobPrefix(job))).toBe(3);
      expect(existsSync(join(root, 'tenants', 't1', 'jobs', 'j1'))).toBe(false);
      expect(listFiles(root).sort()).toEqual([
        'tenants/t1/jobs/j10/shots/s01/attempt-1.mp4',
        'tenants/t2/jobs/j1/shots/s01/attempt-1.mp4',
      ]);
      expect(await store.deletePrefix(jobPrefix(job))).toBe(0);

      // The last job of a tenant: the emptied tenant folders go too, the root stays.
      expect(await store.deletePrefix(jobPrefix(other))).toBe(1);
      expect(existsSync(join(root, 'tenants', 't2'))).toBe(false);
      expect(await store.deletePrefix(tenantPrefix('t1'))).toBe(1);
      expect(readdirSync(root)).toEqual([]);
    });
  });

  it('createBlobStore builds a working local store from plain config', async () => {
    const made = createBlobStore({ kind: 'local', rootDir: root, publicBaseUrl: 'http://h', signingKey });
    expect(made.kind).toBe('local');
    await made.putBytes('k/v.txt', Buffer.from('v'));
    expect(await store.stat('k/v.txt')).toEqual({ sizeBytes: 1 });
  });
});
