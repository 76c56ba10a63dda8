import type { BackendName } from '@aiprod/contracts';
import type { JobEstimate } from './estimate';

/**
 * The part of an estimate kept with a plan on the job (the job store's JobPlanEstimate): the
 * totals and, per shot, the three figures and the priced fallback chain the storyboard shows.
 * The rest (other backends, assumptions) is recomputable from the plan.
 */
export interface StoredEstimate {
  priceTableVersion: string;
  currency: string;
  firstPassUsd: number;
  totalUsd: number;
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
    fallbackChain: {
      backend: BackendName;
      model: string;
      durationSeconds: number;
      attempts: number;
      attemptUsd: number;
    }[];
  }[];
  notes: string[];
}

export function storedEstimate(e: JobEstimate): StoredEstimate {
  return {
    priceTableVersion: e.priceTableVersion,
    currency: e.currency,
    firstPassUsd: e.firstPassUsd,
    totalUsd: e.totalUsd,
    worstCaseUsd: e.worstCaseUsd,
    ...(e.budgetCapUsd !== undefined ? { budgetCapUsd: e.budgetCapUsd } : {}),
    shots: e.shots.map((s) => ({
      shotId: s.shotId,
      backend: s.backend,
      model: s.model,
      durationSeconds: s.durationSeconds,
      firstAttemptUsd: s.firstAttemptUsd,
      expectedUsd: s.expectedUsd,
      worstCaseUsd: s.worstCaseUsd,
      ...(s.degraded ? { degraded: s.degraded } : {}),
      fallbackChain: s.fallbackChain.map((c) => ({ ...c })),
    })),
    notes: e.notes,
  };
}
