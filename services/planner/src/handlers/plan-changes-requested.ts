import { PermanentError, subscriptionsFor } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { PlannerDeps } from '../app';
import { replanJob } from '../steps/replan-job';

const MAX_DELIVERIES =
  subscriptionsFor('planner').find((s) => s.topic === 'aiprod.plan.changes.requested.v1')?.policy.maxDeliveryAttempts ??
  5;

export const planChangesRequestedHandler = (deps: PlannerDeps) =>
  defineHandler('aiprod.plan.changes.requested.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      throw new PermanentError('invalid_message', `job ${msg.jobId} of tenant ${msg.tenantId} does not exist`);
    }
    // On the last delivery a director that still fails drops the request (the plan stays as it
    // is) rather than letting the message dead-letter, which would fail the whole job.
    await replanJob(deps, job, msg.planVersion, ctx.log, { lastAttempt: ctx.deliveryAttempt >= MAX_DELIVERIES });
  });
