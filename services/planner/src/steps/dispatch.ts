import { renderRequestFor, type Job } from '@aiprod/job-store';
import type { CoreDeps } from '@aiprod/service-runtime';

/**
 * Publishes a render request for every shot still waiting to start. Safe to repeat: on a
 * redelivery it sends again what state says should have been sent, and render dedupes.
 */
export async function dispatchPendingShots(deps: CoreDeps<'planner'>, job: Job): Promise<number> {
  const shots = await deps.jobs.listShots(job.jobId);
  const pending = shots.filter((s) => s.status === 'PENDING');
  await Promise.all(
    pending.map((shot) => {
      const request = renderRequestFor(job, shot);
      return deps.publisher.publish(request.topic, request.message);
    }),
  );
  return pending.length;
}
