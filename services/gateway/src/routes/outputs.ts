import { Router, type RequestHandler } from 'express';
import type { ApiKeyScope, JobStore } from '@aiprod/job-store';
import type { BlobStore } from '@aiprod/storage';
import { OutputsQuerySchema } from '../openapi/schemas';
import { HttpProblem } from '../problem';
import { jobOfCaller, parseQuery } from '../request';
import { signedOutputs } from '../views';

/** GET /v1/jobs/{id}/outputs: the delivered files as links signed for `?ttl=` seconds. */
export function outputRoutes(deps: {
  jobs: JobStore;
  storage: BlobStore;
  outputUrlTtlSeconds: number;
  requireScope: (scope: ApiKeyScope) => RequestHandler;
}): Router {
  const router = Router();
  router.get('/v1/jobs/:id/outputs', deps.requireScope('jobs:read'), async (req, res) => {
    const { ttl } = parseQuery(req, OutputsQuerySchema, ['ttl']);
    const job = await jobOfCaller(req, res, deps.jobs);
    if (job.status !== 'DELIVERED') {
      throw new HttpProblem('conflict', `job ${job.jobId} is ${job.status}; outputs exist once it is DELIVERED`);
    }
    const signed = await signedOutputs(job, deps.storage, ttl ?? deps.outputUrlTtlSeconds);
    // Links are credentials: no shared cache may keep them.
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({ jobId: job.jobId, ...signed });
  });
  return router;
}
