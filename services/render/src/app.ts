import type { BackendName, FallbackPolicy, ShotSpec, TopicName } from '@aiprod/contracts';
import type { RenderCache } from '@aiprod/job-store';
import type { HandlerDef } from '@aiprod/pubsub';
import type { CoreDeps } from '@aiprod/service-runtime';
import type { BlobStore } from '@aiprod/storage';
import type { CircuitBreakerPolicy } from 'cockatiel';
import type { BackendUsage, VideoBackend } from './backends/backend';
import { renderRequestHandler } from './handlers/render-request';

export interface RenderDeps extends CoreDeps {
  storage: BlobStore;
  backend: VideoBackend;
  policy: FallbackPolicy;
  /** This backend's circuit breaker (one per process: a pool serves one backend). */
  breaker: CircuitBreakerPolicy;
  cache: RenderCache;
  /** What a vendor task cost, from the versioned price table. */
  price: (backend: BackendName, model: string, spec: ShotSpec, usage: BackendUsage) => number;
  /** Adds spend to the tenant's month (the gateway's spend cap reads it), once per ledger line. */
  recordSpend: (tenantId: string, usd: number, entryId: string) => Promise<void>;
  workDir: string;
  /** Aborted on SIGTERM: polling stops and the message is nacked, so another worker resumes the task. */
  shutdown: AbortSignal;
}

/** One pool per backend: this process handles only its backend's render topic. */
export function buildRender(deps: RenderDeps): Partial<Record<TopicName, HandlerDef<TopicName>>> {
  const handler = renderRequestHandler(deps);
  return { [handler.topic]: handler };
}
