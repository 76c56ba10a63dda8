import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { Timestamp } from '@google-cloud/firestore';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { TenantStore, generateApiKey, hashApiKey } from '@aiprod/job-store';
import { emulatorProject } from '@aiprod/testing';
import { authenticate, requireScope } from './auth';
import { createOidcVerifier } from './oidc';
import { HttpProblem, sendProblem } from './problem';

const env = emulatorProject('gw-auth', 'gateway');
const { db } = env;
const tenants = new TenantStore(db);

/** A local identity provider: a JWKS on 127.0.0.1 with an RSA and an EC key. */
let jwksServer: Server;
let jwksUrl: string;
let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
let ec: { privateKey: CryptoKey; publicKey: CryptoKey };
let stranger: { privateKey: CryptoKey; publicKey: CryptoKey };
const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'aiprod-api';

function appWith(auth: express.RequestHandler) {
  const app = express();
  app.use((req, _res, next) => {
    req.requestId = 'test';
    next();
  });
  app.get('/whoami', auth, (req, res) => void res.json({ principal: req.principal, tenant: req.tenant?.tenantId }));
  app.post('/write', auth, requireScope('jobs:write'), (_req, res) => void res.status(204).end());
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    // The reason the audit log would get, exposed here so each refusal is proven to be for its own cause.
    res.setHeader('x-test-auth-failure', String(res.locals.authFailure ?? ''));
    if (error instanceof HttpProblem) return sendProblem(res, error, req.path, req.requestId);
    res.status(500).json({ error: String(error) });
  });
  return app;
}

let app: express.Express;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  ec = await generateKeyPair('ES256', { extractable: true });
  stranger = await generateKeyPair('RS256', { extractable: true });
  const keys: JWK[] = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ];
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  app = appWith(
    authenticate({
      tenants,
      oidc: createOidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl }),
      tenantCacheMs: 0,
    }),
  );
  await tenants.createTenant({ tenantId: 'acme', name: 'Acme' });
  await tenants.createTenant({ tenantId: 'other', name: 'Other' });
  await tenants.createTenant({ tenantId: 'gone', name: 'Gone' });
  await tenants.setTenantDisabled('gone', true);
});

afterAll(async () => {
  await new Promise((resolve) => jwksServer.close(resolve));
  await env.close();
});

const bearer = (credential: string) => ({ Authorization: `Bearer ${credential}` });

/** Every refusal: a 401 problem that never repeats what was sent. */
async function expect401(credential: string | null, reason?: string | RegExp) {
  const req = request(app).get('/whoami');
  const res = credential === null ? await req : await req.set(bearer(credential));
  expect(res.status).toBe(401);
  expect(res.type).toBe('application/problem+json');
  expect(res.body.type).toBe('/problems/unauthenticated');
  if (credential) {
    expect(res.text).not.toContain(credential);
    // Not even a recognisable piece of it.
    expect(res.text).not.toContain(credential.slice(-20));
  }
  if (reason) expect(res.headers['x-test-auth-failure']).toMatch(reason);
  return res;
}

describe('API keys', () => {
  it('accepts a live key and names the caller by prefix only', async () => {
    const { key, record } = await tenants.createApiKey('acme', ['jobs:read'], 'test');
    const res = await request(app).get('/whoami').set(bearer(key));
    expect(res.status).toBe(200);
    expect(res.body.principal).toEqual({
      tenantId: 'acme',
      scopes: ['jobs:read'],
      keyPrefix: record.prefix,
      via: 'api_key',
    });
    expect(key.startsWith(record.prefix)).toBe(true);
    expect(record.prefix.length).toBe(key.length - 30);
  });

  it('refuses no header, a malformed header, a wrong key and a key of another format', async () => {
    await expect401(null, 'no credentials');
    const res = await request(app).get('/whoami').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(res.status).toBe(401);
    await expect401(generateApiKey('test'), 'api key unknown'); // well formed, never stored
    await expect401('sk_live_abcdefabcdefabcdef', 'unrecognised credential');
  });

  it('never reads Firestore for a token whose checksum is wrong', async () => {
    let reads = 0;
    const counting = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === 'collection') reads++;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const offline = appWith(authenticate({ tenants: new TenantStore(counting), tenantCacheMs: 0 }));
    const { key } = await tenants.createApiKey('acme', ['jobs:read'], 'test');
    const typo = key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21);
    expect((await request(offline).get('/whoami').set(bearer(typo))).status).toBe(401);
    expect(
      (
        await request(offline)
          .get('/whoami')
          .set(bearer(`aiprod_test_${'x'.repeat(38)}`))
      ).status,
    ).toBe(401);
    expect(reads).toBe(0);
    expect((await request(offline).get('/whoami').set(bearer(key))).status).toBe(200);
    expect(reads).toBeGreaterThan(0);
  });

  it('refuses a revoked key at once, and an expired one', async () => {
    const { key } = await tenants.createApiKey('acme', ['jobs:read'], 'test');
    expect((await request(app).get('/whoami').set(bearer(key))).status).toBe(200);
    await tenants.revokeApiKeyByPrefixOrKey(key);
    const res = await expect401(key, 'api key revoked');
    expect(res.body.detail).toMatch(/unknown, revoked or expired/);

    const soon = await tenants.createApiKey('acme', ['jobs:read'], 'test', { expiresAt: new Date(Date.now() - 1) });
    await expect401(soon.key, 'api key expired');
  });

  it('rotation: both keys work during the overlap, then only the new one', async () => {
    const { key: oldKey, record } = await tenants.createApiKey('acme', ['jobs:read', 'jobs:write'], 'test');
    const rotated = await tenants.rotateApiKey({
      tenantId: 'acme',
      prefix: record.prefix,
      overlapMs: 60_000,
      env: 'test',
    });
    expect(rotated.record.scopes).toEqual(['jobs:read', 'jobs:write']);
    expect((await request(app).get('/whoami').set(bearer(oldKey))).status).toBe(200);
    expect((await request(app).get('/whoami').set(bearer(rotated.key))).status).toBe(200);
    // A second rotation of the same old key is refused (it already has a successor).
    await expect(
      tenants.rotateApiKey({ tenantId: 'acme', prefix: record.prefix, overlapMs: 0, env: 'test' }),
    ).rejects.toThrow(/already rotated/);
    // The overlap ends (moved into the past here rather than waiting a minute).
    await db
      .collection('apiKeys')
      .doc(hashApiKey(oldKey))
      .update({ expiresAt: Timestamp.fromMillis(Date.now() - 1) });
    await expect401(oldKey, 'api key expired');
    expect((await request(app).get('/whoami').set(bearer(rotated.key))).status).toBe(200);
  });

  it('records lastUsedAt, at most once per interval', async () => {
    const { key } = await tenants.createApiKey('acme', ['jobs:read'], 'test');
    const ref = db.collection('apiKeys').doc(hashApiKey(key));
    let writes = 0;
    const counting = new TenantStore(db);
    const touch = counting.touchApiKey.bind(counting);
    counting.touchApiKey = async (...args) => {
      writes++;
      return touch(...args);
    };
    const throttled = appWith(authenticate({ tenants: counting, tenantCacheMs: 0, touchIntervalMs: 60_000 }));
    for (let i = 0; i < 5; i++) expect((await request(throttled).get('/whoami').set(bearer(key))).status).toBe(200);
    const first = await ref.get();
    expect(first.get('lastUsedAt')).toBeInstanceOf(Timestamp);
    expect(writes).toBe(1);
  });

  it('refuses a key of a disabled tenant; scopes are enforced', async () => {
    const { key } = await tenants.createApiKey('gone', ['jobs:read'], 'test');
    await expect401(key, 'tenant missing or disabled');
    const reader = await tenants.createApiKey('acme', ['jobs:read'], 'test');
    const res = await request(app).post('/write').set(bearer(reader.key));
    expect(res.status).toBe(403);
    const writer = await tenants.createApiKey('acme', ['jobs:write'], 'test');
    expect((await request(app).post('/write').set(bearer(writer.key))).status).toBe(204);
  });
});

describe('OIDC tokens', () => {
  const sign = (
    claims: Record<string, unknown>,
    opts: { key?: CryptoKey; alg?: string; kid?: string; iss?: string; aud?: string; exp?: string | number } = {},
  ) => {
    const jwt = new SignJWT({ aiprod_tenant: 'acme', scope: 'jobs:read jobs:write openid', ...claims })
      .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'rsa-1' })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? AUDIENCE)
      .setSubject('user-42')
      .setIssuedAt();
    if (opts.exp !== undefined) jwt.setExpirationTime(opts.exp);
    else jwt.setExpirationTime('5m');
    return jwt.sign(opts.key ?? rsa.privateKey);
  };

  it('accepts RS256 and ES256 tokens and maps the scope claim onto ours', async () => {
    const res = await request(app)
      .get('/whoami')
      .set(bearer(await sign({})));
    expect(res.status).toBe(200);
    expect(res.body.principal).toEqual({
      tenantId: 'acme',
      scopes: ['jobs:read', 'jobs:write'],
      keyPrefix: 'oidc:user-42',
      via: 'oidc',
      subject: 'user-42',
    });
    const es = await sign({ scope: 'jobs:read' }, { key: ec.privateKey, alg: 'ES256', kid: 'ec-1' });
    const r2 = await request(app).get('/whoami').set(bearer(es));
    expect(r2.status).toBe(200);
    expect(r2.body.principal.scopes).toEqual(['jobs:read']);
  });

  it('honours the clock tolerance (30 s by default)', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(
      (
        await request(app)
          .get('/whoami')
          .set(bearer(await sign({}, { exp: now - 10 })))
      ).status,
    ).toBe(200);
    await expect401(await sign({}, { exp: now - 120 }), 'jwt expired');
  });

  it('refuses wrong audience, wrong issuer, unknown kid, a key not in the set, no exp', async () => {
    await expect401(await sign({}, { aud: 'someone-else' }), 'jwt claim aud');
    await expect401(await sign({}, { iss: 'https://evil.example.test/' }), 'jwt claim iss');
    await expect401(await sign({}, { kid: 'nope', key: stranger.privateKey }), 'jwt unknown signing key');
    await expect401(await sign({}, { kid: 'rsa-1', key: stranger.privateKey }), 'jwt bad signature');
    const noExp = await new SignJWT({ aiprod_tenant: 'acme' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(rsa.privateKey);
    await expect401(noExp, 'jwt claim exp');
  });

  it('refuses alg none and HS256 signed with the public key as the secret', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-42',
      aiprod_tenant: 'acme',
      scope: 'admin',
      exp: Math.floor(Date.now() / 1000) + 300,
    };
    await expect401(
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      /jwt (algorithm not allowed|unsupported|malformed)/,
    );
    await expect401(
      `${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(claims)}.`,
      /jwt (algorithm not allowed|unsupported|malformed)/,
    );
    const pem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(pem);
    await expect401(confused, 'jwt algorithm not allowed');
    expect(() => createOidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, algorithms: ['HS256'] })).toThrow(
      /asymmetric/,
    );
  });

  it('refuses a token without the tenant claim, for an unknown tenant, or a disabled one', async () => {
    await expect401(await sign({ aiprod_tenant: undefined }), /jwt claim aiprod_tenant/);
    await expect401(await sign({ aiprod_tenant: ['acme'] }), 'jwt bad tenant claim');
    await expect401(await sign({ aiprod_tenant: 'nobody' }), 'tenant missing or disabled');
    await expect401(await sign({ aiprod_tenant: 'gone' }), 'tenant missing or disabled');
  });

  it('a token for another tenant acts for that tenant only', async () => {
    const res = await request(app)
      .get('/whoami')
      .set(bearer(await sign({ aiprod_tenant: 'other' })));
    expect(res.body.tenant).toBe('other');
  });

  it('refuses JWTs where OIDC is not configured, and answers 503 when the key set cannot be fetched', async () => {
    const keysOnly = appWith(authenticate(tenants));
    expect(
      (
        await request(keysOnly)
          .get('/whoami')
          .set(bearer(await sign({})))
      ).status,
    ).toBe(401);
    const down = appWith(
      authenticate({
        tenants,
        oidc: createOidcVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          jwksUrl: 'http://127.0.0.1:1/jwks.json',
          jwksTimeoutMs: 1000,
        }),
      }),
    );
    const res = await request(down)
      .get('/whoami')
      .set(bearer(await sign({})));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });
});
