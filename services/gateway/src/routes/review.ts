import { join } from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import { Type } from '@sinclair/typebox';
import { validate } from '@aiprod/contracts';
import type { ApiKeyScope, JobStore } from '@aiprod/job-store';
import { HttpProblem } from '../problem';
import { jobOfCaller } from '../request';
import { linkable, REVIEW_LINK_DEFAULT_HOURS, REVIEW_LINK_MAX_HOURS, type ReviewLinks } from '../review-links';

export interface ReviewRoutesDeps {
  jobs: JobStore;
  links: ReviewLinks;
  requireScope: (scope: ApiKeyScope) => RequestHandler;
  /** Where the gateway is reached from outside (the link's origin); else https on the request's host. */
  publicBaseUrl?: string;
}

const PUBLIC_DIR = join(__dirname, '..', '..', 'public', 'review');

export const ReviewLinkRequestSchema = Type.Object(
  {
    expiresInHours: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: REVIEW_LINK_MAX_HOURS,
        description: `How long the link works, in hours (default ${REVIEW_LINK_DEFAULT_HOURS}, at most ${REVIEW_LINK_MAX_HOURS}).`,
      }),
    ),
  },
  { additionalProperties: false },
);

export const ReviewLinkSchema = Type.Object(
  {
    url: Type.String({ format: 'uri', description: 'The review page with the link token in its fragment.' }),
    expiresAt: Type.String({ format: 'date-time' }),
    scopes: Type.Array(Type.String(), { description: 'What the link allows (at most the creator’s own scopes).' }),
  },
  { additionalProperties: false },
);

/**
 * POST /v1/jobs/{id}/review-link makes a share link to the job's review page; GET /review/{id}
 * serves the page itself (static: it holds no data, it reads the job with the link's token).
 */
export function reviewRoutes(deps: ReviewRoutesDeps): Router {
  const router = Router();
  router.post('/v1/jobs/:id/review-link', deps.requireScope('jobs:read'), async (req, res) => {
    // A link cannot make links (its holder could otherwise outlive its expiry). Checked here, on
    // the route itself, whatever spelling of the path reached it (express matches paths without
    // regard to case or a trailing slash).
    if (req.principal?.via === 'review_link') throw new HttpProblem('forbidden', 'a review link cannot create links');
    const job = await jobOfCaller(req, res, deps.jobs);
    const checked = validate(ReviewLinkRequestSchema, req.body ?? {});
    if (!checked.ok)
      throw new HttpProblem('validation', 'the review-link request is not valid', { errors: checked.errors });
    const scopes = linkable(
      req.principal!.scopes.includes('admin') ? ['jobs:read', 'jobs:write', 'jobs:approve'] : req.principal!.scopes,
    );
    const hours = checked.value.expiresInHours ?? REVIEW_LINK_DEFAULT_HOURS;
    const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + hours * 3_600_000);
    const token = await deps.links.sign({ tenantId: job.tenantId, jobId: job.jobId, scopes, expiresAt });
    // Cloud Run ends TLS in front of us, so the request itself says http: a link is always https.
    const origin = (deps.publicBaseUrl ?? `https://${req.get('host')}`).replace(/\/+$/, '');
    res.status(201).json({
      url: `${origin}/review/${job.jobId}#t=${token}`,
      expiresAt: expiresAt.toISOString(),
      scopes,
    });
  });

  // The page and its two assets. Its own policy: scripts and styles from this origin only, media
  // from here or Cloud Storage (signed links), nothing framed, no referrer (the token is in the
  // fragment, which is never sent, but a link is no one else's business either).
  const pagePolicy: RequestHandler = (_req, res, next) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
        "img-src 'self' blob: https://storage.googleapis.com; media-src 'self' https://storage.googleapis.com; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    next();
  };
  router.get('/review/:id', pagePolicy, (_req, res) => res.sendFile(join(PUBLIC_DIR, 'index.html')));
  router.use('/review-assets', pagePolicy, express.static(PUBLIC_DIR, { index: false, fallthrough: false }));
  return router;
}
