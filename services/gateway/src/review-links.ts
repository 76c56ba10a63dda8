import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import type { NextFunction, Request, Response } from 'express';
import { isApiKeyScope, type ApiKeyScope } from '@aiprod/job-store';
import { HttpProblem } from './problem';

/**
 * Review links: a signed, expiring credential for one job, so that a marketing manager can look
 * at a storyboard, play the preview, approve or ask for changes without an API key. The link is
 * `<gateway>/review/<jobId>#t=<token>`: the token rides in the fragment, which browsers never send
 * to a server (no access log, proxy or Referer sees it); the page's script sends it back as
 * `Authorization: Bearer rvw.<jwt>` on the job's own API routes, and nowhere else.
 *
 * The token is an HS256 JWT under the gateway's REVIEW_LINK_SECRET, naming the tenant, the job,
 * the scopes the link grants (at most the creator's own, among read, write and approve) and its
 * expiry. Links cannot be revoked one by one (rotate the secret to revoke them all); they expire.
 */

export const REVIEW_TOKEN_PREFIX = 'rvw.';
const AUDIENCE = 'aiprod-review';
const ISSUER = 'aiprod-gateway';
/** What a link may grant: never admin, and only what its creator holds. */
const LINKABLE_SCOPES = ['jobs:read', 'jobs:write', 'jobs:approve'];
export const REVIEW_LINK_DEFAULT_HOURS = 7 * 24;
export const REVIEW_LINK_MAX_HOURS = 30 * 24;

export interface ReviewGrant {
  tenantId: string;
  jobId: string;
  scopes: ApiKeyScope[];
  expiresAt: Date;
}

export class ReviewLinkRejected extends Error {}

export interface ReviewLinks {
  sign(grant: ReviewGrant): Promise<string>;
  /** The grant a token carries; throws ReviewLinkRejected for a tampered, expired or foreign token. */
  verify(token: string): Promise<ReviewGrant>;
}

export function reviewLinks(secret: Uint8Array): ReviewLinks {
  if (secret.length < 32) throw new Error('REVIEW_LINK_SECRET must be at least 32 bytes');
  return {
    async sign(grant) {
      const jwt = await new SignJWT({ ten: grant.tenantId, scp: grant.scopes })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(grant.jobId)
        .setAudience(AUDIENCE)
        .setIssuer(ISSUER)
        .setIssuedAt()
        .setExpirationTime(Math.floor(grant.expiresAt.getTime() / 1000))
        .sign(secret);
      return `${REVIEW_TOKEN_PREFIX}${jwt}`;
    },
    async verify(token) {
      if (!token.startsWith(REVIEW_TOKEN_PREFIX)) throw new ReviewLinkRejected('not a review token');
      try {
        const { payload } = await jwtVerify(token.slice(REVIEW_TOKEN_PREFIX.length), secret, {
          algorithms: ['HS256'],
          audience: AUDIENCE,
          issuer: ISSUER,
          requiredClaims: ['sub', 'exp', 'ten', 'scp'],
        });
        const scopes = Array.isArray(payload.scp) ? payload.scp.filter((s): s is string => typeof s === 'string') : [];
        if (typeof payload.ten !== 'string' || !payload.sub)
          throw new ReviewLinkRejected('the token names no job or tenant');
        return {
          tenantId: payload.ten,
          jobId: payload.sub,
          scopes: linkable(scopes),
          expiresAt: new Date(payload.exp! * 1000),
        };
      } catch (error) {
        if (error instanceof ReviewLinkRejected) throw error;
        if (error instanceof joseErrors.JWTExpired) throw new ReviewLinkRejected('the link has expired');
        if (error instanceof joseErrors.JOSEError) throw new ReviewLinkRejected('the link is not valid');
        throw error;
      }
    },
  };
}

/** The scopes a link may carry out of those given (never admin, never unknown ones). */
export const linkable = (scopes: readonly string[]): ApiKeyScope[] =>
  scopes.filter((s): s is ApiKeyScope => LINKABLE_SCOPES.includes(s) && isApiKeyScope(s));

/**
 * A review link's holder may use its own job's routes (/v1/jobs/<id> and below) and nothing else:
 * any other /v1 path is 404, as a job of another tenant is, so a link reveals nothing beyond its job.
 * Mounted on /v1 after authentication.
 */
export function confineReviewLinks(req: Request, _res: Response, next: NextFunction): void {
  const jobId = req.principal?.jobId;
  if (!jobId) return next();
  const own = `/jobs/${jobId}`;
  if (req.path === own || req.path.startsWith(`${own}/`)) {
    // A link cannot make links: its holder could otherwise outlive its expiry.
    if (req.path === `${own}/review-link`)
      return next(new HttpProblem('forbidden', 'a review link cannot create links'));
    return next();
  }
  next(new HttpProblem('not_found', 'a review link opens only its own job'));
}
