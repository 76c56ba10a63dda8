import type { TopicsOf } from '@aiprod/contracts';
import type { HandlerMap } from '@aiprod/pubsub';
import type { CoreDeps, SweepPolicies } from '@aiprod/service-runtime';
import type { BlobStore } from '@aiprod/storage';
import { jobAssembleHandler } from './handlers/job-assemble';
import { jobFinishedHandler } from './handlers/job-finished';
import { assembleJob } from './steps/assemble-job';
import type { WebhookDeps } from './steps/send-webhook';

export interface DeliveryDeps extends CoreDeps<'delivery'>, WebhookDeps {
  storage: BlobStore;
  workDir: string;
  assemblyTimeoutMs: number;
  /** Overall deadline of the brand-logo download (default 15 s). */
  logoFetchTimeoutMs?: number;
}

export function buildDelivery(deps: DeliveryDeps): HandlerMap<TopicsOf<'delivery'>> {
  return {
    'aiprod.job.assemble.v1': jobAssembleHandler(deps),
    'aiprod.job.finished.v1': jobFinishedHandler(deps),
  };
}

/** Delivery sweeps ASSEMBLING (see SWEEPERS): an assembly that never finished is run again, then given up on. */
export function deliverySweep(deps: DeliveryDeps): SweepPolicies<'delivery'> {
  return {
    ASSEMBLING: {
      maxSweeps: 2,
      nudge: (job) => assembleJob(deps, job, deps.log.child({ jobId: job.jobId, sweep: true })),
    },
  };
}
