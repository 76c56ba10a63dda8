import type { ServiceName } from './catalogue';
import type { ActiveJobStatus } from './states';

interface SweeperDecl {
  /** The service whose sweeper nudges (or fails) a job overdue in this state. */
  service: ServiceName;
  /** Why that service: it is the one whose step moves the job out of the state. */
  reason: string;
}

/**
 * Who sweeps each non-terminal job state. A job overdue in a state is nudged by re-running the
 * step that moves it on, so the sweeper is the service that owns that step; a service's sweep
 * policies are typed from this table (SweptBy), so naming a state it does not own fails to compile.
 */
export const SWEEPERS = {
  QUEUED: {
    service: 'planner',
    reason: 'the planner moves a requested job to PLANNING; a lost job.requested is planned again',
  },
  PLANNING: {
    service: 'planner',
    reason: 'the planner saves the plan; a plan interrupted half-way is run again',
  },
  AWAITING_APPROVAL: {
    service: 'planner',
    reason:
      'the planner consumes job.approved and change requests; one recorded whose message was lost is acted on, an approval that never came expires the job',
  },
  RENDERING: {
    service: 'qa',
    reason:
      'qa passes the last shot and so moves the job to ASSEMBLING; it alone sees every shot and re-requests or re-checks the stragglers',
  },
  ASSEMBLING: {
    service: 'delivery',
    reason: 'delivery assembles the final cut and marks the job DELIVERED; an unfinished assembly is run again',
  },
} as const satisfies Record<ActiveJobStatus, SweeperDecl>;

/** The job states service S sweeps, as SWEEPERS gives them. */
export type SweptBy<S extends ServiceName> = {
  [K in ActiveJobStatus]: (typeof SWEEPERS)[K]['service'] extends S ? K : never;
}[ActiveJobStatus];
