import type { Shot } from '@aiprod/job-store';
import type { RenderDeps } from '../app';

/**
 * Announces the attempt's clip to QA, read from the stored attempt, so a redelivery of a finished
 * attempt announces exactly what was stored.
 */
export async function publishRendered(deps: RenderDeps, tenantId: string, shot: Shot): Promise<void> {
  const attempt = shot.attempts[String(shot.attempt)];
  if (!attempt?.clipUri) throw new Error(`shot ${shot.shotId} attempt ${shot.attempt} has no clip recorded`);
  await deps.publisher.publish('aiprod.shot.rendered.v1', {
    v: 1,
    jobId: shot.jobId,
    tenantId,
    shotId: shot.shotId,
    attempt: shot.attempt,
    clipUri: attempt.clipUri,
    backend: attempt.backend,
    costUsd: attempt.costUsd ?? 0,
  });
}
