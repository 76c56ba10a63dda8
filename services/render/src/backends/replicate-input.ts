import type { ShotSpec } from '@aiprod/contracts';
import {
  BACKEND_CAPABILITIES,
  modelCapability,
  type ModelCapability,
  type ResolutionName,
  resolutionFor,
  snapDuration,
} from '@aiprod/vendor-catalogue';
import { dataUri } from '../steps/references';
import { BackendFailure, type LoadedReference, type SentRequest, sentRequest } from './backend';
import {
  type AttachedReference,
  type Dialect,
  dialectOf,
  type DroppedPart,
  type PromptLimits,
  promptLimitsFor,
  type ReferenceSyntax,
  translatePrompt,
  type VendorPrompt,
} from './dialect';

/**
 * The input of a Replicate prediction for one shot, per model family (Seedance, Kling, Hailuo,
 * Wan): each names its fields its own way, and the vendor catalogue's `inputs` says which field
 * takes which image.
 */

/** One create's input, and what it carries for the provenance record. */
export interface ReplicateRequest {
  input: Record<string, unknown>;
  sent: SentRequest;
}

type Dropped = NonNullable<SentRequest['dropped']>[number];

/** Where the shot's reference images go in one model's input, and which ones do not fit. */
interface Placement {
  /** Input field → one data URI, or a list of them (`reference_images`). */
  input: Record<string, string | string[]>;
  /** Vendor field → reference id; a list field is named per item (`reference_images[0]`). */
  fields: Record<string, string>;
  references: string[];
  firstFrame?: string;
  /** The sent images as the prompt names them, and in which syntax. */
  attached: AttachedReference[];
  syntax: ReferenceSyntax;
  dropped: Dropped[];
}

const attach = (ref: LoadedReference): AttachedReference => ({ id: ref.id, role: ref.role });

/**
 * Which images go where. A model with a reference-images field (Seedance 1 lite) gets them there:
 * a reference keeps the product the same across the whole shot, where a first frame only fixes how
 * the shot opens and lets the model drift from it. Seedance refuses references at 1080p (and with
 * a first or last frame), so a 1080p shot sends its product as the first frame instead. A model
 * with only a first frame takes the most important image (product, then brand, then style); a
 * text-to-video model takes none. Every image not sent is recorded with why.
 */
function placeReferences(
  model: string,
  capability: ModelCapability,
  refs: readonly LoadedReference[],
  resolution: ResolutionName,
): Placement {
  const placed: Placement = { input: {}, fields: {}, references: [], attached: [], syntax: 'none', dropped: [] };
  if (!refs.length) return placed;
  const listField = capability.maxReferenceImages > 0 ? capability.inputs.referenceImages : undefined;
  const frameField = capability.firstFrame !== 'none' ? capability.inputs.firstFrame : undefined;
  const listBlocked = listField !== undefined && resolution === '1080p';
  if (listField && !listBlocked) {
    const sent = refs.slice(0, capability.maxReferenceImages);
    placed.input[listField] = sent.map(dataUri);
    sent.forEach((ref, i) => (placed.fields[`${listField}[${i}]`] = ref.id));
    placed.references = sent.map((r) => r.id);
    placed.attached = sent.map(attach);
    placed.syntax = 'indexed';
    for (const ref of refs.slice(sent.length)) {
      placed.dropped.push({
        part: ref.id,
        reason: `${model} takes at most ${capability.maxReferenceImages} reference images (${listField})`,
      });
    }
    return placed;
  }
  if (frameField) {
    const [first, ...rest] = refs as [LoadedReference, ...LoadedReference[]];
    placed.input[frameField] = dataUri(first);
    placed.fields[frameField] = first.id;
    placed.references = [first.id];
    placed.firstFrame = first.id;
    placed.attached = [attach(first)];
    placed.syntax = 'first-frame';
    if (listBlocked) {
      placed.dropped.push({
        part: listField,
        reason: `${model} refuses ${listField} at 1080p: ${first.id} is sent as the first frame (${frameField}) instead`,
      });
    }
    for (const ref of rest) {
      placed.dropped.push({
        part: ref.id,
        reason: `${model} takes one image here (its first frame, ${frameField}), given to ${first.id}`,
      });
    }
    return placed;
  }
  for (const ref of refs) {
    placed.dropped.push({ part: ref.id, reason: `${model} takes no image (text to video only)` });
  }
  return placed;
}

const PART_REASONS: Record<DroppedPart['reason'], (model: string, limits: PromptLimits) => string> = {
  length: (model, limits) => `no room within ${model}'s ${limits.maxPromptChars}-character prompt`,
  unsupported: (model) => `${model} has no field for it`,
  'negative-phrasing': () => "it could only be said as what to avoid, which the vendor's guide warns against",
};

/** The translator's record of what it left out, in the provenance record's terms. */
function droppedParts(model: string, limits: PromptLimits, parts: readonly DroppedPart[]): Dropped[] {
  return parts.map((d) => ({ part: d.part, reason: PART_REASONS[d.reason](model, limits) }));
}

const ratioOf = (spec: ShotSpec) => (spec.width === spec.height ? '1:1' : spec.width > spec.height ? '16:9' : '9:16');

/**
 * Wan 2.2's length as `num_frames` at `frames_per_second`. Assumption, from Wan's schema:
 * num_frames 81–121 and 5–30 fps. The frame rate drops for long shots so the clip is never
 * shorter than the shot when the model can make it that long; short shots get Wan's minimum of 81
 * frames (about 5 s) and are trimmed later.
 */
export function wanFrames(seconds: number): { frames_per_second: number; num_frames: number } {
  const fps = Math.max(5, Math.min(16, Math.floor(120 / seconds)));
  return { frames_per_second: fps, num_frames: Math.max(81, Math.min(121, Math.ceil(seconds * fps) + 1)) };
}

/**
 * The model's own input fields besides the prompt and images, per family, as its Replicate schema
 * names them. Only fields the model declares: a Cog model silently ignores the others, and the
 * provenance record must not claim a seed the model never read (Kling and Hailuo take none).
 */
function familyInput(
  dialect: Dialect,
  model: string,
  spec: ShotSpec,
  resolution: ResolutionName,
  text: VendorPrompt,
  hasImage: boolean,
): Record<string, unknown> {
  const seed = spec.seed !== undefined ? { seed: spec.seed } : {};
  const negative = text.negativePrompt ? { negative_prompt: text.negativePrompt } : {};
  // Whole seconds the model makes, never fewer than the shot needs when it can (trimmed later).
  const seconds = snapDuration('replicate', Math.ceil(spec.durationSeconds - 1e-6), spec.fps, model);
  switch (dialect) {
    case 'seedance':
      return {
        ...seed,
        duration: seconds,
        resolution,
        aspect_ratio: ratioOf(spec),
        fps: 24,
        camera_fixed: text.cameraFixed ?? false,
      };
    case 'kling':
      // Standard mode renders 720p, pro 1080p; the frame's ratio comes from the start image.
      return { ...negative, duration: seconds, mode: resolution === '1080p' ? 'pro' : 'standard' };
    case 'hailuo':
      // Hailuo's 768p is the catalogue's 720p class; it makes 10 s clips only at 768p. The
      // prompt optimizer would rewrite the translated prompt, camera commands included.
      return {
        duration: seconds,
        resolution: resolution === '1080p' && seconds === 6 ? '1080p' : '768p',
        prompt_optimizer: false,
      };
    default:
      return {
        ...negative,
        ...seed,
        // The image-to-video variant frames the clip like its image.
        ...(hasImage ? {} : { aspect_ratio: spec.width >= spec.height ? '16:9' : '9:16' }),
        resolution,
        ...wanFrames(spec.durationSeconds),
      };
  }
}

/**
 * The create input for a catalogued model: the prompt in the model's dialect and within its limit
 * (from the visual translator), the negative prompt only where the model has a field for it, the
 * reference images in the model's own fields (named by the catalogue's `inputs`), and `sent` saying
 * exactly what the input carries and what the shot asked for that it does not, with why.
 *
 * A model that must have a first frame, given a shot without any image, is refused here as
 * `invalid` (not charged: nothing was sent), so the fallback policy moves on at once.
 */
export function replicateRequest(
  model: string,
  spec: ShotSpec,
  refs: readonly LoadedReference[] = [],
): ReplicateRequest {
  const modelPath = model.split(':')[0]!;
  const capability = modelCapability('replicate', modelPath);
  const dialect = dialectOf('replicate', modelPath);
  const resolution = resolutionFor('replicate', spec.width, spec.height, modelPath);
  if (capability.firstFrame === 'required' && !refs.length) {
    throw new BackendFailure({
      class: 'invalid',
      code: 'replicate.image_required',
      message: `replicate: ${modelPath} needs an image (its first frame, ${capability.inputs.firstFrame ?? 'image'}) and the shot has no reference image`,
      charged: false,
    });
  }
  const placed = placeReferences(modelPath, capability, refs, resolution);
  const limits: PromptLimits = { ...promptLimitsFor('replicate', modelPath), referenceSyntax: placed.syntax };
  const text = translatePrompt(spec, limits, placed.attached);
  const input: Record<string, unknown> = {
    prompt: text.prompt,
    ...placed.input,
    ...familyInput(dialect, modelPath, spec, resolution, text, placed.references.length > 0),
  };
  const dropped = [...placed.dropped, ...droppedParts(modelPath, limits, text.dropped)];
  const sent = sentRequest({
    model,
    prompt: text.prompt,
    negativePrompt: typeof input.negative_prompt === 'string' ? input.negative_prompt : undefined,
    seed: typeof input.seed === 'number' ? input.seed : undefined,
    references: placed.references,
    firstFrame: placed.firstFrame,
    fields: Object.keys(placed.fields).length ? placed.fields : undefined,
    dropped: dropped.length ? dropped : undefined,
  });
  return { input, sent };
}

/** Whether the vendor catalogue lists the model (a pinned test model or a new one may not be). */
export function isCatalogued(modelPath: string): boolean {
  return Object.prototype.hasOwnProperty.call(BACKEND_CAPABILITIES.replicate.models, modelPath);
}

/** The prompt with the reason a previous take was rejected, for a model we know nothing about. */
function promptWithRetake(spec: ShotSpec): string {
  const note = spec.retakeNote?.trim();
  return note ? `${spec.prompt.trim()} Unlike the previous take, avoid this: ${note}.` : spec.prompt.trim();
}

/**
 * Input for a model the catalogue does not list (a pinned model under test; the render pool
 * refuses uncatalogued models at start-up): Wan's common shape, text only.
 */
export function genericInput(spec: ShotSpec): Record<string, unknown> {
  return {
    prompt: promptWithRetake(spec),
    ...(spec.negativePrompt?.trim() ? { negative_prompt: spec.negativePrompt.trim() } : {}),
    ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
    aspect_ratio: spec.width >= spec.height ? '16:9' : '9:16',
    resolution: Math.min(spec.width, spec.height) >= 720 ? '720p' : '480p',
    ...wanFrames(spec.durationSeconds),
  };
}

/**
 * What a prediction's input carried, read from the input itself, for an input built outside
 * `replicateRequest` (the common names are read). Text only: no image.
 */
export function replicateSent(model: string, input: Record<string, unknown>): SentRequest {
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const seed = Number.isSafeInteger(input.seed) && (input.seed as number) >= 0 ? (input.seed as number) : undefined;
  return sentRequest({ model, prompt: text(input.prompt) ?? '', negativePrompt: text(input.negative_prompt), seed });
}

/** Seconds of video an input asks for, read back from the prediction (so a resumed worker
 *  knows it too): num_frames / frames_per_second, else `duration`. */
export function requestedSeconds(input: unknown): number | undefined {
  if (!input || typeof input !== 'object') return undefined;
  const i = input as Record<string, unknown>;
  if (typeof i.num_frames === 'number' && typeof i.frames_per_second === 'number' && i.frames_per_second > 0) {
    return i.num_frames / i.frames_per_second;
  }
  return typeof i.duration === 'number' ? i.duration : undefined;
}
