import { Type, type Static } from '@sinclair/typebox';
import {
  Backend,
  ContinuityRefSchema,
  ShotSpecSchema,
  ShotTransition,
  Strict,
  describeErrors,
  validate,
  type BackendName,
  type Brief,
} from '@aiprod/contracts';
import { isAllowedDuration } from './backends';
import { DURATION_TOLERANCE_SECONDS, END_CARD_SECONDS, cutSeconds } from './durations';

/** A creative director's answer: the shots, the frame, the cut and the continuity table. */
export const ShotPlanSchema = Strict({
  director: Type.String({ minLength: 1, maxLength: 100, description: 'Which director made it, e.g. local.' }),
  width: Type.Integer({ minimum: 16, maximum: 3840, multipleOf: 2 }),
  height: Type.Integer({ minimum: 16, maximum: 3840, multipleOf: 2 }),
  fps: Type.Integer({ minimum: 1, maximum: 60 }),
  endCardSeconds: Type.Number({ minimum: END_CARD_SECONDS.min, maximum: END_CARD_SECONDS.max }),
  /** The transition the assembly applies between every pair of segments. */
  transition: ShotTransition,
  /** The backend the shot lengths were fitted to (the cost planner may refit per shot). */
  fittedFor: Backend,
  continuity: Type.Array(ContinuityRefSchema, { maxItems: 8 }),
  shots: Type.Array(ShotSpecSchema, { minItems: 3, maxItems: 8 }),
});
export type ShotPlan = Static<typeof ShotPlanSchema>;

/** Text limits the plan keeps to: what fits legibly on screen and in a voice-over line. */
export const TEXT_LIMITS = { onScreenText: 40, voiceOver: 300, prompt: 1000, negativePrompt: 500 } as const;

/**
 * Everything a valid plan must satisfy, as a list of problems (empty when valid): the schema,
 * 3–8 shots, indices and ids in order, the cut's length, each length allowed for its shot's
 * backend, text limits, and continuity references that resolve to the plan's table.
 */
export function checkPlan(plan: ShotPlan, brief: Brief, backends?: readonly BackendName[]): string[] {
  const problems: string[] = [];
  const checked = validate(ShotPlanSchema, plan);
  if (!checked.ok) return [`schema: ${describeErrors(checked.errors)}`];
  plan.shots.forEach((shot, i) => {
    if (shot.index !== i) problems.push(`${shot.shotId}: index ${shot.index}, expected ${i}`);
    if (shot.width !== plan.width || shot.height !== plan.height || shot.fps !== plan.fps)
      problems.push(`${shot.shotId}: frame differs from the plan's`);
    const backend = backends?.[i] ?? plan.fittedFor;
    if (!isAllowedDuration(backend, shot.durationSeconds, plan.fps))
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
