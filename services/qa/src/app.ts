import type { JobStatus, TopicsOf } from '@aiprod/contracts';
import type { HandlerMap } from '@aiprod/pubsub';
import type { SemanticJudge } from '@aiprod/qa';
import type { ShotAttempts } from '@aiprod/job-store';
import type { CoreDeps, SweepPolicy } from '@aiprod/service-runtime';
import type { BlobStore } from '@aiprod/storage';
import { resumeRendering, shotRenderedHandler } from './handlers/shot-rendered';

export interface QaDeps extends CoreDeps<'qa'> {
  storage: BlobStore;
  /** The shot state machine (pass, reject, fail). */
  attempts: ShotAttempts;
  /** null when no semantic judge is configured: semantic checks are reported as skipped. */
  judge: SemanticJudge | null;
  workDir: string;
  timeoutMs: number;
}

export function buildQa(deps: QaDeps): HandlerMap<TopicsOf<'qa'>> {
  return { 'aiprod.shot.rendered.v1': shotRenderedHandler(deps) };
}

/** QA owns RENDERING: it is the stage that knows when every shot is done. */
export function qaSweep(deps: QaDeps): Partial<Record<JobStatus, SweepPolicy>> {
  return {
    RENDERING: {
      maxSweeps: 2,
      nudge: (job) => resumeRendering(deps, job, deps.log.child({ jobId: job.jobId, sweep: true })),
    },
  };
}
