import { PermanentError } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { DeliveryDeps } from '../app';
import { assembleJob } from '../steps/assemble-job';

export const jobAssembleHandler = (deps: DeliveryDeps) =>
  defineHandler('aiprod.job.assemble.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId)
      throw new PermanentError('invalid_message', `job ${msg.jobId} does not exist`);
    await assembleJob(deps, job, ctx.log);
  });
