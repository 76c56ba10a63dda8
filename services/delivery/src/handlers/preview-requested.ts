import { subscriptionsFor } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { DeliveryDeps } from '../app';
import { previewJob } from '../steps/preview-job';

const MAX_DELIVERIES =
  subscriptionsFor('delivery').find((s) => s.topic === 'aiprod.preview.requested.v1')?.policy.maxDeliveryAttempts ?? 5;

/**
 * A free preview of one plan version. An unknown job is only logged: a PermanentError would go
 * through failJob, and nothing about a preview may fail a job.
 */
export const previewRequestedHandler = (deps: DeliveryDeps) =>
  defineHandler('aiprod.preview.requested.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      ctx.log.warn('preview requested for an unknown job', { jobId: msg.jobId });
      return;
    }
    await previewJob(deps, job, msg.planVersion, ctx.log, { lastAttempt: ctx.deliveryAttempt >= MAX_DELIVERIES });
  });
