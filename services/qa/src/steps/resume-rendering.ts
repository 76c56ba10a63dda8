import { isLeaseFresh, type Job } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import type { QaDeps } from '../app';
import { checkRenderedShot, requestRender } from './check-shot';

/**
 * The sweeper's nudge for an overdue RENDERING job: shots waiting to render are requested again,
 * rendered shots are checked again. A shot still RENDERING is requested again only when no render
 * worker holds a fresh lease on it (a healthy worker's shot is left alone).
 */
export async function resumeRendering(deps: QaDeps, job: Job, log: Log): Promise<void> {
  for (const shot of await deps.jobs.listShots(job.jobId)) {
    const clipUri = shot.attempts[String(shot.attempt)]?.clipUri;
    // RENDERING too when its lease is stale: a render worker that died holding it is resumed
    // (its vendor task id is stored).
    const live = shot.status === 'RENDERING' && isLeaseFresh(shot.attempts[String(shot.attempt)]);
    if (shot.status === 'PENDING' || shot.status === 'REJECTED' || (shot.status === 'RENDERING' && !live))
      await requestRender(deps, job, shot);
    else if (shot.status === 'RENDERED' && clipUri) {
      await checkRenderedShot(
        deps,
        { jobId: job.jobId, tenantId: job.tenantId, shotId: shot.shotId, attempt: shot.attempt, clipUri },
        log,
      );
    }
  }
}
