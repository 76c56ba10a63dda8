import type { BackendName } from './catalogue';

/**
 * The part of a cost estimate kept with a plan on the job: the totals and, per shot, the three
 * figures and the priced fallback chain the storyboard shows. The vendor catalogue makes it from
 * the full estimate (`storedEstimate`); the job store keeps it (`JobPlanEstimate`). The rest of
 * an estimate (other backends, assumptions) is recomputable from the plan.
 */
export interface StoredPlanEstimate {
  priceTableVersion: string;
  currency: string;
  firstPassUsd: number;
  /** With expected retakes; the figure compared with the auto-approve limit. */
  totalUsd: number;
  /** Every vendor task the plan could run, billed; the figure the budget cap was compared with. */
  worstCaseUsd: number;
  budgetCapUsd?: number;
  shots: {
    shotId: string;
    backend: BackendName;
    model: string;
    durationSeconds: number;
    firstAttemptUsd: number;
    expectedUsd: number;
    worstCaseUsd: number;
    degraded?: { from: BackendName; reason: string };
    /** Why the shot's product reference image will not be sent (see ShotEstimate.referenceNote). */
    referenceNote?: string;
    /** The shot's backend and its fallbacks, each priced per attempt (absent on older plans). */
    fallbackChain?: {
      backend: BackendName;
      model: string;
      durationSeconds: number;
      attempts: number;
      attemptUsd: number;
    }[];
  }[];
  notes: string[];
}
