import { createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { isApiKeyScope, type ApiKeyScope } from '@aiprod/job-store';

export interface OidcConfig {
  issuer: string;
  audience: string | string[];
  jwksUrl: string;
  /** Allow-list; only asymmetric algorithms may be configured (no HS*, never `none`). */
  algorithms?: string[];
  clockToleranceSeconds?: number;
  /** The claim naming our tenant id. */
  tenantClaim?: string;
  /** A space-separated string (OAuth `scope`) or an array of strings (`scp`, `roles`). */
  scopeClaim?: string;
  /** The identity provider's scope names → ours; by default ours map onto themselves. */
  scopeMap?: Record<string, ApiKeyScope>;
  /** Injected in tests; production fetches the JWKS over HTTPS with jose's cache and cooldown. */
  jwksTimeoutMs?: number;
}

export interface OidcIdentity {
  tenantId: string;
  scopes: ApiKeyScope[];
  subject: string;
}

/** A token that is not acceptable. `reason` is for the audit log; it never holds the token. */
export class OidcRejected extends Error {
  override readonly name = 'OidcRejected';
  constructor(readonly reason: string) {
    super(`token rejected: ${reason}`);
  }
}

/** The identity provider could not be reached to fetch its keys: not the client's fault. */
export class OidcUnavailable extends Error {
  override readonly name = 'OidcUnavailable';
}

export interface OidcVerifier {
  verify(token: string): Promise<OidcIdentity>;
}

const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;
const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Why jose refused a token, in words for the log, from its stable error codes. */
function rejectionReason(e: unknown): string | null {
  if (e instanceof joseErrors.JWTExpired) return 'expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `claim ${e.claim} ${e.reason}`;
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'unknown signing key';
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys) return 'ambiguous signing key';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid) return 'malformed token';
  if (e instanceof joseErrors.JOSENotSupported) return 'unsupported token';
  return null;
}

/**
 * Verifies OIDC access/ID tokens against the issuer's JWKS (jose caches the set and refetches,
 * at most every 30 s, when it meets an unknown `kid`). Checks signature, algorithm allow-list,
 * issuer, audience, `exp`/`nbf` with clock tolerance, and the tenant claim.
 */
export function createOidcVerifier(config: OidcConfig): OidcVerifier {
  const algorithms = config.algorithms ?? ['RS256', 'ES256'];
  const unsafe = algorithms.filter((a) => !ASYMMETRIC.test(a));
  // A symmetric algorithm would let a token signed with the issuer's *public* key pass.
  if (unsafe.length || algorithms.length === 0)
    throw new Error('OIDC algorithms must be asymmetric (RS*, PS*, ES*, EdDSA)');
  const jwks = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: config.jwksTimeoutMs ?? 5000 });
  const tenantClaim = config.tenantClaim ?? 'aiprod_tenant';
  const scopeClaim = config.scopeClaim ?? 'scope';
  const scopeMap: Record<string, ApiKeyScope> = config.scopeMap ?? {
    'jobs:read': 'jobs:read',
    'jobs:write': 'jobs:write',
    'jobs:approve': 'jobs:approve',
    admin: 'admin',
  };

  return {
    async verify(token: string): Promise<OidcIdentity> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms,
          clockTolerance: config.clockToleranceSeconds ?? 30,
          requiredClaims: ['exp', tenantClaim],
        }));
      } catch (e) {
        const reason = rejectionReason(e);
        if (reason) throw new OidcRejected(reason);
        // Fetching the key set failed (timeout, connection refused, not JSON).
        throw new OidcUnavailable('the identity provider key set could not be fetched', { cause: e });
      }
      const tenantId = payload[tenantClaim];
      if (typeof tenantId !== 'string' || !TENANT_ID.test(tenantId)) throw new OidcRejected('bad tenant claim');
      const raw = payload[scopeClaim];
      const granted = typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw.map(String) : [];
      const scopes = [
        ...new Set(
          granted
            .map((s) => (Object.hasOwn(scopeMap, s) ? scopeMap[s] : undefined))
            .filter((s): s is ApiKeyScope => !!s && isApiKeyScope(s)),
        ),
      ];
      return { tenantId, scopes, subject: typeof payload.sub === 'string' ? payload.sub.slice(0, 128) : '' };
    },
  };
}
