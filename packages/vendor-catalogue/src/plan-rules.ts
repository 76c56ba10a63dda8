import {
  ShotPlanSchema,
  describeErrors,
  validate,
  type BackendName,
  type Brief,
  type ShotPlan,
} from '@aiprod/contracts';
import { isAllowedDuration } from './capabilities';
import { DURATION_TOLERANCE_SECONDS, cutSeconds } from './durations';

/** Text limits the plan keeps to: what fits legibly on screen and in a voice-over line. */
export const TEXT_LIMITS = { onScreenText: 40, voiceOver: 300, prompt: 1000, negativePrompt: 500 } as const;

/**
 * Everything a valid plan must satisfy, as a list of problems (empty when valid): the schema,
 * 3–8 shots, indices and ids in order, the cut's length, each length allowed for its shot's
 * backend's model, text limits, and continuity references that resolve to the plan's table.
 */
export function checkPlan(
  plan: ShotPlan,
  brief: Brief,
  backends?: readonly BackendName[],
  models?: Partial<Record<BackendName, string>>,
): string[] {
  const problems: string[] = [];
  const checked = validate(ShotPlanSchema, plan);
  if (!checked.ok) return [`schema: ${describeErrors(checked.errors)}`];
  plan.shots.forEach((shot, i) => {
    if (shot.index !== i) problems.push(`${shot.shotId}: index ${shot.index}, expected ${i}`);
    if (shot.width !== plan.width || shot.height !== plan.height || shot.fps !== plan.fps)
      problems.push(`${shot.shotId}: frame differs from the plan's`);
    const backend = backends?.[i] ?? plan.fittedFor;
    if (!isAllowedDuration(backend, shot.durationSeconds, plan.fps, models?.[backend]))
      problems.push(`${shot.shotId}: ${shot.durationSeconds} s is not a length ${backend} makes`);
    if ((shot.onScreenText?.length ?? 0) > TEXT_LIMITS.onScreenText)
      problems.push(`${shot.shotId}: on-screen text longer than ${TEXT_LIMITS.onScreenText}`);
    if (shot.transition && shot.transition.durationSeconds !== plan.transition.durationSeconds)
      problems.push(`${shot.shotId}: transition length differs from the plan's`);
    for (const ref of shot.continuity ?? []) {
      const entry = plan.continuity.find((c) => c.id === ref.id);
      if (!entry) problems.push(`${shot.shotId}: continuity reference "${ref.id}" is not in the plan's table`);
      else if (JSON.stringify(entry) !== JSON.stringify(ref))
        problems.push(`${shot.shotId}: continuity reference "${ref.id}" differs from the table`);
    }
  });
  if (new Set(plan.shots.map((s) => s.shotId)).size !== plan.shots.length) problems.push('shot ids repeat');
  if (new Set(plan.continuity.map((c) => c.id)).size !== plan.continuity.length) problems.push('continuity ids repeat');
  const used = new Set(plan.shots.flatMap((s) => (s.continuity ?? []).map((c) => c.id)));
  for (const c of plan.continuity) if (!used.has(c.id)) problems.push(`continuity "${c.id}" is used by no shot`);
  const cut = cutSeconds(
    plan.shots.map((s) => s.durationSeconds),
    plan.endCardSeconds,
    plan.transition.durationSeconds,
  );
  if (Math.abs(cut - brief.durationSeconds) > DURATION_TOLERANCE_SECONDS + 1e-9)
    problems.push(`the cut is ${cut.toFixed(2)} s, the brief asks for ${brief.durationSeconds} s`);
  return problems;
}
