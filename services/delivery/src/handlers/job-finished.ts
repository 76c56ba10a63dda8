import { isErased } from '@aiprod/job-store';
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
    // Erased right after its cancel (DELETE /v1/jobs/{id}): nothing of it is left to tell, and a
    // delivery recorded now would keep what the erasure removed.
    if (isErased(job)) {
      ctx.log.info('finished message for an erased job; no notice sent', { jobId: msg.jobId });
      return;
    }
    await notifyClient(deps, job, msg.status);
  });
