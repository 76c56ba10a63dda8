import { PermanentError } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { PlannerDeps } from '../app';
import { dispatchPendingShots } from '../dispatch';

export const jobApprovedHandler = (deps: PlannerDeps) =>
  defineHandler('aiprod.job.approved.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      throw new PermanentError('invalid_message', `job ${msg.jobId} of tenant ${msg.tenantId} does not exist`);
    }
    const moved = await deps.jobs.transition(job.jobId, 'AWAITING_APPROVAL', 'RENDERING', {
      event: { type: 'job.approved', data: { approver: msg.approver } },
    });
    const current = moved.value ?? job;
    if (current.status === 'RENDERING') await dispatchPendingShots(deps, current);
    else ctx.log.info('approval ignored', { status: current.status });
  });
