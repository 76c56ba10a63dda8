import { planVersionOf, type Job } from '@aiprod/job-store';
import { count } from '@aiprod/observability';
import type { Log } from '@aiprod/pubsub';
import { failJob, type CoreDeps } from '@aiprod/service-runtime';
import type { PlannerDeps } from '../app';
import { approvedLinesMisfit } from './plan-sound';
import { dispatchPendingShots } from './dispatch';

/**
 * Whether the job's current plan is the one its client approved: the gateway records the approved
 * version on the plan, and no edit or re-plan is accepted after that, so the shots dispatched are
 * exactly the approved version's. A plan without versions (made before them) has nothing to check.
 */
export function approvedPlanIsCurrent(job: Job, planVersion: number | undefined): boolean {
  if (!job.plan?.version) return true;
  const approved = job.plan.approval?.version;
  return approved === planVersionOf(job) && (planVersion === undefined || planVersion === approved);
}

/**
 * Moves an approved job from AWAITING_APPROVAL to RENDERING and publishes its render requests.
 * A repeated approval finds the job already RENDERING and only re-publishes what is still pending.
 */
export async function approveJob(
  deps: CoreDeps<'planner'> & Pick<PlannerDeps, 'speech'>,
  job: Job,
  approval: { approver: string; planVersion?: number },
  log: Log,
): Promise<void> {
  if (job.status === 'AWAITING_APPROVAL' && approvedPlanIsCurrent(job, approval.planVersion)) {
    // Nothing is spent yet: a line that no longer fits its shot fails the job here, not at assembly.
    const misfit = await approvedLinesMisfit(deps, job, await deps.jobs.listShots(job.jobId));
    if (misfit) {
      log.warn('approved plan has a voice-over line that does not fit; failing the job', { reason: misfit });
      await failJob(deps, job, 'planning_failed', misfit, {
        when: (stored) => stored.status === 'AWAITING_APPROVAL' && approvedPlanIsCurrent(stored, approval.planVersion),
      });
      return;
    }
  }
  const moved = await deps.jobs.transition(job.jobId, 'AWAITING_APPROVAL', 'RENDERING', {
    event: {
      type: 'job.approved',
      data: {
        approver: approval.approver,
        ...(job.plan?.version ? { planVersion: planVersionOf(job) } : {}),
      },
    },
    when: (stored) => approvedPlanIsCurrent(stored, approval.planVersion),
  });
  const current = moved.value ?? job;
  if (current.status === 'RENDERING') {
    await dispatchPendingShots(deps, current);
    return;
  }
  const why = ignoredBecause(current);
  // Counted: a rise in not_recorded after a deploy means a gateway that does not record approvals
  // (older than this planner) is still serving; see docs/runbook.md.
  count('approvalsIgnored', { why });
  log.info('approval ignored', { status: current.status, planVersion: approval.planVersion, why });
}

/** Why an approval that found the job not RENDERING was not acted on. */
function ignoredBecause(job: Job): 'not_waiting' | 'not_recorded' | 'not_current' {
  if (job.status !== 'AWAITING_APPROVAL') return 'not_waiting';
  return job.plan?.approval ? 'not_current' : 'not_recorded';
}
