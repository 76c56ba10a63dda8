import request from 'supertest';
import { SignJWT } from 'jose';
import { jobIn, startHarness, type Harness } from './harness';
import { reviewLinks, REVIEW_TOKEN_PREFIX } from '../src/review-links';

/**
 * Review links: a signed, expiring, job-scoped credential for the review page. A link opens its
 * own job and nothing else, carries at most its creator's scopes, and a tampered, expired or
 * foreign token is refused.
 */
const SECRET = Buffer.alloc(32, 9);
let h: Harness;
beforeAll(async () => {
  h = await startHarness('gw-review', {
    deps: () => ({ reviewLinks: reviewLinks(SECRET), publicBaseUrl: 'https://review.example.test' }),
  });
});
afterAll(() => h.close());

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
async function linkFor(jobId: string, key: string, body: object = {}) {
  const res = await request(h.app).post(`/v1/jobs/${jobId}/review-link`).set(bearer(key)).send(body);
  expect(res.status).toBe(201);
  const url = new URL(res.body.url as string);
  return {
    url,
    token: new URLSearchParams(url.hash.slice(1)).get('t')!,
    body: res.body as { scopes: string[]; expiresAt: string },
  };
}

describe('review links', () => {
  it('make a link on the public origin whose token reads its job and its job only', async () => {
    const jobId = await jobIn(h, 'AWAITING_APPROVAL');
    const other = await jobIn(h, 'AWAITING_APPROVAL');
    const { url, token, body } = await linkFor(jobId, h.keys.readWrite);
    expect(`${url.origin}${url.pathname}`).toBe(`https://review.example.test/review/${jobId}`);
    expect(token.startsWith(REVIEW_TOKEN_PREFIX)).toBe(true);
    expect(body.scopes.sort()).toEqual(['jobs:read', 'jobs:write']);
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(6 * 24 * 3600_000);

    expect((await request(h.app).get(`/v1/jobs/${jobId}`).set(bearer(token))).status).toBe(200);
    // Another job of the same tenant, the job list, and anything else under /v1: not found.
    for (const path of [`/v1/jobs/${other}`, '/v1/jobs', '/v1/presets', `/v1/jobs/${jobId}x`])
      expect({ path, status: (await request(h.app).get(path).set(bearer(token))).status }).toEqual({
        path,
        status: 404,
      });
    // A link cannot make links (its holder could otherwise outlive its expiry).
    // Whatever the spelling: express matches paths without regard to case or a trailing slash.
    for (const path of [
      `/v1/jobs/${jobId}/review-link`,
      `/v1/jobs/${jobId}/review-link/`,
      `/v1/jobs/${jobId}/Review-Link`,
    ])
      expect({ path, status: (await request(h.app).post(path).set(bearer(token)).send({})).status }).toEqual({
        path,
        status: 403,
      });
  });

  it("carries at most its creator's scopes: a read-only key's link cannot cancel", async () => {
    const jobId = await jobIn(h, 'AWAITING_APPROVAL');
    const { token, body } = await linkFor(jobId, h.keys.read);
    expect(body.scopes).toEqual(['jobs:read']);
    expect((await request(h.app).post(`/v1/jobs/${jobId}/cancel`).set(bearer(token))).status).toBe(403);
  });

  it('refuses a tampered, an expired, a foreign-key and a reworded token', async () => {
    const jobId = await jobIn(h, 'AWAITING_APPROVAL');
    const { token } = await linkFor(jobId, h.keys.readWrite);
    const [head, payload, sig] = token.slice(REVIEW_TOKEN_PREFIX.length).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'job_someone_else' })).toString('base64url');
    const expired = await reviewLinks(SECRET).sign({
      tenantId: h.tenantA,
      jobId,
      scopes: ['jobs:read'],
      expiresAt: new Date(Date.now() - 60_000),
    });
    const foreign = await reviewLinks(Buffer.alloc(32, 1)).sign({
      tenantId: h.tenantA,
      jobId,
      scopes: ['jobs:read'],
      expiresAt: new Date(Date.now() + 60_000),
    });
    const unsigned = `${REVIEW_TOKEN_PREFIX}${await new SignJWT({ ten: h.tenantA, scp: ['jobs:read'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(jobId)
      .setExpirationTime('1h')
      .sign(SECRET)}`; // no audience or issuer: not one of ours
    for (const [what, bad] of [
      ['tampered claims', `${REVIEW_TOKEN_PREFIX}${head}.${forged}.${sig}`],
      ['tampered signature', `${REVIEW_TOKEN_PREFIX}${head}.${payload}.${sig.slice(0, -2)}AA`],
      ['expired', expired],
      ['signed with another key', foreign],
      ['no audience', unsigned],
    ] as const) {
      const res = await request(h.app).get(`/v1/jobs/${jobId}`).set(bearer(bad));
      expect({ what, status: res.status, type: res.body.type }).toEqual({
        what,
        status: 401,
        type: expect.stringContaining('unauthenticated'),
      });
    }
  });

  it('serves the page as a static shell with its own strict policy, for anyone (it holds no data)', async () => {
    const res = await request(h.app).get('/review/job_anything');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect((await request(h.app).get('/review-assets/review.js')).status).toBe(200);
    // Encoded, so that the client sends the dots as they are (a plain ../ is resolved before sending).
    for (const path of ['/review-assets/%2e%2e/%2e%2e/package.json', '/review-assets/..%2f..%2fpackage.json']) {
      const res = await request(h.app).get(path);
      expect({ path, status: res.status }).not.toEqual({ path, status: 200 });
      expect(res.text).not.toContain('"name"');
    }
  });
});
