import type { TopicsOf } from '@aiprod/contracts';
import type { HandlerMap } from '@aiprod/pubsub';
import type { CoreDeps } from '@aiprod/service-runtime';
import type { BlobStore } from '@aiprod/storage';
import { jobAssembleHandler } from './handlers/job-assemble';
import { jobFinishedHandler } from './handlers/job-finished';

export interface DeliveryDeps extends CoreDeps {
  storage: BlobStore;
  workDir: string;
  assemblyTimeoutMs: number;
}

export function buildDelivery(deps: DeliveryDeps): HandlerMap<TopicsOf<'delivery'>> {
  return {
    'aiprod.job.assemble.v1': jobAssembleHandler(deps),
    'aiprod.job.finished.v1': jobFinishedHandler(deps),
  };
}
