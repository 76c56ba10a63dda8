import { Router, type RequestHandler } from 'express';
import type { BackendName } from '@aiprod/contracts';
import { estimateBrief } from '@aiprod/planning';
import type { ApiKeyScope } from '@aiprod/job-store';
import { parseBrief } from '../brief';

/**
 * POST /v1/estimates: prices a brief exactly as the planner would, without creating a job or
 * spending anything. Same validation as POST /v1/jobs; needs jobs:read (it changes nothing).
 */
export function estimateRoutes(deps: {
  requireScope: (scope: ApiKeyScope) => RequestHandler;
  /** The same pools the planner may choose from (its ENABLED_BACKENDS). */
  enabledBackends: readonly BackendName[];
}): Router {
  const router = Router();
  router.post('/v1/estimates', deps.requireScope('jobs:read'), (req, res) => {
    const brief = parseBrief(req.body);
    // The brief's own budgetCapUsd is applied by estimateBrief.
    res.json(estimateBrief(brief, { enabledBackends: deps.enabledBackends }));
  });
  return router;
}
