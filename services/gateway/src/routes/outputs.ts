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
    if (job.outputsExpiredAt) {
      // The retention sweeper deleted the files: 410, not 404, so a client knows they existed and will not come back.
      throw new HttpProblem(
        'gone',
        `the outputs of job ${job.jobId} were deleted on ${job.outputsExpiredAt.toDate().toISOString()} under the tenant's retention`,
        { members: { expiredAt: job.outputsExpiredAt.toDate().toISOString() } },
      );
    }
    const signed = await signedOutputs(job, deps.storage, ttl ?? deps.outputUrlTtlSeconds);
    // Links are credentials: no shared cache may keep them.
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({ jobId: job.jobId, ...signed });
  });
  return router;
}
