import type { Job } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import type { CoreDeps } from '@aiprod/service-runtime';
import { dispatchPendingShots } from './dispatch';

/**
 * Moves an approved job from AWAITING_APPROVAL to RENDERING and publishes its render requests.
 * A repeated approval finds the job already RENDERING and only re-publishes what is still pending.
 */
export async function approveJob(deps: CoreDeps<'planner'>, job: Job, approver: string, log: Log): Promise<void> {
  const moved = await deps.jobs.transition(job.jobId, 'AWAITING_APPROVAL', 'RENDERING', {
    event: { type: 'job.approved', data: { approver } },
  });
  const current = moved.value ?? job;
  if (current.status === 'RENDERING') await dispatchPendingShots(deps, current);
  else log.info('approval ignored', { status: current.status });
}
