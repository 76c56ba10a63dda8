import type { JobEstimate, StoredPlanEstimate } from '@aiprod/contracts';

/** The part of an estimate kept with a plan on the job (see StoredPlanEstimate). */
export function storedEstimate(e: JobEstimate): StoredPlanEstimate {
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
      ...(s.referenceNote ? { referenceNote: s.referenceNote } : {}),
      fallbackChain: s.fallbackChain.map((c) => ({ ...c })),
    })),
    notes: e.notes,
  };
}
