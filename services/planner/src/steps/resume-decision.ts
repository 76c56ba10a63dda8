import type { Job } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { failJob } from '@aiprod/service-runtime';
import type { PlannerDeps } from '../app';
import { approveJob } from './approve-job';
import { replanJob } from './replan-job';

/**
 * The AWAITING_APPROVAL sweep of a job past its deadline. The gateway records the client's
 * approval or change request and then publishes its message, and the record shortens the deadline
 * to minutes (RECORDED_DECISION_GRACE_SECONDS), so a message that was never published (a failed
 * publish, a gateway that died in between) is made up for here, down the same path as the
 * message's handler: the compare-and-sets there make a message that does arrive, before or after,
 * act once. Only a job whose client recorded nothing has really waited out its approval window.
 */
export async function resumeRecordedDecision(
  deps: PlannerDeps,
  job: Job,
  log: Log,
  options: { lastAttempt: boolean },
): Promise<void> {
  // Should acting on it fail, the next sweep comes within minutes, not after the approval window.
  await deps.plans.recheckRecordedDecision(job.jobId);
  const approval = job.plan?.approval;
  if (approval) {
    log.info('approval recorded but not acted on; acting on it', { planVersion: approval.version });
    await approveJob(deps, job, { approver: approval.by, planVersion: approval.version }, log);
    return;
  }
  const pending = job.plan?.changesRequested;
  if (pending) {
    log.info('change request recorded but not answered; answering it', { planVersion: pending.version });
    // On the last sweep a director still failing drops the request (the job keeps waiting).
    await replanJob(deps, job, pending.version, log, options);
    return;
  }
  await failJob(
    deps,
    job,
    'deadline_exceeded',
    'the job stayed AWAITING_APPROVAL past its deadline: its plan was neither approved nor changed',
  );
}
