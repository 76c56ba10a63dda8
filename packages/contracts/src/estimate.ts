import { Type, type Static } from '@sinclair/typebox';
import {
  AspectRatio,
  Backend,
  ContinuityRefSchema,
  PresetName,
  ShotId,
  ShotSpecSchema,
  ShotTransition,
  Strict,
} from './schemas';

/**
 * Wire shapes of plans, estimates and the presets view: what the planner stores, what
 * POST /v1/estimates and GET /v1/presets answer. They live here, not with the code that fills
 * them, so a service can read them without depending on the planner's or the catalogue's code.
 */

/** The end card (brand, call to action) is rendered at assembly at any length in this range. */
export const END_CARD_SECONDS = { min: 1, max: 3 } as const;

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

const Tier = Type.Union([
  Type.Literal('animatic'),
  Type.Literal('basic'),
  Type.Literal('standard'),
  Type.Literal('premium'),
]);
const Usd = Type.Number({ minimum: 0 });

const ChainStepSchema = Strict({
  backend: Backend,
  model: Type.String(),
  durationSeconds: Type.Number(),
  attempts: Type.Integer({ minimum: 1 }),
  attemptUsd: Usd,
});

export const ShotEstimateSchema = Strict({
  shotId: ShotId,
  purpose: Type.String(),
  durationSeconds: Type.Number(),
  backend: Backend,
  model: Type.String(),
  tier: Tier,
  resolution: Type.String(),
  audio: Type.Boolean(),
  /** One attempt, priced. */
  firstAttemptUsd: Usd,
  /** With the expected retakes (the assumed retake rate, bounded by the preset's maxAttempts). */
  expectedUsd: Usd,
  /** Upper bound: every attempt the preset allows fails on every backend of the chain, and each is billed. */
  worstCaseUsd: Usd,
  /**
   * The shot's backend, then the fallbacks the render pools may use for it (the policy's order,
   * only backends the preset allows, this deployment runs and that make the shot's length), each
   * priced per attempt.
   */
  fallbackChain: Type.Array(ChainStepSchema),
  degraded: Type.Optional(Strict({ from: Backend, reason: Type.String() })),
  referenceNote: Type.Optional(
    Type.String({
      description:
        "Why the shot's product reference image will not be sent: its backend's model takes no image and no allowed backend that takes one fits (the downgrade is planned and recorded, never silent).",
    }),
  ),
});
export type ShotEstimate = Static<typeof ShotEstimateSchema>;

export const BackendAlternativeSchema = Strict({
  backend: Backend,
  model: Type.String(),
  tier: Tier,
  allowedByPreset: Type.Boolean(),
  feasible: Type.Boolean(),
  why: Type.Optional(Type.String()),
  shots: Type.Optional(Type.Integer()),
  firstPassUsd: Type.Optional(Usd),
  expectedUsd: Type.Optional(Usd),
  worstCaseUsd: Type.Optional(Usd),
});
export type BackendAlternative = Static<typeof BackendAlternativeSchema>;

/** What POST /v1/estimates answers and what the planner stores with a plan. */
export const JobEstimateSchema = Strict({
  priceTableVersion: Type.String(),
  currency: Type.Literal('USD'),
  pricesAreEstimates: Type.Boolean(),
  preset: PresetName,
  qualityTier: Tier,
  director: Type.String(),
  cutSeconds: Type.Number(),
  shots: Type.Array(ShotEstimateSchema),
  /** Every shot rendered once. */
  firstPassUsd: Usd,
  /** With expected retakes: the figure compared with the tenant's auto-approve limit. */
  totalUsd: Usd,
  /** Every vendor task the plan could run, billed: the figure compared with the budget cap. */
  worstCaseUsd: Usd,
  budgetCapUsd: Type.Optional(Usd),
  /** With a cap: which figure was compared with it (the worst case, so the cap is never passed). */
  budgetComparedWith: Type.Optional(Type.Literal('worstCaseUsd')),
  /** worstCaseUsd ≤ budgetCapUsd, or no cap. */
  withinBudget: Type.Boolean(),
  /** Why the plan cannot be made within the budget cap, when it cannot: both amounts, named. */
  refusal: Type.Optional(Type.String()),
  /** The same shots, every one on one backend: what each option would cost. */
  byBackend: Type.Array(BackendAlternativeSchema),
  assumptions: Strict({ retakeRate: Type.Number(), maxAttempts: Type.Integer(), worstCase: Type.String() }),
  notes: Type.Array(Type.String()),
});
export type JobEstimate = Static<typeof JobEstimateSchema>;

const PresetBackendSchema = Strict({
  backend: Backend,
  model: Type.String(),
  tier: Tier,
  durations: Type.String({ description: 'The clip lengths the backend makes, in words.' }),
});

export const PresetViewSchema = Strict({
  name: PresetName,
  description: Type.String(),
  maxDurationSeconds: Type.Number(),
  shotCount: Strict({ min: Type.Integer(), max: Type.Integer() }),
  qualityTier: Tier,
  minQualityTier: Tier,
  allowedBackends: Type.Array(Backend),
  backendOrder: Type.Array(Backend),
  backends: Type.Array(PresetBackendSchema),
  defaultAspectRatios: Type.Array(AspectRatio),
  nativeAudio: Type.Boolean(),
  deliveryLoudnessLufs: Type.Number(),
  deliveryTruePeakDbtp: Type.Number({ description: 'Ceiling on the delivered true peak, dBTP.' }),
  qa: Strict({
    durationToleranceSeconds: Type.Number(),
    maxBlackSeconds: Type.Number(),
    maxFrozenSeconds: Type.Number(),
    maxSilenceSeconds: Type.Number(),
    loudnessRangeLufs: Type.Array(Type.Number(), { minItems: 2, maxItems: 2 }),
    maxTruePeakDbtp: Type.Number(),
    minTextSimilarity: Type.Number(),
    maxAttempts: Type.Integer(),
  }),
});
export const PresetsViewSchema = Type.Array(PresetViewSchema);
export type PresetView = Static<typeof PresetViewSchema>;
