import { renderTopicFor } from '@aiprod/contracts';
import type { Job } from '@aiprod/job-store';
import type { CoreDeps } from '@aiprod/service-runtime';

/**
 * Publishes a render request for every shot still waiting to start. Safe to repeat: on a
 * redelivery it sends again what state says should have been sent, and render dedupes.
 */
export async function dispatchPendingShots(deps: CoreDeps, job: Job): Promise<number> {
  const shots = await deps.jobs.listShots(job.jobId);
  const pending = shots.filter((s) => s.status === 'PENDING');
  await Promise.all(
    pending.map((shot) =>
      deps.publisher.publish(renderTopicFor(shot.backend), {
        v: 1,
        jobId: job.jobId,
        tenantId: job.tenantId,
        shotId: shot.shotId,
        attempt: shot.attempt,
        spec: shot.spec,
      }),
    ),
  );
  return pending.length;
}
