import { presetOf, type BackendName, type Brief, type Preset } from '@aiprod/contracts';
import type { ShotPlan } from '@aiprod/contracts';

/** What a director is told besides the brief. */
export interface PlanContext {
  preset: Preset;
  /** The backend the shot lengths are fitted to (the cost planner's first choice). */
  backend: BackendName;
  /** The model that backend's pool runs (BACKEND_MODELS); its catalogue default when absent. */
  model?: string;
  /**
   * The client's change requests on earlier versions of this plan, oldest first: a re-plan
   * follows them where the brief and the preset allow (each director says how).
   */
  notes?: readonly string[];
  /** Cancels the work (the message's lease ran out, the service is stopping). */
  signal?: AbortSignal;
}

/** One interface, two creative directors: the deterministic local one and Gemini on Vertex. */
export interface CreativeDirector {
  readonly name: string;
  plan(brief: Brief, context: PlanContext): Promise<ShotPlan>;
}

/**
 * Why a director gave up. `retryable`: the vendor may answer next time (rate limit, 5xx, timeout,
 * an unusable answer); `permanent`: it will not for this brief (a safety block, a brief no
 * backend can fit, a request Vertex rejects as malformed). The message never carries a secret.
 */
export class PlanningError extends Error {
  override readonly name = 'PlanningError';
  constructor(
    readonly kind: 'retryable' | 'permanent',
    message: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const defaultContext = (brief: Brief, backend: BackendName = 'local'): PlanContext => ({
  preset: presetOf(brief.preset),
  backend,
});
