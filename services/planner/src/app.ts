import type { BackendName, FallbackPolicy, TopicsOf } from '@aiprod/contracts';
import type { PlanStore, TenantStore } from '@aiprod/job-store';
import type { CreativeDirector } from '@aiprod/planning';
import type { HandlerMap } from '@aiprod/pubsub';
import type { CoreDeps, SweepPolicies, SweepPolicy } from '@aiprod/service-runtime';
import { jobRequestedHandler } from './handlers/job-requested';
import { jobApprovedHandler } from './handlers/job-approved';
import { planChangesRequestedHandler } from './handlers/plan-changes-requested';
import { advancePlanning } from './steps/plan-job';

export interface PlannerDeps extends CoreDeps<'planner'> {
  tenants: TenantStore;
  director: CreativeDirector;
  /** Plan locally when the director fails (recorded on the job), instead of failing the job. */
  fallbackToLocal: boolean;
  /** The render pools deployed; shots go only to these. */
  enabledBackends: readonly BackendName[];
  /** Prices the fallback chain in the estimate; default DEFAULT_FALLBACK_POLICY. */
  fallbackPolicy?: FallbackPolicy;
  /** The plan's versions: a re-plan after a change request stores the next one. */
  plans: PlanStore;
}

/** The planner's handlers, one per subscribed topic (a missing one fails to compile). */
export function buildPlanner(deps: PlannerDeps): HandlerMap<TopicsOf<'planner'>> {
  return {
    'aiprod.job.requested.v1': jobRequestedHandler(deps),
    'aiprod.job.approved.v1': jobApprovedHandler(deps),
    'aiprod.plan.changes.requested.v1': planChangesRequestedHandler(deps),
  };
}

const MAX_PLANNING_SWEEPS = 3;

/** The states SWEEPERS gives the planner: a lost request is planned again; a stale approval expires. */
export function plannerSweep(deps: PlannerDeps): SweepPolicies<'planner'> {
  const replan: SweepPolicy = {
    maxSweeps: MAX_PLANNING_SWEEPS,
    nudge: (job) =>
      advancePlanning(deps, job, deps.log.child({ jobId: job.jobId, sweep: true }), {
        // The sweeper's last nudge: a director still failing then fails the job with its own reason.
        lastAttempt: (job.sweeps ?? 1) >= MAX_PLANNING_SWEEPS,
      }),
  };
  return { QUEUED: replan, PLANNING: replan, AWAITING_APPROVAL: { maxSweeps: 0 } };
}
