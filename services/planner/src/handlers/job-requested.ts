import { PermanentError, subscriptionsFor } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { PlannerDeps } from '../app';
import { advancePlanning } from '../steps/plan-job';

const MAX_DELIVERIES =
  subscriptionsFor('planner').find((s) => s.topic === 'aiprod.job.requested.v1')?.policy.maxDeliveryAttempts ?? 5;

export const jobRequestedHandler = (deps: PlannerDeps) =>
  defineHandler('aiprod.job.requested.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      throw new PermanentError('invalid_message', `job ${msg.jobId} of tenant ${msg.tenantId} does not exist`);
    }
    // On the last delivery a director that still fails fails the job with its own reason,
    // rather than letting the message dead-letter with a vaguer one.
    await advancePlanning(deps, job, ctx.log, { lastAttempt: ctx.deliveryAttempt >= MAX_DELIVERIES });
  });
