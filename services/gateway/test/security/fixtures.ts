import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { aPng } from '@aiprod/testing';
import { IdempotencyStore } from '@aiprod/job-store';
import { idempotent } from '../../src/idempotency';
import { createOidcVerifier } from '../../src/oidc';
import { enforceJobQuotas, JobQuotas } from '../../src/quotas';
import { tenantRateLimit } from '../../src/rate-limit';
import type { GatewayDeps } from '../../src/app';
import { BRIEF, startHarness, type Harness } from '../harness';

export const ISSUER = 'https://idp.example.test/';
export const AUDIENCE = 'aiprod-api';

/** A local identity provider: a JWKS on 127.0.0.1 with one RSA key, and a signer for good and bad tokens. */
export interface LocalIdp {
  jwksUrl: string;
  sign(opts?: {
    tenant?: string;
    scope?: string;
    iss?: string;
    aud?: string;
    exp?: number | string;
    sub?: string;
  }): Promise<string>;
  /** Tokens that must never be accepted, by name, all claiming `tenant` with the admin scope. */
  attacks(tenant: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export async function startLocalIdp(): Promise<LocalIdp> {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const stranger: { privateKey: CryptoKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;

  const sign: LocalIdp['sign'] = (opts = {}) =>
    new SignJWT({ aiprod_tenant: opts.tenant ?? 'tenant-a', scope: opts.scope ?? 'admin' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? AUDIENCE)
      .setSubject(opts.sub ?? 'user-42')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(rsa.privateKey);

  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return {
    jwksUrl,
    sign,
    async attacks(tenant) {
      const claims = {
        iss: ISSUER,
        aud: AUDIENCE,
        sub: 'attacker',
        aiprod_tenant: tenant,
        scope: 'admin',
        exp: Math.floor(Date.now() / 1000) + 300,
      };
      const pem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
      const now = Math.floor(Date.now() / 1000);
      return {
        // Past the 30 s clock tolerance.
        'expired token': await sign({ tenant, exp: now - 300 }),
        'wrong-audience token': await sign({ tenant, aud: 'someone-else' }),
        'wrong-issuer token': await sign({ tenant, iss: 'https://evil.example.test/' }),
        'alg none token': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
        'alg none token with a known kid': `${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(claims)}.`,
        // The classic confusion: the issuer's public key used as an HMAC secret.
        'HS256 token signed with the public key': await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
          .sign(pem),
        'token signed by a key not in the JWKS': await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
          .sign(stranger.privateKey),
        'token with a tampered payload': await (async () => {
          const [h, , s] = (await sign({ tenant: 'tenant-b' })).split('.');
          return `${h}.${b64({ ...claims })}.${s}`;
        })(),
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The harness with everything main.ts wires: OIDC against the local IdP, the Firestore rate limit,
 * Idempotency-Key handling and quotas (limits high enough that a 429 never hides a result).
 */
export async function startSecureHarness(
  name: string,
  idp: LocalIdp,
  extra: Partial<GatewayDeps> = {},
): Promise<Harness> {
  return startHarness(name, {
    deps: ({ db, tenants }) => ({
      oidc: createOidcVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: idp.jwksUrl }),
      rateLimit: tenantRateLimit({ db, tenants, defaultRequestsPerMinute: 100_000 }),
      idempotency: idempotent(new IdempotencyStore(db, { ttlMs: 24 * 3600_000 })),
      jobQuotas: enforceJobQuotas(
        new JobQuotas({
          db,
          defaults: { maxConcurrentJobs: 100_000, maxJobsPerDay: 100_000, monthlySpendCapUsd: null },
        }),
      ),
      ...extra,
    }),
  });
}

/** The local IdP and the secure harness on it: what every security suite starts first. */
export async function startSecureSuite(
  name: string,
  extra: Partial<GatewayDeps> = {},
): Promise<{ h: Harness; idp: LocalIdp }> {
  const idp = await startLocalIdp();
  try {
    return { h: await startSecureHarness(name, idp, extra), idp };
  } catch (e) {
    await idp.close();
    throw e;
  }
}

/** Ends what startSecureSuite started; either is missing when the suite's beforeAll failed. */
export async function closeSecureSuite(suite: { h?: Harness; idp?: LocalIdp }): Promise<void> {
  await suite.h?.close();
  await suite.idp?.close();
}

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export interface DocumentedOperation {
  method: Method;
  /** OpenAPI form, e.g. /v1/jobs/{id}. */
  path: string;
  /** The scope the document says the operation needs. */
  scope: 'jobs:read' | 'jobs:write' | 'jobs:approve' | 'admin';
}

/** Every authenticated operation, read from the document the gateway serves (not from a list of ours). */
export async function authenticatedOperations(app: Harness['app']): Promise<DocumentedOperation[]> {
  const doc = (await request(app).get('/v1/openapi.json')).body as {
    paths: Record<string, Record<string, { security: { apiKey?: string[] }[] }>>;
  };
  const out: DocumentedOperation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (op.security.length === 0) continue;
      const scope = op.security.find((s) => s.apiKey)?.apiKey?.[0] as DocumentedOperation['scope'];
      out.push({ method: method as Method, path, scope });
    }
  }
  return out;
}

/** A request for a documented operation with its path parameters filled and a plausible body. */
export function send(
  app: Harness['app'],
  op: Pick<DocumentedOperation, 'method' | 'path'>,
  jobId: string,
  authorization?: string,
) {
  const url = op.path.replace('{id}', jobId);
  let r = request(app)[op.method](url);
  if (authorization !== undefined) r = r.set('Authorization', authorization);
  if (op.method === 'post' && (op.path === '/v1/jobs' || op.path === '/v1/estimates')) return r.send(BRIEF);
  if (op.method === 'put' && op.path === '/v1/webhook') return r.send({ url: 'https://hooks.example.com/hook' });
  if (op.method === 'post' && op.path === '/v1/assets') return r.set('Content-Type', 'image/png').send(aPng(8, 8));
  return r;
}

/** A job of `tenantId` in the given state, written straight to the store. */
export { jobIn } from '../harness';

export const PROBLEM_JSON = /^application\/problem\+json/;
