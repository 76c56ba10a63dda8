import { PRESETS, type BackendName, type PresetView } from '@aiprod/contracts';
import { BACKEND_CAPABILITIES, modelCapability, type DurationRule } from './capabilities';

function describeDurations(rule: DurationRule): string {
  if (rule.kind === 'set') return `${rule.values.join(', ')} s`;
  if (rule.kind === 'whole_seconds') return `whole seconds, ${rule.minSeconds}–${rule.maxSeconds} s`;
  return `any whole number of frames, ${rule.minSeconds}–${rule.maxSeconds} s`;
}

/** The presets as plain JSON, for GET /v1/presets: each backend with the model this deployment uses. */
export function presetsView(models: Partial<Record<BackendName, string>> = {}): PresetView[] {
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
      model: models[b] ?? BACKEND_CAPABILITIES[b].defaultModel,
      tier: BACKEND_CAPABILITIES[b].tier,
      durations: describeDurations(modelCapability(b, models[b]).durations),
    })),
    defaultAspectRatios: [...p.defaultAspectRatios],
    nativeAudio: p.nativeAudio,
    deliveryLoudnessLufs: p.deliveryLoudnessLufs,
    deliveryTruePeakDbtp: p.deliveryTruePeakDbtp,
    qa: { ...p.qa, loudnessRangeLufs: [...p.qa.loudnessRangeLufs] },
  }));
}
