import type { TopicsOf } from '@aiprod/contracts';
import type { TenantStore } from '@aiprod/job-store';
import type { HandlerMap } from '@aiprod/pubsub';
import type { CoreDeps, SweepPolicy } from '@aiprod/service-runtime';
import type { JobStatus } from '@aiprod/contracts';
import { jobRequestedHandler } from './handlers/job-requested';
import { jobApprovedHandler } from './handlers/job-approved';
import { advancePlanning } from './planning';

export interface PlannerDeps extends CoreDeps {
  tenants: TenantStore;
}

/** The planner's handlers, one per subscribed topic (a missing one fails to compile). */
export function buildPlanner(deps: PlannerDeps): HandlerMap<TopicsOf<'planner'>> {
  return {
    'aiprod.job.requested.v1': jobRequestedHandler(deps),
    'aiprod.job.approved.v1': jobApprovedHandler(deps),
  };
}

/** The states the planner owns: a lost request is planned again; a stale approval expires. */
export function plannerSweep(deps: PlannerDeps): Partial<Record<JobStatus, SweepPolicy>> {
  const replan: SweepPolicy = {
    maxSweeps: 3,
    nudge: (job) => advancePlanning(deps, job, deps.log.child({ jobId: job.jobId, sweep: true })),
  };
  return { QUEUED: replan, PLANNING: replan, AWAITING_APPROVAL: { maxSweeps: 0 } };
}
