import { PermanentError } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { PlannerDeps } from '../app';
import { approveJob } from '../steps/approve-job';

export const jobApprovedHandler = (deps: PlannerDeps) =>
  defineHandler('aiprod.job.approved.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      throw new PermanentError('invalid_message', `job ${msg.jobId} of tenant ${msg.tenantId} does not exist`);
    }
    await approveJob(
      deps,
      job,
      { approver: msg.approver, ...(msg.planVersion !== undefined ? { planVersion: msg.planVersion } : {}) },
      ctx.log,
    );
  });
