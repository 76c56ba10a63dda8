import { randomBytes } from 'node:crypto';
import { Router, type Request } from 'express';
import { BriefSchema, validate } from '@aiprod/contracts';
import type { JobStore, TenantStore } from '@aiprod/job-store';
import type { Publisher } from '@aiprod/pubsub';
import type { BlobStore } from '@aiprod/storage';
import { authenticate, requireScope } from '../auth';
import { HttpProblem } from '../problem';
import { jobView } from '../views';

export interface JobRoutesDeps {
  jobs: JobStore;
  tenants: TenantStore;
  publisher: Publisher;
  storage: BlobStore;
  outputUrlTtlSeconds: number;
}

const newJobId = () => `job_${randomBytes(12).toString('hex')}`;
const tenantOf = (req: Request) => req.principal!.tenantId;

export function jobRoutes(deps: JobRoutesDeps): Router {
  const router = Router();
  router.use(authenticate(deps.tenants));

  router.post('/jobs', requireScope('jobs:write'), async (req, res) => {
    const checked = validate(BriefSchema, req.body);
    if (!checked.ok) throw new HttpProblem('validation', 'the brief is not valid', { errors: checked.errors });
    const brief = checked.value;
    const job = await deps.jobs.createJob({
      jobId: newJobId(),
      tenantId: tenantOf(req),
      brief,
      preset: brief.preset ?? 'social_quick',
    });
    // State first, publish second: if this publish fails the job stays QUEUED with a deadline
    // and the client is told to look at it rather than to retry blindly.
    try {
      await deps.publisher.publish('aiprod.job.requested.v1', { v: 1, jobId: job.jobId, tenantId: job.tenantId });
    } catch {
      throw new HttpProblem(
        'unavailable',
        `job ${job.jobId} was created but could not be queued yet; it will be retried`,
        {
          retryAfterSeconds: 5,
        },
      );
    }
    res
      .status(202)
      .location(`/v1/jobs/${job.jobId}`)
      .json(await jobView(job, [], [], deps.storage, deps.outputUrlTtlSeconds));
  });

  router.get('/jobs/:id', requireScope('jobs:read'), async (req, res) => {
    const id = String(req.params.id);
    const job = /^[A-Za-z0-9_-]{1,64}$/.test(id) ? await deps.jobs.getJobForTenant(tenantOf(req), id) : null;
    // Another tenant's job is a 404, exactly like a missing one.
    if (!job) throw new HttpProblem('not_found', `no job ${id}`);
    const [shots, events] = await Promise.all([deps.jobs.listShots(job.jobId), deps.jobs.listEvents(job.jobId)]);
    res.json(await jobView(job, shots, events, deps.storage, deps.outputUrlTtlSeconds));
  });

  return router;
}
