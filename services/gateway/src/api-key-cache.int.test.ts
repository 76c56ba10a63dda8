import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { TenantStore, generateApiKey } from '@aiprod/job-store';
import { emulatorProject } from '@aiprod/testing';
import { authenticate } from './auth';
import { HttpProblem, sendProblem } from './problem';

// The verified-key cache (API_KEY_CACHE_SECONDS): what it saves, and what it must never allow.
const env = emulatorProject('gw-key-cache', 'gateway');
const { db } = env;
/** The admin side (the CLI, another process): revokes and creates keys without touching the gateway's cache. */
const admin = new TenantStore(db);

/** A gateway's authentication with its own TenantStore, counting the key reads it makes. */
function gatewayWith(apiKeyCacheMs: number) {
  const reads = { apiKeys: 0 };
  const counting = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'collection') {
        return (name: string) => {
          if (name === 'apiKeys') reads.apiKeys++;
          return target.collection(name);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const auth = authenticate({
    tenants: new TenantStore(counting),
    apiKeyCacheMs,
    tenantCacheMs: 0,
    // No lastUsedAt writes, so that every apiKeys access counted is a verification's read.
    touchIntervalMs: Number.MAX_SAFE_INTEGER,
  });
  const app = express();
  app.use((req, _res, next) => {
    req.requestId = 'test';
    next();
  });
  app.get('/whoami', auth, (req, res) => void res.json({ tenantId: req.principal?.tenantId }));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    res.setHeader('x-test-auth-failure', String(res.locals.authFailure ?? ''));
    if (error instanceof HttpProblem) return sendProblem(res, error, req.path, req.requestId);
    res.status(500).json({ error: String(error) });
  });
  return { app, reads, close: () => auth.close() };
}

const whoami = (app: express.Express, key: string) => request(app).get('/whoami').set('Authorization', `Bearer ${key}`);

beforeAll(async () => {
  await admin.createTenant({ tenantId: 'acme', name: 'Acme' });
  await admin.createTenant({ tenantId: 'other', name: 'Other' });
});

afterAll(() => env.close());

describe('verified API keys cached per process', () => {
  it('reads a key once per TTL, and a revocation reaches the process within the TTL', async () => {
    const ttlMs = 1500;
    const gw = gatewayWith(ttlMs);
    const { key } = await admin.createApiKey('acme', ['jobs:read'], 'test');
    expect((await whoami(gw.app, key)).status).toBe(200);
    expect((await whoami(gw.app, key)).status).toBe(200);
    expect(gw.reads.apiKeys).toBe(1);

    const revokedAt = Date.now();
    await admin.revokeApiKeyByPrefixOrKey(key);
    // Polled: refused no later than the TTL after the revocation (plus one request's time).
    let refusedAfterMs: number | undefined;
    for (let i = 0; i < 40 && refusedAfterMs === undefined; i++) {
      const res = await whoami(gw.app, key);
      if (res.status === 401) refusedAfterMs = Date.now() - revokedAt;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(refusedAfterMs).toBeDefined();
    expect(refusedAfterMs!).toBeLessThan(ttlMs + 500);
    // A failed verification is not cached as a success: refused from then on.
    const again = await whoami(gw.app, key);
    expect({ status: again.status, reason: again.headers['x-test-auth-failure'] }).toEqual({
      status: 401,
      reason: 'api key revoked',
    });
    await gw.close();
  });

  it('with a TTL of 0 every request reads its key, and a revocation applies at once', async () => {
    const gw = gatewayWith(0);
    const { key } = await admin.createApiKey('acme', ['jobs:read'], 'test');
    expect((await whoami(gw.app, key)).status).toBe(200);
    expect((await whoami(gw.app, key)).status).toBe(200);
    expect(gw.reads.apiKeys).toBe(2);
    await admin.revokeApiKeyByPrefixOrKey(key);
    const res = await whoami(gw.app, key);
    expect({ status: res.status, reason: res.headers['x-test-auth-failure'] }).toEqual({
      status: 401,
      reason: 'api key revoked',
    });
    await gw.close();
  });

  it('refuses an expired key even while it is cached', async () => {
    const gw = gatewayWith(60_000);
    const expiresAt = new Date(Date.now() + 1000);
    const { key } = await admin.createApiKey('acme', ['jobs:read'], 'test', { expiresAt });
    expect((await whoami(gw.app, key)).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now()) + 50));
    const res = await whoami(gw.app, key);
    expect({ status: res.status, reason: res.headers['x-test-auth-failure'] }).toEqual({
      status: 401,
      reason: 'api key expired',
    });
    // Refused from the cached record itself, without waiting for the TTL or reading again.
    expect(gw.reads.apiKeys).toBe(1);
    await gw.close();
  });

  it("caches keys apart: another tenant's key, or an unknown one, never matches a cached key", async () => {
    const gw = gatewayWith(60_000);
    const acme = await admin.createApiKey('acme', ['jobs:read'], 'test');
    const other = await admin.createApiKey('other', ['jobs:read'], 'test');
    for (let i = 0; i < 2; i++) {
      expect((await whoami(gw.app, acme.key)).body).toEqual({ tenantId: 'acme' });
      expect((await whoami(gw.app, other.key)).body).toEqual({ tenantId: 'other' });
    }
    expect(gw.reads.apiKeys).toBe(2);
    // Unknown keys are read every time (never cached), and refused every time.
    const unknown = generateApiKey('test');
    for (let i = 0; i < 2; i++) {
      const res = await whoami(gw.app, unknown);
      expect({ status: res.status, reason: res.headers['x-test-auth-failure'] }).toEqual({
        status: 401,
        reason: 'api key unknown',
      });
    }
    expect(gw.reads.apiKeys).toBe(4);
    await gw.close();
  });
});
