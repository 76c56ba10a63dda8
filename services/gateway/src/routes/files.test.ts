import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createBlobStore, type BlobStore } from '@aiprod/storage';
import { memoryLog } from '@aiprod/testing';
import { buildGateway } from '../app';
import { SpecChecker } from '../../test/spec-checker';

const signingKey = Buffer.alloc(32, 3);
const root = mkdtempSync(join(tmpdir(), 'files-route-'));
const storage: BlobStore = createBlobStore({
  kind: 'local',
  rootDir: root,
  publicBaseUrl: 'https://127.0.0.1:1',
  signingKey,
});
// No Firestore or Pub/Sub: the route reads only the store, and nothing else is called.
const unused = {} as never;
const app = buildGateway({
  log: memoryLog().log,
  jobs: unused,
  tenants: unused,
  webhooks: unused,
  publisher: unused,
  plans: unused,
  assets: unused,
  storage,
  signingKey,
  outputUrlTtlSeconds: 3600,
  isReady: () => true,
});
const spec = new SpecChecker();
const MP4 = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const FILES: Record<string, { bytes: Buffer; type: string }> = {
  'tenants/t1/jobs/j1/final/9x16.mp4': { bytes: MP4, type: 'video/mp4' },
  'tenants/t1/jobs/j1/final/poster.png': { bytes: Buffer.from('\x89PNG fake'), type: 'image/png' },
  'tenants/t1/jobs/j1/final/frame.jpg': { bytes: Buffer.from('jpeg'), type: 'image/jpeg' },
  'tenants/t1/jobs/j1/final/captions.vtt': { bytes: Buffer.from('WEBVTT\n'), type: 'text/vtt; charset=utf-8' },
  'tenants/t1/jobs/j1/qa/report.json': { bytes: Buffer.from('{}'), type: 'application/json; charset=utf-8' },
};

beforeAll(async () => {
  for (const [key, { bytes }] of Object.entries(FILES)) await storage.putBytes(key, bytes);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** GET a signed link's path and query through the app, checked against the OpenAPI document. */
async function get(url: string, headers: Record<string, string> = {}) {
  const link = new URL(url);
  const path = `${link.pathname}${link.search}`;
  let req = request(app).get(path).buffer(true).parse(binary);
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  const res = await req;
  // The binary parser leaves no text; the spec checker reads a JSON body (a problem) from it.
  if (/json/.test(String(res.headers['content-type']))) Object.assign(res, { text: (res.body as Buffer).toString() });
  spec.check('get', path, res);
  return res;
}
function binary(res: request.Response, done: (e: Error | null, body: Buffer) => void) {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}
const sign = (key: string, opts: { filename?: string; download?: boolean } = {}) =>
  storage.signedUrl(key, { expiresInSeconds: 600, ...opts });

afterEach(() => expect(spec.failures.splice(0)).toEqual([]));

it.each(Object.entries(FILES))('serves %s whole, inline, as %s, with Accept-Ranges', async (key, file) => {
  const res = await get(await sign(key));
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe(file.type);
  expect(res.headers['accept-ranges']).toBe('bytes');
  expect(res.headers['content-disposition']).toBe('inline');
  expect(res.headers['cache-control']).toBe('private, no-store');
  expect(res.headers['content-length']).toBe(String(file.bytes.length));
  expect(res.body).toEqual(file.bytes);
});

it('answers a Range with 206 and exactly those bytes; an open range and a suffix too', async () => {
  const url = await sign('tenants/t1/jobs/j1/final/9x16.mp4');
  const mid = await get(url, { Range: 'bytes=100-199' });
  expect(mid.status).toBe(206);
  expect(mid.headers['content-range']).toBe('bytes 100-199/1000');
  expect(mid.headers['content-type']).toBe('video/mp4');
  expect(mid.body).toEqual(MP4.subarray(100, 200));
  const open = await get(url, { Range: 'bytes=990-' });
  expect(open.status).toBe(206);
  expect(open.body).toEqual(MP4.subarray(990));
  const suffix = await get(url, { Range: 'bytes=-5' });
  expect(suffix.status).toBe(206);
  expect(suffix.body).toEqual(MP4.subarray(995));
});

it('answers a range outside the file with 416 and the file size, as a problem', async () => {
  const res = await get(await sign('tenants/t1/jobs/j1/final/9x16.mp4'), { Range: 'bytes=5000-6000' });
  expect(res.status).toBe(416);
  expect(res.headers['content-range']).toBe('bytes */1000');
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(res.body.toString()).type).toMatch(/range-not-satisfiable$/);
});

it('answers a conditional GET with 304', async () => {
  const url = await sign('tenants/t1/jobs/j1/final/poster.png');
  const first = await get(url);
  const again = await get(url, { 'If-None-Match': String(first.headers.etag) });
  expect(again.status).toBe(304);
  expect(again.body.length).toBe(0);
});

it('names the file inline, and sends an attachment only when the signed link asks for it', async () => {
  const key = 'tenants/t1/jobs/j1/final/9x16.mp4';
  const named = await get(await sign(key, { filename: 'j1-9x16.mp4' }));
  expect(named.headers['content-disposition']).toBe(`inline; filename="j1-9x16.mp4"; filename*=UTF-8''j1-9x16.mp4`);
  const download = await get(await sign(key, { filename: 'j1-9x16.mp4', download: true }));
  expect(download.status).toBe(200);
  expect(download.headers['content-disposition']).toMatch(/^attachment; filename="j1-9x16.mp4"/);
  expect(download.headers['content-type']).toBe('video/mp4');
});

it('refuses a tampered signature, key, expiry, filename or disposition (403), and an expired link', async () => {
  const key = 'tenants/t1/jobs/j1/final/9x16.mp4';
  const url = new URL(await sign(key, { filename: 'a.mp4' }));
  const tamper = (edit: (u: URL) => void) => {
    const copy = new URL(url.href);
    edit(copy);
    return copy.href;
  };
  const sig = url.searchParams.get('sig')!;
  const cases = [
    tamper((u) => u.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1))),
    tamper((u) => (u.pathname = u.pathname.replace('9x16', '16x9'))),
    tamper((u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 60))),
    tamper((u) => u.searchParams.set('filename', 'b.mp4')),
    tamper((u) => u.searchParams.delete('filename')),
    tamper((u) => u.searchParams.set('download', '1')),
    tamper((u) => u.searchParams.delete('sig')),
  ];
  for (const forged of cases) {
    const res = await get(forged);
    expect([forged, res.status]).toEqual([forged, 403]);
    expect(res.body.toString()).not.toContain('mp4 bytes');
  }
  const downloadLink = new URL(await sign(key, { download: true }));
  downloadLink.searchParams.delete('download');
  expect((await get(downloadLink.href)).status).toBe(403);
  const expired = await storage.signedUrl(key, { expiresInSeconds: 1 });
  await new Promise((r) => setTimeout(r, 1100));
  expect((await get(expired)).status).toBe(403);
});

it('lists no directory and cannot be walked out of the store', async () => {
  mkdirSync(join(root, 'tenants', 't1', 'jobs', 'j1', 'dir.mp4'), { recursive: true });
  writeFileSync(join(root, 'secret.txt'), 'outside the key space');
  // A signed directory key (a prefix, not an object) is 404, never a listing.
  expect((await get(await sign('tenants/t1/jobs/j1/dir.mp4'))).status).toBe(404);
  expect((await get(await sign('tenants/t1/jobs/j1'))).status).toBe(404);
  const good = new URL(await sign('tenants/t1/jobs/j1/final/9x16.mp4'));
  for (const path of [
    '/files/tenants/t1/jobs/j1/final/..%2F..%2F..%2F..%2F..%2Fsecret.txt',
    '/files/tenants/t1/jobs/j1/final/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt',
    '/files/..%5c..%5csecret.txt',
    '/files/%2Fetc%2Fpasswd',
  ]) {
    const res = await request(app).get(`${path}${good.search}`);
    expect([path, res.status]).toEqual([path, 403]);
    expect(res.text).not.toContain('outside the key space');
  }
  // Unsigned: nothing, whatever the path.
  expect((await request(app).get('/files/secret.txt')).status).toBe(403);
});
