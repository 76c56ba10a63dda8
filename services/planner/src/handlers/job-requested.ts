import { PermanentError } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { PlannerDeps } from '../app';
import { advancePlanning } from '../planning';

export const jobRequestedHandler = (deps: PlannerDeps) =>
  defineHandler('aiprod.job.requested.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      throw new PermanentError('invalid_message', `job ${msg.jobId} of tenant ${msg.tenantId} does not exist`);
    }
    await advancePlanning(deps, job, ctx.log);
  });
