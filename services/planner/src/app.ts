import type { TopicsOf } from '@aiprod/contracts';
import type { TenantStore } from '@aiprod/job-store';
import type { HandlerMap } from '@aiprod/pubsub';
import type { CoreDeps } from '@aiprod/service-runtime';
import { jobRequestedHandler } from './handlers/job-requested';
import { jobApprovedHandler } from './handlers/job-approved';

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
