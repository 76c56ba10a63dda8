import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchPublicFile, PublicFetchError } from './fetch-public';

let server: http.Server;
let base: string;
const hits: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/logo.png') res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(1000, 7));
    else if (req.url === '/huge.png') res.writeHead(200).end(Buffer.alloc(200_000, 1));
    else if (req.url === '/moved') res.writeHead(302, { location: '/logo.png' }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  hits.length = 0;
});

describe('fetchPublicFile', () => {
  it('fetches a small file', async () => {
    const bytes = await fetchPublicFile(`${base}/logo.png`, {
      maxBytes: 10_000,
      timeoutMs: 5000,
      allowLoopbackHttp: true,
    });
    expect(bytes.length).toBe(1000);
  });

  it('refuses loopback and plain http outside local mode, without connecting', async () => {
    await expect(fetchPublicFile(`${base}/logo.png`, { maxBytes: 10_000, timeoutMs: 5000 })).rejects.toThrow(
      PublicFetchError,
    );
    expect(hits).toEqual([]);
  });

  it('does not follow redirects', async () => {
    await expect(
      fetchPublicFile(`${base}/moved`, { maxBytes: 10_000, timeoutMs: 5000, allowLoopbackHttp: true }),
    ).rejects.toThrow(/HTTP 302 \(redirects are not followed\)/);
    expect(hits).toEqual(['/moved']);
  });

  it('stops reading past the size cap', async () => {
    await expect(
      fetchPublicFile(`${base}/huge.png`, { maxBytes: 10_000, timeoutMs: 5000, allowLoopbackHttp: true }),
    ).rejects.toThrow(/larger than 10000 bytes/);
  });

  it('reports an HTTP error', async () => {
    await expect(
      fetchPublicFile(`${base}/nope`, { maxBytes: 10_000, timeoutMs: 5000, allowLoopbackHttp: true }),
    ).rejects.toThrow(/HTTP 404/);
  });
});
