import type { BackendName, QualityTier } from '@aiprod/contracts';

/** The clip lengths a backend can make. */
export type DurationRule =
  /** Any whole number of frames between min and max seconds. */
  | { kind: 'frames'; minSeconds: number; maxSeconds: number }
  /** Whole seconds between min and max. */
  | { kind: 'whole_seconds'; minSeconds: number; maxSeconds: number }
  /** Only these lengths. */
  | { kind: 'set'; values: readonly number[] };

/** The resolutions a backend renders, by its own names; priced per name in the price table. */
export type ResolutionName = '480p' | '720p' | '1080p';

export interface BackendCapability {
  backend: BackendName;
  /** The model used unless configuration names another; the price table must price it. */
  defaultModel: string;
  tier: QualityTier;
  durations: DurationRule;
  /** Ascending; a shot is rendered at the smallest one that covers its short side (or the largest). */
  resolutions: readonly ResolutionName[];
  /** Makes its own sound track (priced with the audio surcharge when asked for). */
  nativeAudio: boolean;
  /** Where the numbers come from, for whoever checks them next. */
  source: string;
}

/**
 * What each backend accepts. The planner snaps durations to it and the render pools read it
 * before submitting, so a plan never asks a vendor for a length it refuses.
 */
export const BACKEND_CAPABILITIES: Readonly<Record<BackendName, BackendCapability>> = {
  local: {
    backend: 'local',
    defaultModel: 'animatic-1',
    tier: 'animatic',
    // The animatic renderer makes any whole-frame length; 20 s is the ShotSpec's own limit.
    durations: { kind: 'frames', minSeconds: 1, maxSeconds: 20 },
    resolutions: ['720p', '1080p'],
    nativeAudio: false,
    source: 'our ffmpeg animatic renderer',
  },
  replicate: {
    backend: 'replicate',
    defaultModel: 'wan-video/wan-2.2-t2v-fast',
    tier: 'basic',
    // Assumption: Wan 2.2 makes 81 frames at 16 fps (≈5 s) by default and an 8 s variant; other
    // lengths are not offered by the hosted fast model we configure. Re-check when the model changes.
    durations: { kind: 'set', values: [5, 8] },
    resolutions: ['480p', '720p'],
    nativeAudio: false,
    source: 'Replicate model page for wan-video/wan-2.2-t2v-fast (assumed 5 s or 8 s)',
  },
  runway: {
    backend: 'runway',
    defaultModel: 'gen4.5',
    tier: 'standard',
    durations: { kind: 'whole_seconds', minSeconds: 2, maxSeconds: 10 },
    // Runway's text-to-video ratios are all 720p-class (1280:720, 720:1280, 960:960, …).
    resolutions: ['720p'],
    nativeAudio: false,
    source: 'Runway API text_to_video: gen4.5, duration 2–10 s',
  },
  veo: {
    backend: 'veo',
    defaultModel: 'veo-3.1-fast-generate-001',
    tier: 'premium',
    durations: { kind: 'set', values: [4, 6, 8] },
    resolutions: ['720p', '1080p'],
    nativeAudio: true,
    source: 'Vertex AI Veo 3.x generateVideos: durationSeconds 4, 6 or 8',
  },
};

export const DEFAULT_MODELS: Readonly<Record<BackendName, string>> = {
  local: BACKEND_CAPABILITIES.local.defaultModel,
  replicate: BACKEND_CAPABILITIES.replicate.defaultModel,
  runway: BACKEND_CAPABILITIES.runway.defaultModel,
  veo: BACKEND_CAPABILITIES.veo.defaultModel,
};

const EPSILON = 1e-6;
const roundTo = (value: number, step: number) => Math.round(value / step) * step;

/** The shortest and longest clip the backend makes. */
export function durationRange(backend: BackendName): { min: number; max: number } {
  const rule = BACKEND_CAPABILITIES[backend].durations;
  if (rule.kind === 'set') return { min: Math.min(...rule.values), max: Math.max(...rule.values) };
  return { min: rule.minSeconds, max: rule.maxSeconds };
}

/** Whether the backend makes a clip of exactly this length (at `fps` for frame-based ones). */
export function isAllowedDuration(backend: BackendName, seconds: number, fps: number): boolean {
  const rule = BACKEND_CAPABILITIES[backend].durations;
  if (rule.kind === 'set') return rule.values.some((v) => Math.abs(v - seconds) < EPSILON);
  if (seconds < rule.minSeconds - EPSILON || seconds > rule.maxSeconds + EPSILON) return false;
  const step = rule.kind === 'frames' ? 1 / fps : 1;
  return Math.abs(seconds / step - Math.round(seconds / step)) < EPSILON * fps;
}

/** The allowed length nearest to `seconds` (ties go to the longer one). */
export function snapDuration(backend: BackendName, seconds: number, fps: number): number {
  const rule = BACKEND_CAPABILITIES[backend].durations;
  if (rule.kind === 'set') {
    return rule.values.reduce((best, v) => (Math.abs(v - seconds) <= Math.abs(best - seconds) ? v : best));
  }
  const clamped = Math.min(rule.maxSeconds, Math.max(rule.minSeconds, seconds));
  if (rule.kind === 'whole_seconds') return Math.round(clamped);
  return Math.round(clamped * fps) / fps;
}

/** The allowed lengths next to `seconds`: the next shorter and the next longer one, if any. */
export function neighbourDurations(backend: BackendName, seconds: number, fps: number): number[] {
  const rule = BACKEND_CAPABILITIES[backend].durations;
  if (rule.kind === 'set') {
    const sorted = [...rule.values].sort((a, b) => a - b);
    const down = sorted.filter((v) => v < seconds - EPSILON).pop();
    const up = sorted.find((v) => v > seconds + EPSILON);
    return [down, up].filter((v): v is number => v !== undefined);
  }
  const step = rule.kind === 'frames' ? 1 / fps : 1;
  return [roundTo(seconds - step, step), roundTo(seconds + step, step)].filter(
    (v) => v >= rule.minSeconds - EPSILON && v <= rule.maxSeconds + EPSILON,
  );
}

/** The resolution the backend renders a frame of this size at. */
export function resolutionFor(backend: BackendName, width: number, height: number): ResolutionName {
  const shortSide = Math.min(width, height);
  const offered = BACKEND_CAPABILITIES[backend].resolutions;
  const lines: Record<ResolutionName, number> = { '480p': 480, '720p': 720, '1080p': 1080 };
  return offered.find((r) => lines[r] >= shortSide) ?? offered[offered.length - 1]!;
}
