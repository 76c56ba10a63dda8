import { Router } from 'express';
import { buildOpenApiDocument } from '../openapi/document';

/** GET /v1/openapi.json: public, like the health checks (it describes the API, no tenant data). */
export function openApiRoutes(): Router {
  const router = Router();
  // Built once: it depends only on code.
  const body = JSON.stringify(buildOpenApiDocument());
  router.get('/v1/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/json').send(body);
  });
  return router;
}
