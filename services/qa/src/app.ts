import type { TopicsOf } from '@aiprod/contracts';
import type { HandlerMap } from '@aiprod/pubsub';
import type { SemanticJudge } from '@aiprod/clip-checks';
import type { ShotAttempts } from '@aiprod/job-store';
import type { CoreDeps, SweepPolicies } from '@aiprod/service-runtime';
import type { BlobStore } from '@aiprod/storage';
import { shotRenderedHandler } from './handlers/shot-rendered';
import { resumeRendering } from './steps/resume-rendering';

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

/** QA sweeps RENDERING (see SWEEPERS): passing the last shot is what moves a job to ASSEMBLING. */
export function qaSweep(deps: QaDeps): SweepPolicies<'qa'> {
  return {
    RENDERING: {
      maxSweeps: 2,
      nudge: (job) => resumeRendering(deps, job, deps.log.child({ jobId: job.jobId, sweep: true })),
    },
  };
}
