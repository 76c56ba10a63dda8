import { hasRecordedDecision, planVersionOf, type Job } from '@aiprod/job-store';
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
 *
 * `claimed` is the job as the sweep claimed it, which may be days older than the decision: the
 * client may approve or ask for changes between the claim and this nudge (at the 7-day expiry, the
 * moment it matters most). So the decision is read from the job as stored now, and the expiry is a
 * compare-and-set: it fails the job only if it is still waiting with nothing recorded.
 */
export async function resumeRecordedDecision(
  deps: PlannerDeps,
  claimed: Job,
  log: Log,
  options: { lastAttempt: boolean },
): Promise<void> {
  // Should acting on it fail, the next sweep comes within minutes, not after the approval window.
  const recorded = await deps.plans.recheckRecordedDecision(claimed.jobId);
  const job = recorded ? await deps.jobs.getJob(claimed.jobId) : null;
  const approval = job?.plan?.approval;
  if (job && approval) {
    log.info('approval recorded but not acted on; acting on it', { planVersion: approval.version });
    await approveJob(deps, job, { approver: approval.by, planVersion: approval.version }, log);
    return;
  }
  const pending = job?.plan?.changesRequested;
  if (job && pending) {
    log.info('change request recorded but not answered; answering it', { planVersion: pending.version });
    // On the last sweep a director still failing drops the request (the job keeps waiting).
    await replanJob(deps, job, pending.version, log, options);
    return;
  }
  // The expiry only if nothing touched the job's approval window since the claim: a decision
  // recorded after the recheck (its short deadline brings the next sweep), or a change request
  // answered or dropped meanwhile (which gives the client's own deadline back), keeps the job.
  const untouched = (stored: Job) =>
    stored.deadlineAt?.toMillis() === claimed.deadlineAt?.toMillis() &&
    planVersionOf(stored) === planVersionOf(claimed);
  await failJob(
    deps,
    claimed,
    'deadline_exceeded',
    'the job stayed AWAITING_APPROVAL past its deadline: its plan was neither approved nor changed',
    { when: (stored) => stored.status === 'AWAITING_APPROVAL' && !hasRecordedDecision(stored) && untouched(stored) },
  );
}
