import type { NextFunction, Request, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { TenantStore, hashApiKey, type ApiKeyCheck, type ApiKeyScope, type Tenant } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { BackgroundWork } from './background';
import { OidcRejected, OidcUnavailable, type OidcVerifier } from './oidc';
import { HttpProblem } from './problem';
import { REVIEW_TOKEN_PREFIX, ReviewLinkRejected, type ReviewLinks } from './review-links';

/** An API key's last-used time is written at most this often (a write per request would be a hot document). */
const KEY_TOUCH_INTERVAL_MS = 60_000;
/**
 * Verified keys one process remembers at most. Only keys that passed verification get in, so
 * the bound is about live keys in use, not about what a client can send: unknown, malformed,
 * revoked and expired keys are never cached (each costs its read, and the failed-authentication
 * limit stops a guessing loop first).
 */
const API_KEY_CACHE_MAX = 10_000;

export interface Principal {
  tenantId: string;
  scopes: ApiKeyScope[];
  /** What the audit log names the caller by: the key's prefix, or `oidc:<subject>`. Never a secret. */
  keyPrefix: string;
  via: 'api_key' | 'oidc' | 'review_link';
  subject?: string;
  /** A review link's holder: the one job it may use (see confineReviewLinks). */
  jobId?: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      principal?: Principal;
      /** The caller's tenant document (possibly a few seconds old; see AuthOptions.tenantCacheMs). */
      tenant?: Tenant;
      requestId: string;
    }
  }
}

export interface AuthOptions {
  tenants: TenantStore;
  /** Accept OIDC JWTs as well as API keys (absent: JWTs are refused). */
  oidc?: OidcVerifier;
  /** How old a cached tenant document may be (its limits and `disabled` flag apply that late). Default 5 s. */
  tenantCacheMs?: number;
  /**
   * How long a verified API key is trusted without reading its record again (API_KEY_CACHE_SECONDS):
   * a revocation takes at most this long to reach this process. An expiry (expiresAt) is checked on
   * every request, cached or not. Default 0: every request reads its key.
   */
  apiKeyCacheMs?: number;
  /** lastUsedAt is written at most this often per key and process. Default 60 s. */
  touchIntervalMs?: number;
  /** For failures writing lastUsedAt (which never fail the request). */
  log?: Pick<Log, 'warn'>;
  /** Accept review-link tokens (absent: they are refused). */
  reviewLinks?: ReviewLinks;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/**
 * Authentication: `Authorization: Bearer <API key or OIDC JWT>`. Every refusal is a 401 whose
 * detail never repeats the credential; the precise reason goes to `res.locals.authFailure`
 * for the audit log. Accepts `authenticate(tenants)` (API keys only) or `authenticate({ tenants, oidc })`.
 */
export function authenticate(optionsOrTenants: AuthOptions | TenantStore) {
  const options: AuthOptions =
    optionsOrTenants instanceof TenantStore ? { tenants: optionsOrTenants } : optionsOrTenants;
  const { tenants, oidc } = options;
  const tenantCacheMs = options.tenantCacheMs ?? 5000;
  const touchIntervalMs = options.touchIntervalMs ?? KEY_TOUCH_INTERVAL_MS;
  const apiKeyCacheMs = options.apiKeyCacheMs ?? 0;
  // Keyed by the key's SHA-256 (the id of its record), never by the key itself.
  const verifiedKeys =
    apiKeyCacheMs > 0
      ? new LRUCache<string, Extract<ApiKeyCheck, { ok: true }>>({ max: API_KEY_CACHE_MAX, ttl: apiKeyCacheMs })
      : undefined;

  const verifyApiKey = async (token: string): Promise<ApiKeyCheck> => {
    if (!verifiedKeys) return tenants.verifyApiKey(token);
    const now = Date.now();
    const keyHash = hashApiKey(token);
    const hit = verifiedKeys.get(keyHash);
    if (hit) {
      // Expiry is a fact of the record we hold, so it is exact even from the cache.
      if (!hit.record.expiresAt || hit.record.expiresAt.toMillis() > now) return hit;
      verifiedKeys.delete(keyHash);
      return { ok: false, reason: 'expired' };
    }
    const check = await tenants.verifyApiKey(token, new Date(now));
    if (check.ok) verifiedKeys.set(check.keyHash, check);
    return check;
  };
  // Bounded by the number of live keys; entries are tiny (hash → ms).
  const touched = new Map<string, number>();
  const background = new BackgroundWork();

  const touch = (keyHash: string, lastUsedMs: number) => {
    const now = Date.now();
    const last = Math.max(lastUsedMs, touched.get(keyHash) ?? 0);
    if (now - last < touchIntervalMs) return;
    if (touched.size >= 100_000) touched.clear();
    touched.set(keyHash, now);
    // After the response, not before it; close() waits for it.
    background.start(
      () => tenants.touchApiKey(keyHash, new Date(now)),
      (error: unknown) => options.log?.warn('could not record API key use', { error: (error as Error).message }),
    );
  };

  const refuse = (res: Response, reason: string, detail: string) => {
    res.locals.authFailure = reason;
    return new HttpProblem('unauthenticated', detail);
  };

  const handler = async (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    if (!header) {
      return next(refuse(res, 'no credentials', 'send an API key or a token as "Authorization: Bearer <credential>"'));
    }
    const match = /^Bearer[ ]+([\x21-\x7e]{1,4096})$/i.exec(header.trim());
    if (!match) return next(refuse(res, 'malformed header', 'the Authorization header must be "Bearer <credential>"'));
    const token = match[1]!;

    let principal: Principal;
    if (token.startsWith(REVIEW_TOKEN_PREFIX)) {
      if (!options.reviewLinks) return next(refuse(res, 'review links off', 'this gateway issues no review links'));
      try {
        const grant = await options.reviewLinks.verify(token);
        principal = {
          tenantId: grant.tenantId,
          scopes: grant.scopes,
          keyPrefix: `review:${grant.jobId}`,
          via: 'review_link',
          jobId: grant.jobId,
        };
      } catch (e) {
        if (e instanceof ReviewLinkRejected) return next(refuse(res, `review link: ${e.message}`, e.message));
        throw e;
      }
    } else if (token.startsWith('aiprod_')) {
      const check = await verifyApiKey(token);
      if (!check.ok) {
        return next(
          refuse(
            res,
            `api key ${check.reason}`,
            check.reason === 'malformed'
              ? 'the credential is not a valid API key'
              : 'the API key is not valid (unknown, revoked or expired)',
          ),
        );
      }
      const { record, keyHash } = check;
      touch(keyHash, record.lastUsedAt?.toMillis() ?? 0);
      principal = { tenantId: record.tenantId, scopes: record.scopes, keyPrefix: record.prefix, via: 'api_key' };
    } else if (JWT_SHAPE.test(token)) {
      if (!oidc) return next(refuse(res, 'jwt without oidc', 'this gateway accepts API keys only'));
      try {
        const identity = await oidc.verify(token);
        principal = {
          tenantId: identity.tenantId,
          scopes: identity.scopes,
          keyPrefix: `oidc:${identity.subject}`,
          via: 'oidc',
          subject: identity.subject,
        };
      } catch (e) {
        if (e instanceof OidcRejected) return next(refuse(res, `jwt ${e.reason}`, 'the token is not valid'));
        if (e instanceof OidcUnavailable) {
          return next(
            new HttpProblem('unavailable', 'the token cannot be checked right now', { retryAfterSeconds: 5 }),
          );
        }
        throw e;
      }
    } else {
      return next(refuse(res, 'unrecognised credential', 'the credential is neither an API key nor a token'));
    }

    const tenant = await tenants.getTenant(principal.tenantId, { maxAgeMs: tenantCacheMs });
    if (!tenant || tenant.disabled) {
      return next(refuse(res, 'tenant missing or disabled', 'the tenant does not exist or is disabled'));
    }
    req.principal = principal;
    req.tenant = tenant;
    next();
  };
  // close(): the gateway's shutdown waits for the lastUsedAt writes still running.
  return Object.assign(handler, { close: () => background.close() });
}

export function requireScope(scope: ApiKeyScope) {
  return (req: Request, res: Response, next: NextFunction) => {
    const scopes = req.principal?.scopes ?? [];
    // The audit trail records the scope the request used: admin when it stood in for another.
    if (scopes.includes(scope)) {
      res.locals.scope = scope;
      return next();
    }
    if (scopes.includes('admin')) {
      res.locals.scope = 'admin';
      return next();
    }
    next(new HttpProblem('forbidden', `this action needs the ${scope} scope`));
  };
}
