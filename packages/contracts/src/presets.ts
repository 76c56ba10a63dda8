import type { BackendName } from './catalogue';

/** What QA tolerates for a preset. Durations in seconds, loudness in LUFS / dBTP. */
export interface QaThresholds {
  /** Allowed difference between a clip's duration and the plan's. */
  durationToleranceSeconds: number;
  /** A black stretch longer than this fails the clip (dark brand colours are not black: see media's detector tuning). */
  maxBlackSeconds: number;
  /** A frozen stretch longer than this fails the clip. */
  maxFrozenSeconds: number;
  /** Silence longer than this fails a clip that is expected to have sound. */
  maxSilenceSeconds: number;
  /** Integrated loudness must fall in this range when the clip has sound. */
  loudnessRangeLufs: [number, number];
  maxTruePeakDbtp: number;
  /** Fuzzy-match score (0..1) the planned on-screen text must reach in OCR. */
  minTextSimilarity: number;
  /** Render attempts per shot before the job fails. */
  maxAttempts: number;
}

/**
 * What a backend's output is good for, lowest first: `animatic` is the local moving storyboard,
 * `basic` a cheap open model, `standard` a commercial model, `premium` the best available.
 */
export const QUALITY_TIERS = ['animatic', 'basic', 'standard', 'premium'] as const;
export type QualityTier = (typeof QUALITY_TIERS)[number];
export const tierRank = (tier: QualityTier): number => QUALITY_TIERS.indexOf(tier);

export type AspectRatioName = '16:9' | '9:16' | '1:1' | '4:5';

export interface Preset {
  name: 'social_quick' | 'brand_campaign' | 'premium_spot';
  description: string;
  maxDurationSeconds: number;
  shotCount: { min: number; max: number };
  allowedBackends: readonly BackendName[];
  /** Loudness of the delivered file: −14 LUFS suits social platforms, −23 LUFS is EBU R128 broadcast. */
  deliveryLoudnessLufs: number;
  /** Ceiling on the delivered file's true peak (dBTP): -1 for streaming, -2 under R128 for broadcast. */
  deliveryTruePeakDbtp: number;
  qa: QaThresholds;
  /** The tier the planner aims for: the cheapest allowed backend of at least this tier. */
  qualityTier: QualityTier;
  /** The lowest tier a budget cap may push a shot down to; below it the job is refused. */
  minQualityTier: QualityTier;
  /** Preference among backends that cost the same; also the order shown to clients. */
  backendOrder: readonly BackendName[];
  /** Ask backends that can (Veo) for native sound; priced with the audio surcharge. */
  nativeAudio: boolean;
  /**
   * Output variants. The brief must name its aspect ratios, so delivery makes exactly those;
   * `defaultAspectRatios` is what a client should send when it has no preference (shown by
   * GET /v1/presets), the first being the one the shots are framed for.
   */
  defaultAspectRatios: readonly AspectRatioName[];
  /**
   * The delivery promise the SLO measures: production time (accepted to delivered, any wait for the
   * client's approval excluded) should stay under it. Generous against the measured times (a
   * social_quick job takes about a minute on the local pool, vendor renders a few minutes a shot)
   * so that only a real slowdown, not an ordinary slow vendor, spends the error budget.
   */
  deliveryDeadlineSeconds: number;
}

const BASE_QA: QaThresholds = {
  durationToleranceSeconds: 0.1,
  maxBlackSeconds: 0.5,
  maxFrozenSeconds: 2.0,
  maxSilenceSeconds: 2.0,
  loudnessRangeLufs: [-30, -10],
  maxTruePeakDbtp: -0.5,
  // Measured with the local OCR judge: correct renders read 1.00; "Run brihgter" for "Run
  // brighter" (two letters swapped) scores 0.83, so 0.8 would let it through.
  minTextSimilarity: 0.9,
  maxAttempts: 3,
};

export const PRESETS: Readonly<Record<Preset['name'], Preset>> = {
  social_quick: {
    name: 'social_quick',
    description: 'Up to 15 s, vertical first, cheap backends; loud for phones.',
    maxDurationSeconds: 15,
    shotCount: { min: 3, max: 5 },
    allowedBackends: ['local', 'replicate', 'runway'],
    deliveryLoudnessLufs: -14,
    deliveryTruePeakDbtp: -1,
    qa: { ...BASE_QA },
    qualityTier: 'basic',
    minQualityTier: 'animatic',
    backendOrder: ['replicate', 'runway', 'local'],
    nativeAudio: false,
    defaultAspectRatios: ['9:16'],
    deliveryDeadlineSeconds: 15 * 60,
  },
  brand_campaign: {
    name: 'brand_campaign',
    description: 'Up to 60 s across channels; balanced cost and quality.',
    maxDurationSeconds: 60,
    shotCount: { min: 3, max: 8 },
    allowedBackends: ['local', 'runway', 'veo', 'replicate'],
    deliveryLoudnessLufs: -16,
    deliveryTruePeakDbtp: -1,
    qa: { ...BASE_QA, maxFrozenSeconds: 1.5 },
    qualityTier: 'standard',
    minQualityTier: 'basic',
    backendOrder: ['runway', 'veo', 'replicate', 'local'],
    nativeAudio: false,
    defaultAspectRatios: ['16:9', '9:16', '1:1'],
    deliveryDeadlineSeconds: 60 * 60,
  },
  premium_spot: {
    name: 'premium_spot',
    description: 'Broadcast-grade spot on the best backends; strict QA, EBU R128 loudness.',
    maxDurationSeconds: 60,
    shotCount: { min: 3, max: 8 },
    allowedBackends: ['local', 'veo', 'runway'],
    deliveryLoudnessLufs: -23,
    deliveryTruePeakDbtp: -2,
    qa: {
      ...BASE_QA,
      maxBlackSeconds: 0.2,
      maxFrozenSeconds: 1.0,
      minTextSimilarity: 0.9,
      maxTruePeakDbtp: -1,
      maxAttempts: 4,
    },
    qualityTier: 'premium',
    minQualityTier: 'standard',
    backendOrder: ['veo', 'runway', 'local'],
    nativeAudio: true,
    defaultAspectRatios: ['16:9'],
    deliveryDeadlineSeconds: 2 * 60 * 60,
  },
};

export const presetOf = (name: string | undefined): Preset =>
  PRESETS[(name ?? 'social_quick') as Preset['name']] ?? PRESETS.social_quick;

/** The preset a brief gets when it names none: social_quick when it fits (≤ 15 s), else brand_campaign. */
export const defaultPresetFor = (durationSeconds: number): Preset['name'] =>
  durationSeconds <= PRESETS.social_quick.maxDurationSeconds ? 'social_quick' : 'brand_campaign';
