import { Type, type Static } from '@sinclair/typebox';
import { AspectRatio, Backend, PRESETS, PresetName, Strict } from '@aiprod/contracts';
import { BACKEND_CAPABILITIES, type DurationRule } from './backends';

const Tier = Type.Union([
  Type.Literal('animatic'),
  Type.Literal('basic'),
  Type.Literal('standard'),
  Type.Literal('premium'),
]);

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

function describeDurations(rule: DurationRule): string {
  if (rule.kind === 'set') return `${rule.values.join(', ')} s`;
  if (rule.kind === 'whole_seconds') return `whole seconds, ${rule.minSeconds}–${rule.maxSeconds} s`;
  return `any whole number of frames, ${rule.minSeconds}–${rule.maxSeconds} s`;
}

/** The presets as plain JSON, for GET /v1/presets. */
export function presetsView(): PresetView[] {
  return Object.values(PRESETS).map((p) => ({
    name: p.name,
    description: p.description,
    maxDurationSeconds: p.maxDurationSeconds,
    shotCount: { ...p.shotCount },
    qualityTier: p.qualityTier,
    minQualityTier: p.minQualityTier,
    allowedBackends: [...p.allowedBackends],
    backendOrder: [...p.backendOrder],
    backends: p.backendOrder.map((b) => ({
      backend: b,
      model: BACKEND_CAPABILITIES[b].defaultModel,
      tier: BACKEND_CAPABILITIES[b].tier,
      durations: describeDurations(BACKEND_CAPABILITIES[b].durations),
    })),
    defaultAspectRatios: [...p.defaultAspectRatios],
    nativeAudio: p.nativeAudio,
    deliveryLoudnessLufs: p.deliveryLoudnessLufs,
    qa: { ...p.qa, loudnessRangeLufs: [...p.qa.loudnessRangeLufs] },
  }));
}
