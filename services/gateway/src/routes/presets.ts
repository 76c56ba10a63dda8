import { Router, type RequestHandler } from 'express';
import type { ApiKeyScope } from '@aiprod/job-store';
import { presetsView } from '@aiprod/vendor-catalogue';

/** GET /v1/presets: what each preset allows (durations, shots, backends, loudness, QA limits). */
export function presetRoutes(deps: { requireScope: (scope: ApiKeyScope) => RequestHandler }): Router {
  const router = Router();
  router.get('/v1/presets', deps.requireScope('jobs:read'), (_req, res) => {
    res.setHeader('Cache-Control', 'private, max-age=300');
    res.json(presetsView());
  });
  return router;
}
