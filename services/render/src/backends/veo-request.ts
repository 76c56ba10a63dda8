import type { GenerateVideosConfig, GenerateVideosSource, VideoGenerationReferenceType } from '@google/genai';
import type { ShotSpec } from '@aiprod/contracts';
import type { ModelCapability } from '@aiprod/vendor-catalogue';
import { BackendFailure, sentRequest, type LoadedReference, type SentRequest } from './backend';
import { translatePrompt, type DroppedPart, type PromptLimits } from './dialect';

export type VeoPersonGeneration = 'dont_allow' | 'allow_adult' | 'allow_all';

/** Veo 3.1 makes reference-to-video clips of this length only (Vertex refuses any other). */
export const VEO_REFERENCE_SECONDS = 8;

/**
 * Vertex's REST field spells the type in lower case (`"referenceType": "asset"`); the SDK's enum
 * says `ASSET` but copies the value into the body as given, so the documented spelling is sent.
 */
const ASSET = 'asset' as VideoGenerationReferenceType;

export interface VeoRequestOptions {
  model: string;
  /** The model's catalogue entry: durations, sizes, how many images it takes and how. */
  capability: ModelCapability;
  limits: PromptLimits;
  generateAudio: boolean;
  personGeneration: VeoPersonGeneration;
}

export interface VeoRequest {
  source: GenerateVideosSource;
  config: GenerateVideosConfig;
  /** What the request carries and what the shot asked for that it does not, for the provenance record. */
  sent: SentRequest;
}

interface Drop {
  part: string;
  reason: string;
}

/** How the images a shot brings are used: as asset references, as the first frame, or not at all. */
interface ImagePlan {
  references: LoadedReference[];
  firstFrame?: LoadedReference;
  dropped: Drop[];
}

/**
 * Which of the shot's images Veo gets, most important first (the pool hands them over product,
 * brand, style). Style images stay home: Veo 3.1 takes `asset` references only, and a style image
 * sent as an asset would be copied into the scene as an object. Reference-to-video makes 8 s clips
 * only; a shorter shot keeps its length (the edit is timed to it) and starts from its most
 * important image as the first frame instead, which keeps the product in view the way the
 * first-frame vendors do. A model that needs a first frame always gets its image that way.
 */
function planImages(spec: ShotSpec, refs: readonly LoadedReference[], options: VeoRequestOptions): ImagePlan {
  const { capability, model } = options;
  const dropped: Drop[] = refs
    .filter((r) => r.role === 'style')
    .map((r) => ({ part: r.id, reason: 'Veo 3.1 takes asset reference images only, not style images' }));
  const usable = refs.filter((r) => r.role !== 'style');
  const [first, ...rest] = usable;
  if (!first) return { references: [], dropped };
  const frameOnly =
    capability.firstFrame === 'required' || capability.maxReferenceImages === 0
      ? `${model} takes one image, its first frame`
      : spec.durationSeconds !== VEO_REFERENCE_SECONDS
        ? `Veo takes reference images only in ${VEO_REFERENCE_SECONDS} s clips, not ${spec.durationSeconds} s`
        : undefined;
  if (!frameOnly) {
    const max = capability.maxReferenceImages;
    for (const r of usable.slice(max))
      dropped.push({ part: r.id, reason: `Veo 3.1 takes at most ${max} reference images` });
    return { references: usable.slice(0, max), dropped };
  }
  if (capability.maxReferenceImages > 0)
    dropped.push({ part: 'referenceImages', reason: `${frameOnly}: ${first.id} is sent as the first frame instead` });
  for (const r of rest) dropped.push({ part: r.id, reason: `${frameOnly} (${first.id})` });
  return { references: [], firstFrame: first, dropped };
}

/** The translator's record of a prompt part left out, as one provenance line. */
function droppedPart(d: DroppedPart, limits: PromptLimits): Drop {
  const reason =
    d.reason === 'length'
      ? d.part === 'subject'
        ? `cut to fit the ${limits.maxPromptChars}-character prompt limit`
        : `no room within the ${limits.maxPromptChars}-character prompt limit`
      : d.reason === 'unsupported'
        ? 'the model has no field for it'
        : 'it could only be said as something to avoid';
  return { part: d.part, reason };
}

const refuse = (message: string) =>
  new BackendFailure({ class: 'invalid', code: 'UNSUPPORTED_SPEC', message, charged: false });

/** The Vertex image object for a reference's bytes. */
const vertexImage = (ref: LoadedReference) => ({ imageBytes: ref.bytes.toString('base64'), mimeType: ref.contentType });

/**
 * The `generateVideos` request for a shot and what it carries, or a BackendFailure('invalid')
 * (not charged, nothing sent) when the model cannot make the shot, so the fallback policy moves on.
 * The SDK puts `source.prompt` and `source.image` in `instances[0].prompt` / `.image`,
 * `config.referenceImages` in `instances[0].referenceImages`, and the rest in `parameters`.
 */
export function veoRequest(
  spec: ShotSpec,
  references: readonly LoadedReference[],
  options: VeoRequestOptions,
): VeoRequest {
  const { model, capability, limits } = options;
  const durations = capability.durations.kind === 'set' ? capability.durations.values : [];
  // The planner snaps durations to the backend's; a duration that slipped through is a planning bug.
  if (!durations.includes(spec.durationSeconds))
    throw refuse(`${model} makes ${durations.join('/')} s clips, not ${spec.durationSeconds} s`);
  const ratio = spec.width / spec.height;
  const aspectRatio = Math.abs(ratio - 16 / 9) < 0.02 ? '16:9' : Math.abs(ratio - 9 / 16) < 0.01 ? '9:16' : undefined;
  if (!aspectRatio) throw refuse(`Veo makes 16:9 or 9:16 clips, not ${spec.width}x${spec.height}`);
  // The smallest resolution that covers the frame; a smaller frame is scaled down afterwards.
  const shortSide = Math.min(spec.width, spec.height);
  const resolution = shortSide <= 720 ? '720p' : shortSide <= 1080 ? '1080p' : undefined;
  if (!resolution) throw refuse(`Veo makes at most 1080p, not ${spec.width}x${spec.height}`);

  const images = planImages(spec, references, options);
  if (capability.firstFrame === 'required' && !images.firstFrame)
    throw refuse(`${model} needs an image to start from (a first frame), and this shot has none it can use`);
  const attached = images.firstFrame ? [images.firstFrame] : images.references;
  const translated = translatePrompt(
    spec,
    { ...limits, referenceSyntax: images.firstFrame ? 'first-frame' : 'asset' },
    attached.map((r) => ({ id: r.id, role: r.role })),
  );
  const fields: Record<string, string> = {};
  if (images.firstFrame) fields.image = images.firstFrame.id;
  for (const [i, r] of images.references.entries()) fields[`referenceImages[${i}]`] = r.id;
  const dropped = [...images.dropped, ...translated.dropped.map((d) => droppedPart(d, limits))];

  return {
    source: {
      prompt: translated.prompt,
      ...(images.firstFrame ? { image: vertexImage(images.firstFrame) } : {}),
    },
    config: {
      numberOfVideos: 1,
      durationSeconds: spec.durationSeconds,
      aspectRatio,
      resolution,
      generateAudio: options.generateAudio,
      personGeneration: options.personGeneration,
      ...(translated.negativePrompt ? { negativePrompt: translated.negativePrompt } : {}),
      ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
      ...(images.references.length
        ? { referenceImages: images.references.map((r) => ({ image: vertexImage(r), referenceType: ASSET })) }
        : {}),
    },
    sent: sentRequest({
      model,
      prompt: translated.prompt,
      negativePrompt: translated.negativePrompt,
      seed: spec.seed,
      references: attached.map((r) => r.id),
      firstFrame: images.firstFrame?.id,
      fields: attached.length ? fields : undefined,
      dropped: dropped.length ? dropped : undefined,
    }),
  };
}
