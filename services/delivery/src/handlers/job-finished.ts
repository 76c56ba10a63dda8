import { defineHandler } from '@aiprod/pubsub';
import type { DeliveryDeps } from '../app';
import { notifyClient } from '../steps/notify-client';

/** The notifier: a signed webhook to the tenant's endpoint, or a plain note that none is configured. */
export const jobFinishedHandler = (deps: DeliveryDeps) =>
  defineHandler('aiprod.job.finished.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      ctx.log.warn('finished message for an unknown job', { jobId: msg.jobId });
      return;
    }
    await notifyClient(deps, job, msg.status);
  });
