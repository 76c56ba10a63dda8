import type { AspectRatioName, BackendName, QualityTier, ShotSpec } from '@aiprod/contracts';

/** The clip lengths a model can make. */
export type DurationRule =
  /** Any whole number of frames between min and max seconds. */
  | { kind: 'frames'; minSeconds: number; maxSeconds: number }
  /** Whole seconds between min and max. */
  | { kind: 'whole_seconds'; minSeconds: number; maxSeconds: number }
  /** Only these lengths. */
  | { kind: 'set'; values: readonly number[] };

/** The resolutions a model renders, by its own names; priced per name in the price table. */
export type ResolutionName = '480p' | '720p' | '1080p';

/** The vendor's own names for the image inputs a model takes (absent: the model has no such input). */
export interface ModelInputs {
  firstFrame?: string;
  lastFrame?: string;
  referenceImages?: string;
}

/** How many tasks the vendor runs at once before it queues or refuses more. */
export interface VendorConcurrency {
  /** Absent when the vendor publishes no number (it depends on the account). */
  limit?: number;
  /** What the limit counts against. */
  per: 'process' | 'project' | 'account' | 'model';
  /** What the vendor does with a task beyond the limit. */
  beyond: string;
}

export interface ModelCapability {
  model: string;
  durations: DurationRule;
  /** Ascending; a shot is rendered at the smallest one that covers its short side (or the largest). */
  resolutions: readonly ResolutionName[];
  /** The brief's aspect ratios the model frames natively (others are cropped at assembly). */
  aspectRatios: readonly AspectRatioName[];
  /** Makes its own sound track (priced with the audio surcharge when asked for). */
  nativeAudio: boolean;
  /** Whether the model takes an image as the clip's first frame, and whether it must have one. */
  firstFrame: 'none' | 'optional' | 'required';
  /** Takes an image as the clip's last frame (always together with a first frame). */
  lastFrame: boolean;
  /** Reference images (product, character, style) it takes beside the prompt; 0 when none. */
  maxReferenceImages: number;
  /** The longest prompt it accepts, in characters. */
  maxPromptChars: number;
  /** Has a field for what to avoid. */
  negativePrompt: boolean;
  inputs: ModelInputs;
  concurrency: VendorConcurrency;
  /** Where the numbers come from, and what is assumed, for whoever checks them next. */
  source: string;
}

export interface BackendCapability {
  backend: BackendName;
  /** Tiers are per backend: presets allow backends, not models. */
  tier: QualityTier;
  /** The model used unless configuration names another. */
  defaultModel: string;
  models: Readonly<Record<string, ModelCapability>>;
}

const WIDE_AND_TALL: readonly AspectRatioName[] = ['16:9', '9:16'];
const WIDE_TALL_SQUARE: readonly AspectRatioName[] = ['16:9', '9:16', '1:1'];

const VEO_CONCURRENCY: VendorConcurrency = {
  limit: 10,
  per: 'project',
  beyond: 'refused with 429 RESOURCE_EXHAUSTED',
};
const RUNWAY_CONCURRENCY: VendorConcurrency = {
  per: 'model',
  beyond: 'queued as THROTTLED (busy, not failed); the limit depends on the usage tier',
};
const REPLICATE_CONCURRENCY: VendorConcurrency = {
  per: 'account',
  beyond: 'queued as starting; creates are limited to 600 a minute (429)',
};

const veo31 = (model: string, note: string): ModelCapability => ({
  model,
  durations: { kind: 'set', values: [4, 6, 8] },
  resolutions: ['720p', '1080p'],
  aspectRatios: WIDE_AND_TALL,
  nativeAudio: true,
  firstFrame: 'optional',
  lastFrame: true,
  maxReferenceImages: 3,
  // Assumption: Vertex documents no character limit; we keep to our own plan limit.
  maxPromptChars: 1000,
  negativePrompt: true,
  inputs: { firstFrame: 'image', lastFrame: 'lastFrame', referenceImages: 'referenceImages' },
  concurrency: VEO_CONCURRENCY,
  source: `Vertex AI Veo 3.1 generateVideos: durationSeconds 4, 6 or 8; 16:9 or 9:16; 720p/1080p; audio; first + last frame; up to 3 reference images${note}`,
});

const runwayOnVeo = (model: string): ModelCapability => ({
  model,
  durations: { kind: 'set', values: [4, 6, 8] },
  resolutions: ['720p', '1080p'],
  aspectRatios: WIDE_AND_TALL,
  nativeAudio: true,
  firstFrame: 'optional',
  // Not checked for Veo through Runway: assume no last frame and no references until we do.
  lastFrame: false,
  maxReferenceImages: 0,
  maxPromptChars: 1000,
  negativePrompt: false,
  inputs: { firstFrame: 'promptImage' },
  concurrency: RUNWAY_CONCURRENCY,
  source: `Runway API ${model}: 4, 6 or 8 s, ratios 1280:720, 720:1280, 1080:1920, 1920:1080; last frame and references not checked`,
});

/**
 * What each backend's models accept. The planner snaps durations to them, the estimates price
 * them, and the render pools read them before submitting and before falling back, so a plan never
 * asks a vendor for something it refuses. A model not listed here is refused at start-up.
 */
export const BACKEND_CAPABILITIES: Readonly<Record<BackendName, BackendCapability>> = {
  local: {
    backend: 'local',
    tier: 'animatic',
    defaultModel: 'animatic-1',
    models: {
      'animatic-1': {
        model: 'animatic-1',
        // The animatic renderer makes any whole-frame length; 20 s is the ShotSpec's own limit.
        durations: { kind: 'frames', minSeconds: 1, maxSeconds: 20 },
        resolutions: ['720p', '1080p'],
        aspectRatios: ['16:9', '9:16', '1:1', '4:5'],
        nativeAudio: false,
        firstFrame: 'none',
        lastFrame: false,
        maxReferenceImages: 0,
        maxPromptChars: 1000,
        negativePrompt: false,
        inputs: {},
        concurrency: { per: 'process', beyond: 'waits for a free ffmpeg slot' },
        source: 'our ffmpeg animatic renderer',
      },
    },
  },
  replicate: {
    backend: 'replicate',
    tier: 'basic',
    // Kept on Wan while the Replicate adapter and its test server speak only Wan's input; the
    // Seedance entry below is ready for REPLICATE_MODEL (see the vendor catalogue decision record).
    defaultModel: 'wan-video/wan-2.2-t2v-fast',
    models: {
      'wan-video/wan-2.2-t2v-fast': {
        model: 'wan-video/wan-2.2-t2v-fast',
        // Assumption: Wan 2.2 makes 81 frames at 16 fps (≈5 s) by default and an 8 s variant; other
        // lengths are not offered by the hosted fast model we configure. Re-check when the model changes.
        durations: { kind: 'set', values: [5, 8] },
        resolutions: ['480p', '720p'],
        aspectRatios: WIDE_AND_TALL,
        nativeAudio: false,
        // The t2v model takes no image; Wan's i2v variants take `image`.
        firstFrame: 'none',
        lastFrame: false,
        maxReferenceImages: 0,
        maxPromptChars: 1000,
        negativePrompt: true,
        inputs: {},
        concurrency: REPLICATE_CONCURRENCY,
        source: 'Replicate model page for wan-video/wan-2.2-t2v-fast (assumed 5 s or 8 s; prompt limit assumed)',
      },
      'bytedance/seedance-1-lite': {
        model: 'bytedance/seedance-1-lite',
        durations: { kind: 'whole_seconds', minSeconds: 2, maxSeconds: 12 },
        resolutions: ['480p', '720p', '1080p'],
        aspectRatios: WIDE_TALL_SQUARE,
        nativeAudio: false,
        firstFrame: 'optional',
        lastFrame: true,
        // Replicate: 1–4 references, but not together with a first/last frame nor at 1080p.
        maxReferenceImages: 4,
        maxPromptChars: 1000,
        negativePrompt: false,
        inputs: { firstFrame: 'image', lastFrame: 'last_frame_image', referenceImages: 'reference_images' },
        concurrency: REPLICATE_CONCURRENCY,
        source:
          'Replicate API schema of bytedance/seedance-1-lite: duration 2–12 s (integer), 480p/720p/1080p, fps 24, image, last_frame_image (only with image), reference_images 1–4 (not with frames or 1080p); no negative prompt; prompt limit assumed',
      },
      'kwaivgi/kling-v2.1': {
        model: 'kwaivgi/kling-v2.1',
        durations: { kind: 'set', values: [5, 10] },
        // standard mode renders 720p, pro mode 1080p.
        resolutions: ['720p', '1080p'],
        aspectRatios: WIDE_TALL_SQUARE,
        nativeAudio: false,
        // Kling v2.1 on Replicate is image-to-video: start_image is required.
        firstFrame: 'required',
        // end_image only in pro mode (1080p).
        lastFrame: true,
        maxReferenceImages: 0,
        maxPromptChars: 2500,
        negativePrompt: true,
        inputs: { firstFrame: 'start_image', lastFrame: 'end_image' },
        concurrency: REPLICATE_CONCURRENCY,
        source:
          'VENDORS.md (start_image) and Kling API notes: 5 or 10 s, standard 720p / pro 1080p, end_image in pro mode, negative_prompt; not checked against the Replicate schema',
      },
      'minimax/hailuo-02': {
        model: 'minimax/hailuo-02',
        durations: { kind: 'set', values: [6, 10] },
        // Hailuo's 768p is billed here as the 720p class; 1080p only for 6 s clips.
        resolutions: ['720p', '1080p'],
        aspectRatios: WIDE_AND_TALL,
        nativeAudio: false,
        firstFrame: 'optional',
        lastFrame: true,
        maxReferenceImages: 0,
        maxPromptChars: 2000,
        negativePrompt: false,
        inputs: { firstFrame: 'first_frame_image', lastFrame: 'end_image' },
        concurrency: REPLICATE_CONCURRENCY,
        source:
          'VENDORS.md (first_frame_image, end_image) and MiniMax Hailuo-02 docs: 6 or 10 s, 768p/1080p (1080p only 6 s), prompt up to 2000 characters; not checked against the Replicate schema',
      },
    },
  },
  runway: {
    backend: 'runway',
    tier: 'standard',
    defaultModel: 'gen4.5',
    models: {
      'gen4.5': {
        model: 'gen4.5',
        durations: { kind: 'whole_seconds', minSeconds: 2, maxSeconds: 10 },
        // Runway's ratios are all 720p-class (1280:720, 720:1280, 960:960, …).
        resolutions: ['720p'],
        aspectRatios: WIDE_TALL_SQUARE,
        nativeAudio: false,
        firstFrame: 'optional',
        lastFrame: false,
        // References go through gen4_image (an image model), not the video call.
        maxReferenceImages: 0,
        maxPromptChars: 1000,
        negativePrompt: false,
        inputs: { firstFrame: 'promptImage' },
        concurrency: RUNWAY_CONCURRENCY,
        source: 'Runway API text_to_video / image_to_video: gen4.5, duration 2–10 s, promptText ≤ 1000 characters',
      },
      gen4_turbo: {
        model: 'gen4_turbo',
        durations: { kind: 'whole_seconds', minSeconds: 2, maxSeconds: 10 },
        resolutions: ['720p'],
        aspectRatios: WIDE_TALL_SQUARE,
        nativeAudio: false,
        firstFrame: 'required',
        lastFrame: false,
        maxReferenceImages: 0,
        maxPromptChars: 1000,
        negativePrompt: false,
        inputs: { firstFrame: 'promptImage' },
        concurrency: RUNWAY_CONCURRENCY,
        source: 'Runway API image_to_video: gen4_turbo needs promptImage; 2–10 s; promptText ≤ 1000 characters',
      },
      'veo3.1': runwayOnVeo('veo3.1'),
      'veo3.1_fast': runwayOnVeo('veo3.1_fast'),
    },
  },
  veo: {
    backend: 'veo',
    tier: 'premium',
    defaultModel: 'veo-3.1-fast-generate-001',
    models: {
      'veo-3.1-fast-generate-001': veo31(
        'veo-3.1-fast-generate-001',
        ' (reference images assumed to match the standard model)',
      ),
      'veo-3.1-generate-001': veo31('veo-3.1-generate-001', ''),
    },
  },
};

export const DEFAULT_MODELS: Readonly<Record<BackendName, string>> = {
  local: BACKEND_CAPABILITIES.local.defaultModel,
  replicate: BACKEND_CAPABILITIES.replicate.defaultModel,
  runway: BACKEND_CAPABILITIES.runway.defaultModel,
  veo: BACKEND_CAPABILITIES.veo.defaultModel,
};

/**
 * What `model` on `backend` accepts (the backend's default model when none is named). An unknown
 * model throws: configuration naming one stops start-up rather than guessing its limits.
 */
export function modelCapability(backend: BackendName, model?: string): ModelCapability {
  const entry = BACKEND_CAPABILITIES[backend];
  const name = model ?? entry.defaultModel;
  const found = Object.prototype.hasOwnProperty.call(entry.models, name) ? entry.models[name] : undefined;
  if (!found) {
    throw new Error(
      `the vendor catalogue has no ${backend} model "${name}" (known: ${Object.keys(entry.models).join(', ')})`,
    );
  }
  return found;
}

/** The model per backend: the configured ones, checked against the catalogue, else the defaults. */
export function resolveModels(
  configured: Partial<Record<BackendName, string>> = {},
): Readonly<Record<BackendName, string>> {
  const models = { ...DEFAULT_MODELS, ...configured };
  for (const [backend, model] of Object.entries(models)) modelCapability(backend as BackendName, model);
  return models;
}

const EPSILON = 1e-6;
const roundTo = (value: number, step: number) => Math.round(value / step) * step;

/** The shortest and longest clip the model makes. */
export function durationRange(backend: BackendName, model?: string): { min: number; max: number } {
  const rule = modelCapability(backend, model).durations;
  if (rule.kind === 'set') return { min: Math.min(...rule.values), max: Math.max(...rule.values) };
  return { min: rule.minSeconds, max: rule.maxSeconds };
}

/** Whether the model makes a clip of exactly this length (at `fps` for frame-based ones). */
export function isAllowedDuration(backend: BackendName, seconds: number, fps: number, model?: string): boolean {
  const rule = modelCapability(backend, model).durations;
  if (rule.kind === 'set') return rule.values.some((v) => Math.abs(v - seconds) < EPSILON);
  if (seconds < rule.minSeconds - EPSILON || seconds > rule.maxSeconds + EPSILON) return false;
  const step = rule.kind === 'frames' ? 1 / fps : 1;
  return Math.abs(seconds / step - Math.round(seconds / step)) < EPSILON * fps;
}

/** The allowed length nearest to `seconds` (ties go to the longer one). */
export function snapDuration(backend: BackendName, seconds: number, fps: number, model?: string): number {
  const rule = modelCapability(backend, model).durations;
  if (rule.kind === 'set') {
    return rule.values.reduce((best, v) => (Math.abs(v - seconds) <= Math.abs(best - seconds) ? v : best));
  }
  const clamped = Math.min(rule.maxSeconds, Math.max(rule.minSeconds, seconds));
  if (rule.kind === 'whole_seconds') return Math.round(clamped);
  return Math.round(clamped * fps) / fps;
}

/** The allowed lengths next to `seconds`: the next shorter and the next longer one, if any. */
export function neighbourDurations(backend: BackendName, seconds: number, fps: number, model?: string): number[] {
  const rule = modelCapability(backend, model).durations;
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

/** The resolution the model renders a frame of this size at. */
export function resolutionFor(backend: BackendName, width: number, height: number, model?: string): ResolutionName {
  const shortSide = Math.min(width, height);
  const offered = modelCapability(backend, model).resolutions;
  const lines: Record<ResolutionName, number> = { '480p': 480, '720p': 720, '1080p': 1080 };
  return offered.find((r) => lines[r] >= shortSide) ?? offered[offered.length - 1]!;
}

/**
 * `BACKEND_MODELS` (`runway=gen4.5,replicate=bytedance/seedance-1-lite`) as a model per backend.
 * The planner and every render pool read the same value, so a plan is made for the models the
 * pools run and a pool knows what the other pools of its fallback chain can take. A backend named
 * twice, an unknown backend or a model the catalogue does not know is an error naming the variable.
 */
export function parseBackendModels(text: string | undefined): Partial<Record<BackendName, string>> {
  const models: Partial<Record<BackendName, string>> = {};
  for (const part of (text ?? '').split(',')) {
    const item = part.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    const backend = item.slice(0, eq).trim();
    const model = item.slice(eq + 1).trim();
    if (eq < 0 || !model) throw new Error(`BACKEND_MODELS: "${item}" is not backend=model`);
    if (!Object.prototype.hasOwnProperty.call(BACKEND_CAPABILITIES, backend))
      throw new Error(
        `BACKEND_MODELS: "${backend}" is not a backend (${Object.keys(BACKEND_CAPABILITIES).join(', ')})`,
      );
    const name = backend as BackendName;
    if (models[name] !== undefined) throw new Error(`BACKEND_MODELS names ${name} twice`);
    try {
      modelCapability(name, model);
    } catch (error) {
      throw new Error(`BACKEND_MODELS: ${(error as Error).message}`);
    }
    models[name] = model;
  }
  return models;
}

/** Whether the model can be given an image of the shot at all: as its first frame or as a reference. */
export function takesImage(backend: BackendName, model?: string): boolean {
  const cap = modelCapability(backend, model);
  return cap.firstFrame !== 'none' || cap.maxReferenceImages > 0;
}

/** Whether the model cannot make a clip without an image (e.g. Runway gen4_turbo, Kling v2.1). */
export function requiresImage(backend: BackendName, model?: string): boolean {
  return modelCapability(backend, model).firstFrame === 'required';
}

/**
 * A shot needs an image when it carries a product reference: the product must look like the
 * client's own, which only a model given the image can promise. Brand and style references are
 * sent where a model takes them, but never decide the backend.
 */
export const shotNeedsImage = (shot: Pick<ShotSpec, 'references'>): boolean =>
  (shot.references ?? []).some((r) => r.role === 'product');
