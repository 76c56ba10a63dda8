import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  classifyWebhookResponse,
  delayFor,
  generateWebhookSecret,
  MAX_RESPONSE_BYTES,
  parseRetryAfter,
  sendWebhook,
  signWebhook,
  verifyWebhook,
} from './index';

// A throwaway self-signed certificate for DNS:hooks.test, made for this run (no key is kept in git);
// trusted only through `ca` below.
const certDir = mkdtempSync(join(tmpdir(), 'aiprod-webhook-cert-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=hooks.test',
    '-addext',
    'subjectAltName=DNS:hooks.test',
    '-keyout',
    join(certDir, 'key.pem'),
    '-out',
    join(certDir, 'cert.pem'),
  ],
  { stdio: 'ignore', timeout: 30_000 },
);
const TEST_KEY = readFileSync(join(certDir, 'key.pem'), 'utf8');
const TEST_CERT = readFileSync(join(certDir, 'cert.pem'), 'utf8');
rmSync(certDir, { recursive: true, force: true });

type Seen = { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string; servername?: string };
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;

/** A server on a loopback address that records every request it gets. */
async function loopbackServer(handler: Handler, opts: { host?: string; tls?: boolean } = {}) {
  const seen: Seen[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const record: Seen = {
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: '',
      servername: (req.socket as TLSSocket).servername || undefined,
    };
    seen.push(record);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      record.body = Buffer.concat(chunks).toString('utf8');
      handler(req, res, record);
    });
  };
  const server = opts.tls
    ? https.createServer({ key: TEST_KEY, cert: TEST_CERT }, listener)
    : http.createServer(listener);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  servers.push(server);
  return { server, port, origin, seen };
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const secret = generateWebhookSecret();
const body = JSON.stringify({ type: 'video.delivered', data: { jobId: 'job_42' } });
const signed = () => signWebhook({ id: 'msg_42', timestamp: Math.floor(Date.now() / 1000), body, secrets: [secret] });
const local = { allowLoopbackHttp: true, timeoutMs: 5000 };
const reply =
  (status: number, headers: Record<string, string> = {}, text = ''): Handler =>
  (_req, res) => {
    res.writeHead(status, headers);
    res.end(text);
  };
/** A resolver for test names only; anything else fails as not found, so no real DNS is used. */
const fakeDns = (map: Record<string, string[]>) => {
  const calls: string[] = [];
  const resolve = async (host: string) => {
    calls.push(host);
    const addresses = map[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses;
  };
  return { resolve, calls };
};

describe('sendWebhook against loopback servers', () => {
  it('POSTs the exact body and signed headers; a 200 is delivered', async () => {
    const target = await loopbackServer(reply(200, {}, 'ok'));
    const result = await sendWebhook({ url: `${target.origin}/hook?x=1`, body, headers: signed(), ...local });
    expect(result).toEqual({ status: 200, durationMs: expect.any(Number) });
    expect(classifyWebhookResponse(result)).toBe('delivered');
    const [request] = target.seen;
    expect(target.seen).toHaveLength(1);
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/hook?x=1');
    expect(request?.body).toBe(body);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['user-agent']).toMatch(/^AIPROD-Webhooks\//);
    expect(verifyWebhook({ headers: request?.headers ?? {}, body: request?.body ?? '', secret })).toEqual({ ok: true });
  });

  it('reports 500 and 429 with Retry-After (seconds and HTTP date), which stretch the retry delay', async () => {
    const failing = await loopbackServer(reply(500, { 'retry-after': '120' }));
    const five = await sendWebhook({ url: failing.origin, body, headers: signed(), ...local });
    expect(five).toMatchObject({ status: 500, retryAfterSeconds: 120 });
    expect(classifyWebhookResponse(five)).toBe('retry');
    expect(delayFor(2, five)).toBe(120); // longer than the scheduled 5 s
    expect(delayFor(3, five)).toBe(300); // shorter than the scheduled 5 min

    const when = new Date(Date.now() + 90_000).toUTCString();
    const limited = await loopbackServer(reply(429, { 'retry-after': when }));
    const busy = await sendWebhook({ url: limited.origin, body, headers: signed(), ...local });
    expect(busy.status).toBe(429);
    expect(busy.retryAfterSeconds).toBeGreaterThanOrEqual(88);
    expect(busy.retryAfterSeconds).toBeLessThanOrEqual(91);
    expect(classifyWebhookResponse(busy)).toBe('retry');

    const noHint = await loopbackServer(reply(503, { 'retry-after': 'soon' }));
    const plain = await sendWebhook({ url: noHint.origin, body, headers: signed(), ...local });
    expect(plain).toEqual({ status: 503, durationMs: expect.any(Number) });
  });

  it('410 disables the endpoint, 413 gives up, other 4xx retry', async () => {
    for (const [status, outcome] of [
      [410, 'disable'],
      [413, 'give_up'],
      [400, 'retry'],
      [401, 'retry'],
      [403, 'retry'],
      [404, 'retry'],
      [422, 'retry'],
    ] as const) {
      const target = await loopbackServer(reply(status));
      const result = await sendWebhook({ url: target.origin, body, headers: signed(), ...local });
      expect(result.status).toBe(status);
      expect(classifyWebhookResponse(result)).toBe(outcome);
    }
  });

  it('does not follow a redirect: the 3xx is the outcome and its target sees nothing', async () => {
    const elsewhere = await loopbackServer(reply(200));
    for (const status of [301, 302, 307, 308]) {
      const redirecting = await loopbackServer(reply(status, { location: `${elsewhere.origin}/stolen` }));
      const result = await sendWebhook({ url: redirecting.origin, body, headers: signed(), ...local });
      expect(result.status).toBe(status);
      expect(redirecting.seen).toHaveLength(1);
      expect(classifyWebhookResponse(result)).toBe('retry');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(elsewhere.seen).toHaveLength(0);
  });

  it('times out within about timeoutMs when the server never answers', async () => {
    const silent = await loopbackServer(() => {});
    const result = await sendWebhook({ url: silent.origin, body, headers: signed(), ...local, timeoutMs: 300 });
    expect(result).toEqual({ status: 0, error: 'timeout', durationMs: expect.any(Number) });
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
    expect(result.durationMs).toBeLessThan(1500);
    expect(classifyWebhookResponse(result)).toBe('retry');
    expect(silent.seen).toHaveLength(1);
  });

  it('keeps the status when the body stalls after the headers', async () => {
    const stalling = await loopbackServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const result = await sendWebhook({ url: stalling.origin, body, headers: signed(), ...local, timeoutMs: 300 });
    expect(result.status).toBe(200);
    expect(result.error).toBeUndefined();
    expect(result.durationMs).toBeLessThan(1500);
  });

  it('reads at most MAX_RESPONSE_BYTES of a huge body, then hangs up', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    let closed = false;
    const flooding = await loopbackServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.on('close', () => (closed = true));
      const pump = () => {
        // Bounded: at most 1 GiB, and it stops as soon as the client hangs up.
        while (!closed && written < 1024 ** 3) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const result = await sendWebhook({ url: flooding.origin, body, headers: signed(), ...local, timeoutMs: 10_000 });
    expect(result.status).toBe(200);
    expect(result.durationMs).toBeLessThan(3000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(true);
    expect(written).toBeLessThan(64 * 1024 * 1024); // socket buffers only, not the whole 1 GiB
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
    expect(MAX_RESPONSE_BYTES).toBe(64 * 1024);
  });

  it('turns network errors into status 0 and never throws', async () => {
    const gone = await loopbackServer(reply(200));
    const url = gone.origin;
    gone.server.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refused = await sendWebhook({ url, body, headers: signed(), ...local });
    expect(refused.status).toBe(0);
    expect(refused.error).toMatch(/ECONNREFUSED/);
    expect(classifyWebhookResponse(refused)).toBe('retry');

    const resetting = await loopbackServer((req) => req.socket.destroy());
    const reset = await sendWebhook({ url: resetting.origin, body, headers: signed(), ...local });
    expect(reset.status).toBe(0);
    expect(reset.error).toMatch(/ECONNRESET|socket hang up/);
  });

  it('re-runs the SSRF guard at send time: nothing is sent to a refused URL', async () => {
    const target = await loopbackServer(reply(200));
    const noLocal = await sendWebhook({ url: target.origin, body, headers: signed(), timeoutMs: 2000 });
    expect(noLocal).toMatchObject({ status: 0, blocked: 'https_required', error: 'blocked:https_required' });
    expect(classifyWebhookResponse(noLocal)).toBe('give_up');

    // The name now resolves (partly) into a private network: refused before any connection is made.
    const { resolve } = fakeDns({ 'hooks.test': ['127.0.0.1', '10.0.0.7'] });
    const rebound = await sendWebhook({
      url: `http://hooks.test:${target.port}/`,
      body,
      headers: signed(),
      ...local,
      resolve,
    });
    expect(rebound).toMatchObject({ status: 0, blocked: 'private_address' });

    const unresolvable = await sendWebhook({
      url: `http://nowhere.test:${target.port}/`,
      body,
      headers: signed(),
      ...local,
      resolve,
    });
    expect(unresolvable).toMatchObject({ status: 0, blocked: 'unresolvable' });
    expect(classifyWebhookResponse(unresolvable)).toBe('retry');
    expect(target.seen).toHaveLength(0);
  });

  it('counts DNS in the timeout', async () => {
    const never = () => new Promise<string[]>(() => {});
    const result = await sendWebhook({
      url: 'https://slow-dns.test/',
      body,
      headers: signed(),
      timeoutMs: 200,
      resolve: never,
    });
    expect(result).toMatchObject({ status: 0, error: 'timeout' });
    expect(result.durationMs).toBeLessThan(1000);
  });
});

describe('DNS pinning', () => {
  it('connects to the checked address and keeps the Host header of the hostname', async () => {
    const target = await loopbackServer(reply(204));
    const dns = fakeDns({ 'hooks.test': ['127.0.0.1'] });
    const result = await sendWebhook({
      url: `http://hooks.test:${target.port}/hook`,
      body,
      headers: { ...signed(), host: 'evil.test' },
      ...local,
      resolve: dns.resolve,
    });
    expect(result.status).toBe(204);
    expect(dns.calls).toEqual(['hooks.test']); // resolved once, by the guard; Node never asked DNS itself
    expect(target.seen[0]?.headers.host).toBe(`hooks.test:${target.port}`);
  });

  it('works for IPv6 loopback', async () => {
    const target = await loopbackServer(reply(200), { host: '::1' });
    const dns = fakeDns({ 'hooks.test': ['::1'] });
    const url = `http://hooks.test:${target.port}/`;
    const result = await sendWebhook({ url, body, headers: signed(), ...local, resolve: dns.resolve });
    expect(result.status).toBe(200);
    expect(target.seen[0]?.headers.host).toBe(`hooks.test:${target.port}`);
  });

  it('over https, sends SNI and checks the certificate for the hostname, not the pinned IP', async () => {
    const target = await loopbackServer(reply(200), { tls: true });
    const dns = fakeDns({ 'hooks.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] });
    const send = (host: string, ca?: string) =>
      sendWebhook({
        url: `https://${host}:${target.port}/hook`,
        body,
        headers: signed(),
        ...local,
        ca,
        resolve: dns.resolve,
      });

    const ok = await send('hooks.test', TEST_CERT);
    expect(ok.status).toBe(200);
    expect(target.seen[0]?.servername).toBe('hooks.test');
    expect(target.seen[0]?.headers.host).toBe(`hooks.test:${target.port}`);

    const wrongName = await send('other.test', TEST_CERT);
    expect(wrongName.status).toBe(0);
    expect(wrongName.error).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);

    const untrusted = await send('hooks.test');
    expect(untrusted.status).toBe(0);
    expect(untrusted.error).toMatch(/SELF_SIGNED|self.signed/i);
    expect(target.seen).toHaveLength(1);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['120', 120],
    [' 0 ', 0],
    ['Thu, 01 Jan 2026 00:01:30 GMT', 90],
    ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['-5', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%p → %p', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});
