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

describe('fetchPublicFile deadline', () => {
  let trickle: http.Server;
  let trickleBase: string;
  const timers = new Set<NodeJS.Timeout>();

  beforeAll(async () => {
    // Answers 200 at once, then one byte every 50 ms: never idle long enough for a socket
    // timeout, and it would take ~100 s to send its 2,000 bytes.
    trickle = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '2000' });
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || ++sent > 2000) {
          clearInterval(timer);
          timers.delete(timer);
          return void res.end();
        }
        res.write(Buffer.from([0x89]));
      }, 50);
      timers.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    });
    await new Promise<void>((r) => trickle.listen(0, '127.0.0.1', r));
    trickleBase = `http://127.0.0.1:${(trickle.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    for (const timer of timers) clearInterval(timer);
    trickle.closeAllConnections();
    return new Promise<void>((r) => trickle.close(() => r()));
  });

  it('gives up on a server trickling bytes once the overall deadline passes, saying so', async () => {
    const failure = await fetchPublicFile(`${trickleBase}/logo.png`, {
      maxBytes: 10_000,
      timeoutMs: 400,
      allowLoopbackHttp: true,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(PublicFetchError);
    expect((failure as Error).message).toBe('no complete answer within the 400 ms deadline');
  });

  it('counts a DNS answer that never comes against the same deadline', async () => {
    const failure = await fetchPublicFile('https://slow-dns.example.com/logo.png', {
      maxBytes: 10_000,
      timeoutMs: 200,
      resolve: () => new Promise<string[]>(() => {}),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(PublicFetchError);
    expect((failure as Error).message).toMatch(/deadline/);
  });
});
