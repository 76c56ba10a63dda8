import type { PlanLanguage, Preset } from '@aiprod/contracts';
import type { JobPlan, JobReference, PlanRevision } from '@aiprod/job-store';
import type { PlannedBackends } from '@aiprod/planning';
import { audioFor, storedEstimate } from '@aiprod/vendor-catalogue';
import { withReferences } from './resolve-references';

/**
 * What the job stores of a priced plan: the plan's frame, cut and estimate, and each shot's spec
 * on its backend, carrying the job's stored reference images. The first plan and every re-plan
 * store the same shape.
 */
export function planRecord(
  planned: PlannedBackends,
  preset: Preset,
  references: readonly JobReference[],
  /** A brief with several languages: each language's words (see planSound). */
  languages?: PlanLanguage[],
): Omit<PlanRevision, 'event'> {
  const { plan, estimate } = planned;
  const record: PlanRevision['plan'] & JobPlan = {
    director: plan.director,
    shotIds: plan.shots.map((s) => s.shotId),
    width: plan.width,
    height: plan.height,
    fps: plan.fps,
    endCardSeconds: plan.endCardSeconds,
    transition: plan.transition,
    estimatedCostUsd: estimate.totalUsd,
    estimate: storedEstimate(estimate),
    ...(languages ? { languages } : {}),
  };
  const shots = plan.shots.map((spec, i) => {
    const backend = planned.backends[i]!;
    // Sound from the vendor only where the preset wants it and the backend makes it.
    return { spec: audioFor(backend, preset) ? { ...spec, audio: true } : spec, backend };
  });
  return { plan: record, shots: withReferences(shots, references) };
}
