import type { Job } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import type { PlannerDeps } from './app';
import { planLocally } from './director/local';
import { dispatchPendingShots } from './dispatch';

/** The local backend is free; paid backends and their price table arrive with the cost planner. */
const LOCAL_COST_PER_SECOND_USD = 0;

/**
 * Moves a job as far through planning as its state allows: QUEUED → PLANNING → a saved plan →
 * RENDERING (or AWAITING_APPROVAL), then publishes the render requests still due. Every step
 * is a compare-and-set, so the message handler and the sweeper can both call it, any number
 * of times.
 */
export async function advancePlanning(deps: PlannerDeps, start: Job, log: Log): Promise<void> {
  let job = start;
  if (job.status === 'QUEUED') {
    job = (await deps.jobs.transition(job.jobId, 'QUEUED', 'PLANNING')).value ?? job;
  }
  if (job.status === 'PLANNING') {
    const plan = planLocally(job.brief);
    const estimatedCostUsd = plan.shots.reduce((sum, s) => sum + s.durationSeconds * LOCAL_COST_PER_SECOND_USD, 0);
    const tenant = await deps.tenants.getTenant(job.tenantId);
    const needsApproval = estimatedCostUsd > (tenant?.autoApproveLimitUsd ?? 0);
    const saved = await deps.jobs.savePlan(
      job.jobId,
      {
        director: plan.director,
        shotIds: plan.shots.map((s) => s.shotId),
        width: plan.width,
        height: plan.height,
        fps: plan.fps,
        endCardSeconds: plan.endCardSeconds,
        transition: plan.transition,
        estimatedCostUsd,
      },
      plan.shots.map((spec) => ({ spec, backend: 'local' as const })),
      needsApproval ? 'AWAITING_APPROVAL' : 'RENDERING',
    );
    job = saved.value ?? job;
  }
  if (job.status === 'RENDERING') {
    const sent = await dispatchPendingShots(deps, job);
    log.info('render requests published', { shots: sent });
  } else {
    log.info('nothing to dispatch', { status: job.status });
  }
}
