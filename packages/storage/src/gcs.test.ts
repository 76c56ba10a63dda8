import { createHash, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CRC32C, Storage } from '@google-cloud/storage';
import {
  BlobNotFoundError,
  createBlobStore,
  finalCutKey,
  GcsBlobStore,
  InvalidBlobKeyError,
  jobPrefix,
  shotClipKey,
  TooManyBlobsError,
} from './index';

const BUCKET = 'aiprod-test-media';
const CLIENT_EMAIL = 'signer@test.iam.gserviceaccount.com';

/* No test here may reach the network: every outgoing TCP connection other than to the loopback
 * fake below is recorded and refused, and the suite fails if any was attempted. */
const blockedConnections: string[] = [];
const realConnect = net.Socket.prototype.connect;
beforeAll(() => {
  jest.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    // Node passes either (options), (port, host) or an internal normalized [options, cb] array.
    const opts = (Array.isArray(first) ? first[0] : first) as { host?: string; path?: string } | number;
    const host =
      typeof opts === 'object' && opts !== null
        ? (opts.host ?? opts.path ?? 'localhost')
        : String(args[1] ?? 'localhost');
    if (host !== '127.0.0.1' && host !== 'localhost') {
      blockedConnections.push(host);
      throw new Error(`test attempted a network connection to ${host}`);
    }
    return (realConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  });
});
afterAll(() => {
  jest.restoreAllMocks();
  expect(blockedConnections).toEqual([]);
});

function rsaKeyPair(): { privatePem: string; publicKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function signingStore(privatePem: string): GcsBlobStore {
  const storage = new Storage({
    projectId: 'test',
    credentials: { client_email: CLIENT_EMAIL, private_key: privatePem },
  });
  return new GcsBlobStore({ bucket: BUCKET, storage });
}

/** RFC 3986 percent-encoding, as the V4 signing spec requires (encodeURIComponent leaves !'()*). */
function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Rebuilds the V4 string-to-sign from a signed URL, independently of the library, following
 *  https://cloud.google.com/storage/docs/authentication/canonical-requests . */
function v4StringToSign(url: URL): string {
  const params = [...url.searchParams.entries()].filter(([k]) => k !== 'X-Goog-Signature');
  const canonicalQuery = params
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [
    'GET',
    url.pathname,
    canonicalQuery,
    `host:${url.hostname}\n`, // canonical headers, each line newline-terminated
    'host', // signed headers
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const credential = url.searchParams.get('X-Goog-Credential') ?? '';
  const scope = credential.slice(credential.indexOf('/') + 1);
  return [
    'GOOG4-RSA-SHA256',
    url.searchParams.get('X-Goog-Date'),
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
}

describe('GcsBlobStore signed URLs (offline)', () => {
  const keys = rsaKeyPair();
  const store = signingStore(keys.privatePem);
  const key = "tenants/t1/jobs/j1/final cut (v2)'s.mp4";

  it('produces a V4 URL whose signature verifies against the service account public key', async () => {
    const before = Date.now();
    const url = new URL(await store.signedUrl(key, { expiresInSeconds: 900 }));
    expect(url.origin).toBe('https://storage.googleapis.com');
    expect(url.pathname).toBe(`/${BUCKET}/${key.split('/').map(rfc3986).join('/')}`);
    const q = url.searchParams;
    expect(q.get('X-Goog-Algorithm')).toBe('GOOG4-RSA-SHA256');
    expect(q.get('X-Goog-Expires')).toBe('900');
    expect(q.get('X-Goog-SignedHeaders')).toBe('host');
    expect(q.get('X-Goog-Credential')).toMatch(new RegExp(`^${CLIENT_EMAIL}/\\d{8}/auto/storage/goog4_request$`));
    const date = q.get('X-Goog-Date') ?? '';
    expect(date).toMatch(/^\d{8}T\d{6}Z$/);
    const signedAt = Date.parse(date.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
    expect(signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(signedAt).toBeLessThanOrEqual(Date.now());

    const signature = Buffer.from(q.get('X-Goog-Signature') ?? '', 'hex');
    expect(signature).toHaveLength(256); // RSA-2048
    expect(verify('sha256', Buffer.from(v4StringToSign(url)), keys.publicKey, signature)).toBe(true);

    // and the verification is not vacuous: another key, or another object, does not verify
    expect(verify('sha256', Buffer.from(v4StringToSign(url)), rsaKeyPair().publicKey, signature)).toBe(false);
    const other = new URL(url.href);
    other.pathname = `/${BUCKET}/tenants/t2/x.mp4`;
    expect(verify('sha256', Buffer.from(v4StringToSign(other)), keys.publicKey, signature)).toBe(false);
  });

  it('signs an inline file name, and a download as attachment, as response-content-disposition', async () => {
    const inline = new URL(await store.signedUrl(key, { expiresInSeconds: 60, filename: 'cut.mp4' }));
    expect(inline.searchParams.get('response-content-disposition')).toBe(
      `inline; filename="cut.mp4"; filename*=UTF-8''cut.mp4`,
    );
    const url = new URL(
      await store.signedUrl(key, { expiresInSeconds: 60, filename: 'Spring "Launch".mp4', download: true }),
    );
    expect(url.searchParams.get('response-content-disposition')).toBe(
      `attachment; filename="Spring _Launch_.mp4"; filename*=UTF-8''Spring%20%22Launch%22.mp4`,
    );
    const signature = Buffer.from(url.searchParams.get('X-Goog-Signature') ?? '', 'hex');
    expect(verify('sha256', Buffer.from(v4StringToSign(url)), keys.publicKey, signature)).toBe(true);
    url.searchParams.set('response-content-disposition', 'attachment; filename="evil.exe"');
    expect(verify('sha256', Buffer.from(v4StringToSign(url)), keys.publicKey, signature)).toBe(false);
  });

  it('a different signing key gives a different signature', async () => {
    const a = new URL(await store.signedUrl('a/b.mp4', { expiresInSeconds: 60 }));
    const b = new URL(await signingStore(rsaKeyPair().privatePem).signedUrl('a/b.mp4', { expiresInSeconds: 60 }));
    expect(a.searchParams.get('X-Goog-Signature')).not.toBe(b.searchParams.get('X-Goog-Signature'));
  });

  it('bounds the lifetime to 1 s .. 7 days and validates the key', async () => {
    await expect(store.signedUrl(key, { expiresInSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(store.signedUrl(key, { expiresInSeconds: 604_801 })).rejects.toThrow(RangeError);
    const week = new URL(await store.signedUrl(key, { expiresInSeconds: 604_800 }));
    expect(week.searchParams.get('X-Goog-Expires')).toBe('604800');
    await expect(store.signedUrl('../x', { expiresInSeconds: 60 })).rejects.toBeInstanceOf(InvalidBlobKeyError);
  });
});

describe('GcsBlobStore URIs and keys', () => {
  const store = new GcsBlobStore({ bucket: BUCKET, storage: new Storage({ projectId: 'test' }) });

  it('maps keys to gs:// URIs and back', () => {
    expect(store.kind).toBe('gcs');
    expect(store.uri('tenants/t1/a.mp4')).toBe(`gs://${BUCKET}/tenants/t1/a.mp4`);
    expect(store.keyFromUri(`gs://${BUCKET}/tenants/t1/a.mp4`)).toBe('tenants/t1/a.mp4');
  });

  it('refuses foreign buckets, schemes and invalid keys', () => {
    expect(() => store.keyFromUri('gs://other-bucket/tenants/t1/a.mp4')).toThrow(/not a URI in bucket/);
    expect(() => store.keyFromUri(`gs://${BUCKET}-evil/a.mp4`)).toThrow(/not a URI in bucket/);
    expect(() => store.keyFromUri(`local://tenants/t1/a.mp4`)).toThrow(/not a URI in bucket/);
    expect(() => store.keyFromUri(`gs://${BUCKET}/../a.mp4`)).toThrow(InvalidBlobKeyError);
    expect(() => store.keyFromUri(`gs://${BUCKET}//a.mp4`)).toThrow(InvalidBlobKeyError);
    for (const bad of ['/a', 'a/../b', 'a\\b', 'a\u0000b', '']) {
      expect(() => store.uri(bad)).toThrow(InvalidBlobKeyError);
      expect(() => store.createReadStream(bad)).toThrow(InvalidBlobKeyError);
    }
  });

  it('refuses an invalid bucket name', () => {
    expect(() => new GcsBlobStore({ bucket: 'Bad/Bucket', storage: new Storage() })).toThrow(/bucket name/);
  });

  it('createBlobStore builds a GCS store without touching the network', () => {
    const made = createBlobStore({ kind: 'gcs', bucket: BUCKET });
    expect(made.kind).toBe('gcs');
    expect(made.uri('a/b')).toBe(`gs://${BUCKET}/a/b`);
  });
});

/* ---------- the data path against an in-process fake of the GCS JSON API on loopback ---------- */

interface FakeObject {
  data: Buffer;
  metadata: Record<string, unknown>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Splits a multipart/related body into its parts' payloads (binary safe). */
function multipartParts(raw: Buffer, boundary: string): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = raw.indexOf(delimiter);
  while (at !== -1) {
    const next = raw.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    const part = raw.subarray(at + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    parts.push(part.subarray(headerEnd + 4, part.length - 2)); // drop the CRLF before the delimiter
    at = next;
  }
  return parts;
}

function crc32c(data: Buffer): string {
  const crc = new CRC32C();
  crc.update(data);
  return crc.toString();
}

interface FakeGcsOptions {
  /** The fake never answers more objects than this per list page, whatever maxResults asks. */
  listPageSize: number;
  /** Every objects.list request's query, to see the paging happen. */
  listCalls: URLSearchParams[];
}

function startFakeGcs(objects: Map<string, FakeObject>, fake: FakeGcsOptions): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const notFound = () => json(404, { error: { code: 404, message: 'No such object' } });
      const upload = url.pathname.match(/^\/upload\/storage\/v1\/b\/([^/]+)\/o$/);
      if (req.method === 'POST' && upload && url.searchParams.get('uploadType') === 'multipart') {
        const boundary = /boundary=([^;]+)/.exec(req.headers['content-type'] ?? '')?.[1] ?? '';
        const [meta, data] = multipartParts(await body(req), boundary);
        if (!meta || !data) return json(400, { error: { code: 400, message: 'bad multipart' } });
        const name = url.searchParams.get('name') ?? '';
        const metadata = {
          ...(JSON.parse(meta.toString()) as Record<string, unknown>),
          name,
          bucket: upload[1],
          size: String(data.length),
          md5Hash: createHash('md5').update(data).digest('base64'),
          crc32c: crc32c(data),
          updated: new Date().toISOString(),
        };
        objects.set(name, { data, metadata });
        return json(200, metadata);
      }
      const list = url.pathname.match(/^\/storage\/v1\/b\/([^/]+)\/o$/);
      if (req.method === 'GET' && list) {
        // objects.list: names in byte order; the page token is the last name of the previous page.
        fake.listCalls.push(url.searchParams);
        const prefix = url.searchParams.get('prefix') ?? '';
        const after = url.searchParams.has('pageToken')
          ? Buffer.from(url.searchParams.get('pageToken') ?? '', 'base64url').toString()
          : null;
        const size = Math.min(Number(url.searchParams.get('maxResults') ?? 1000), fake.listPageSize);
        const names = [...objects.keys()]
          .filter(
            (n) => n.startsWith(prefix) && (after === null || Buffer.compare(Buffer.from(n), Buffer.from(after)) > 0),
          )
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const page = names.slice(0, size);
        const last = page[page.length - 1];
        return json(200, {
          kind: 'storage#objects',
          items: page.map((n) => objects.get(n)?.metadata),
          ...(names.length > size && last !== undefined
            ? { nextPageToken: Buffer.from(last).toString('base64url') }
            : {}),
        });
      }
      const object = url.pathname.match(/^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/);
      if (!object) return json(400, { error: { code: 400, message: `unexpected ${req.method} ${req.url}` } });
      const name = decodeURIComponent(object[2] ?? '');
      const found = objects.get(name);
      if (req.method === 'DELETE') {
        if (!found) return notFound();
        objects.delete(name);
        res.writeHead(204).end();
        return;
      }
      if (!found) return notFound();
      if (url.searchParams.get('alt') !== 'media') return json(200, found.metadata);
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (range) {
        const [start, end] = [Number(range[1]), Number(range[2])];
        res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${found.data.length}` });
        res.end(found.data.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, {
        'x-goog-hash': `crc32c=${String(found.metadata.crc32c)},md5=${String(found.metadata.md5Hash)}`,
      });
      res.end(found.data);
    })().catch((err: unknown) => {
      // A bug in the fake must fail the request loudly rather than leave the client hanging.
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 500, message: String(err) } }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('GcsBlobStore data path (loopback fake GCS)', () => {
  const objects = new Map<string, FakeObject>();
  const fake: FakeGcsOptions = { listPageSize: 2, listCalls: [] };
  let server: Server;
  let store: GcsBlobStore;
  let work: string;
  const KEY = shotClipKey({ tenantId: 't1', jobId: 'j1', shotId: 's01', attempt: 1 });

  beforeAll(async () => {
    server = await startFakeGcs(objects, fake);
    const { port } = server.address() as AddressInfo;
    // No retries: a failure should surface at once, not after the client's exponential backoff.
    const storage = new Storage({
      projectId: 'test',
      apiEndpoint: `http://127.0.0.1:${port}`,
      retryOptions: { autoRetry: false },
    });
    store = new GcsBlobStore({ bucket: BUCKET, storage });
    work = mkdtempSync(join(tmpdir(), 'aiprod-gcs-test-'));
  });
  afterAll(async () => {
    server.closeAllConnections(); // the client keeps connections alive
    await new Promise((resolve) => server.close(resolve));
    await rm(work, { recursive: true, force: true });
  });

  it('putBytes stores the bytes, content type and sha256 metadata', async () => {
    const data = Buffer.from('{"shots":3}');
    const put = await store.putBytes('tenants/t1/jobs/j1/plan.json', data, { contentType: 'application/json' });
    const sha256 = createHash('sha256').update(data).digest('hex');
    expect(put).toEqual({ uri: `gs://${BUCKET}/tenants/t1/jobs/j1/plan.json`, sizeBytes: data.length, sha256 });
    const stored = objects.get('tenants/t1/jobs/j1/plan.json');
    expect(stored?.data).toEqual(data);
    expect(stored?.metadata).toMatchObject({ contentType: 'application/json', metadata: { sha256 } });
  });

  it('putFile with move uploads, then removes the local file', async () => {
    const src = join(work, 'out.mp4');
    writeFileSync(src, Buffer.alloc(70_000, 7));
    const put = await store.putFile(KEY, src, { contentType: 'video/mp4', move: true });
    expect(put.sizeBytes).toBe(70_000);
    expect(existsSync(src)).toBe(false);
    expect(objects.get(KEY)?.data.length).toBe(70_000);
  });

  it('exists/stat see the object and report a missing one as absent', async () => {
    expect(await store.exists(KEY)).toBe(true);
    expect(await store.stat(KEY)).toEqual({ sizeBytes: 70_000 });
    expect(await store.exists('nope.mp4')).toBe(false);
    expect(await store.stat('nope.mp4')).toBeNull();
  });

  it('withLocalFile downloads to a temp file named like the object and deletes it afterwards', async () => {
    let seen = '';
    const size = await store.withLocalFile(KEY, async (path) => {
      seen = path;
      expect(path.endsWith('/attempt-1.mp4')).toBe(true);
      return readFileSync(path).length;
    });
    expect(size).toBe(70_000);
    expect(existsSync(seen)).toBe(false);

    // also cleaned up when fn throws
    await expect(
      store.withLocalFile(KEY, async (path) => {
        seen = path;
        throw new Error('probe failed');
      }),
    ).rejects.toThrow('probe failed');
    expect(existsSync(seen)).toBe(false);
  });

  it('withLocalFile on a missing object rejects with BlobNotFoundError', async () => {
    await expect(store.withLocalFile('tenants/t1/missing.mp4', async () => 1)).rejects.toBeInstanceOf(
      BlobNotFoundError,
    );
  });

  it('streams inclusive byte ranges', async () => {
    await store.putBytes('r.txt', Buffer.from('0123456789'));
    expect((await readAll(store.createReadStream('r.txt', { start: 2, end: 5 }))).toString()).toBe('2345');
    expect((await readAll(store.createReadStream('r.txt'))).toString()).toBe('0123456789');
    expect(() => store.createReadStream('r.txt', { start: 3, end: 1 })).toThrow(RangeError);
  });

  it('deletes idempotently', async () => {
    await store.delete(KEY);
    expect(objects.has(KEY)).toBe(false);
    await expect(store.delete(KEY)).resolves.toBeUndefined();
  });

  describe('list and deletePrefix', () => {
    const job = { tenantId: 't1', jobId: 'j7' };
    const sibling = { tenantId: 't1', jobId: 'j70' }; // shares the string prefix "…/jobs/j7"
    const clip = (ref: { tenantId: string; jobId: string }, shotId: string) =>
      shotClipKey({ ...ref, shotId, attempt: 1 });
    const jobKeys = [finalCutKey(job, '16x9'), ...['s01', 's02', 's03', 's04'].map((s) => clip(job, s))];

    beforeEach(async () => {
      fake.listCalls.length = 0;
      for (const [i, key] of [...jobKeys].reverse().entries()) await store.putBytes(key, Buffer.alloc(i + 1));
      await store.putBytes(clip(sibling, 's01'), Buffer.from('x'));
    });

    it('lists every object under the folder across pages, in key order, with size and time', async () => {
      const listed = await store.list(jobPrefix(job));
      expect(listed.map((o) => o.key)).toEqual(jobKeys);
      expect(listed.map((o) => o.sizeBytes)).toEqual([5, 4, 3, 2, 1]);
      for (const o of listed) expect(Number.isNaN(o.updatedAt.getTime())).toBe(false);
      // 5 objects at 2 a page: three requests, the later ones carrying the previous page's token.
      expect(fake.listCalls.map((q) => q.get('prefix'))).toEqual(Array(3).fill('tenants/t1/jobs/j7/'));
      expect(fake.listCalls[0]?.has('pageToken')).toBe(false);
      expect(fake.listCalls.slice(1).every((q) => q.has('pageToken'))).toBe(true);
    });

    it('throws rather than truncating when more than the limit exist', async () => {
      await expect(store.list(jobPrefix(job), { limit: 5 })).resolves.toHaveLength(5);
      await expect(store.list(jobPrefix(job), { limit: 4 })).rejects.toBeInstanceOf(TooManyBlobsError);
      await expect(store.list('tenants/t1/jobs/j7')).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.deletePrefix('')).rejects.toBeInstanceOf(InvalidBlobKeyError);
    });

    it('deletePrefix removes every page of the folder and nothing else; idempotent', async () => {
      expect(await store.deletePrefix(jobPrefix(job))).toBe(5);
      expect([...objects.keys()].filter((k) => k.startsWith('tenants/t1/jobs/j7/'))).toEqual([]);
      expect(objects.has(clip(sibling, 's01'))).toBe(true);
      expect(await store.list(jobPrefix(job))).toEqual([]);
      expect(await store.deletePrefix(jobPrefix(job))).toBe(0);
    });
  });
});
