import request from 'supertest';
import { generateApiKey, TenantStore } from '@aiprod/job-store';
import { authFailureLimit } from '../src/auth-failure-limit';
import { startHarness, type Harness } from './harness';

const LIMIT = 5;
/** Well-formed (prefix, alphabet, checksum) but never stored: each costs a Firestore read to refuse. */
const unknownKeys = new Map<number, string>();
const unknownKey = (n: number) => {
  if (!unknownKeys.has(n)) unknownKeys.set(n, generateApiKey('test'));
  return unknownKeys.get(n)!;
};

/** The tenant and key store, counting every credential read the gateway makes. */
let keyReads = 0;
let tenantReads = 0;
class CountingTenantStore extends TenantStore {
  override verifyApiKey(...args: Parameters<TenantStore['verifyApiKey']>) {
    keyReads++;
    return super.verifyApiKey(...args);
  }
  override getTenant(...args: Parameters<TenantStore['getTenant']>) {
    tenantReads++;
    return super.getTenant(...args);
  }
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness('gateway-auth-limit', {
    deps: ({ db }) => ({
      tenants: new CountingTenantStore(db),
      authFailureLimit: authFailureLimit({ limit: LIMIT }),
      // Each test speaks from addresses of its own (X-Forwarded-For from a trusted proxy).
      trustProxyHops: 1,
    }),
  });
}, 30_000);
afterAll(() => h?.close());
beforeEach(() => {
  keyReads = 0;
  tenantReads = 0;
});

const get = (path: string, key?: string, from = '127.0.0.1') => {
  const r = request(h.app).get(path).set('X-Forwarded-For', from);
  return key ? r.set('Authorization', `Bearer ${key}`) : r;
};

describe('failed-authentication limit per client address (fault 14)', () => {
  it('answers 429 problem+json with Retry-After after the limit, and reads the key store at most the limit', async () => {
    const statuses: number[] = [];
    let limited: request.Response | undefined;
    for (let n = 0; n < LIMIT * 4; n++) {
      const res = await get('/v1/jobs', unknownKey(n));
      statuses.push(res.status);
      limited ??= res.status === 429 ? res : undefined;
    }
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses.slice(LIMIT)).toEqual(Array(LIMIT * 3).fill(429));
    expect(keyReads).toBe(LIMIT);
    expect(keyReads + tenantReads).toBeLessThanOrEqual(LIMIT);
    expect(limited!.type).toBe('application/problem+json');
    expect(limited!.body.type).toBe('/problems/rate-limited');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // Health checks are never limited.
    expect((await get('/healthz')).status).toBe(200);
  });

  it('a burst of concurrent bad keys gets no more reads than the limit', async () => {
    const h2 = await startHarness('gateway-auth-limit-burst', {
      deps: ({ db }) => ({
        tenants: new CountingTenantStore(db),
        authFailureLimit: authFailureLimit({ limit: LIMIT }),
      }),
    });
    try {
      keyReads = 0;
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, n) =>
          request(h2.app)
            .get('/v1/jobs')
            .set('Authorization', `Bearer ${unknownKey(n)}`),
        ),
      );
      expect(results.filter((r) => r.status === 401)).toHaveLength(LIMIT);
      expect(results.filter((r) => r.status === 429)).toHaveLength(30 - LIMIT);
      expect(keyReads).toBe(LIMIT);
    } finally {
      await h2.close();
    }
  });

  it('a key that works is not locked out by failures from its address; other addresses are unaffected', async () => {
    const from = '127.0.0.2';
    const ok = await get('/v1/jobs', h.keys.read, from);
    expect(ok.status).toBe(200);
    for (let n = 0; n < LIMIT + 2; n++) await get('/v1/jobs', unknownKey(100 + n), from);
    expect((await get('/v1/jobs', unknownKey(999), from)).status).toBe(429);
    // Known on this instance: still served, and still verified against the store.
    keyReads = 0;
    expect((await get('/v1/jobs', h.keys.read, from)).status).toBe(200);
    expect(keyReads).toBe(1);
    // No credentials at all count as failures too; another address still gets through.
    expect((await get('/v1/jobs', undefined, from)).status).toBe(429);
    expect((await get('/v1/jobs', unknownKey(1000), '127.0.0.3')).status).toBe(401);
  });

  it('successful requests do not use up the budget', async () => {
    const from = '127.0.0.4';
    for (let n = 0; n < LIMIT * 3; n++) expect((await get('/v1/jobs', h.keys.read, from)).status).toBe(200);
    expect((await get('/v1/jobs', unknownKey(2000), from)).status).toBe(401);
  });
});
