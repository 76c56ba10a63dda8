import type { BackendName, FallbackPolicy, ShotSpec, TopicsOf } from '@aiprod/contracts';
import type { CapacityBoard, CapacityReporter, RenderCache, ShotAttempts } from '@aiprod/job-store';
import { oneTopicHandlerMap, type OneTopicHandlerMap } from '@aiprod/pubsub';
import type { CoreDeps } from '@aiprod/service-runtime';
import type { BlobStore } from '@aiprod/storage';
import type { CircuitBreakerPolicy } from 'cockatiel';
import type { BackendUsage, VideoBackend } from './backends/backend';
import { renderRequestHandler } from './handlers/render-request';
import { renderLetterSuperseded, startStaleAttemptSweep } from './steps/stale-attempts';

export interface RenderDeps extends CoreDeps<'render'> {
  storage: BlobStore;
  backend: VideoBackend;
  policy: FallbackPolicy;
  /** The backends this deployment runs a pool for (the planner's list): the only fallback targets. */
  deployedBackends: readonly BackendName[];
  /**
   * The model every pool runs (BACKEND_MODELS), so a fallback knows what the next pool's model can
   * take; absent: the catalogue's defaults. This pool's own model is `backend.model`.
   */
  models?: Readonly<Record<BackendName, string>>;
  /** The shot state machine: every attempt change goes through it. */
  attempts: ShotAttempts;
  /** This process, in attempt leases: `${workerId}:${messageId}` holds an attempt. */
  workerId: string;
  /** How long an attempt lease lasts unless renewed, and how often the holder renews it. */
  lease: { ttlMs: number; renewMs: number };
  /** Per-call bounds; `jobCheckMs` is how often a long poll re-reads the job (cancel, failure). */
  timeouts: { submitMs: number; pollMs: number; fetchMs: number; jobCheckMs: number };
  /** This backend's circuit breaker (one per process: a pool serves one backend). */
  breaker: CircuitBreakerPolicy;
  /** Reads clips QA passed before; entries are written when QA passes a clip (job store). */
  cache: RenderCache;
  /** How long a passed clip stays reusable; 0 turns the cache off. */
  cacheTtlSeconds: number;
  /** What a vendor task cost, from the versioned price table. */
  price: (backend: BackendName, model: string, spec: ShotSpec, usage: BackendUsage) => number;
  /** Adds spend to the tenant's month (the gateway's spend cap reads it), once per ledger line. */
  recordSpend: (tenantId: string, usd: number, entryId: string) => Promise<void>;
  /**
   * The live capacity board: this worker's entry (`reporter`) and the reader the busy reroute asks
   * which backend has room. Absent: nothing is reported and a busy task waits where it is.
   */
  capacity?: { board: CapacityBoard; reporter: CapacityReporter };
  workDir: string;
  /** Aborted on SIGTERM: in-flight requests are handed back (re-published, then acked), tasks kept. */
  shutdown: AbortSignal;
}

/** One pool per backend: this process handles only its backend's render topic. */
export function buildRender(deps: RenderDeps): OneTopicHandlerMap<TopicsOf<'render', BackendName>> {
  return oneTopicHandlerMap(renderRequestHandler(deps));
}

/**
 * The pool's sweeper, swept by the service that advances the state: every pool re-sends its own
 * backend's stale attempts (`start`, on a timer until stopped), and tells a dead letter that a later
 * delivery made moot from one that must fail the job (`deadLetterSuperseded`).
 */
export function buildRenderSweep(deps: RenderDeps): {
  start(): { stop(): Promise<void> };
  deadLetterSuperseded(letter: { data: string }): Promise<string | null>;
} {
  return {
    start: () => startStaleAttemptSweep(deps),
    deadLetterSuperseded: (letter) => renderLetterSuperseded(deps, letter),
  };
}
