/**
 * What Veo 3.1 on Vertex AI accepts in a predictLongRunning request, and the reasons it refuses
 * the rest (400 INVALID_ARGUMENT messages; 404 for models it no longer or never served).
 */

/** Sizes Veo 3 produces for each aspect ratio and resolution. */
export const SIZES: Record<string, Record<string, [number, number]>> = {
  '16:9': { '720p': [1280, 720], '1080p': [1920, 1080] },
  '9:16': { '720p': [720, 1280], '1080p': [1080, 1920] },
};

const PERSON_GENERATION = ['dont_allow', 'allow_adult', 'allow_all'];

/** The Veo models Vertex serves (2026-12): Veo 3.1 and its fast variant, GA and preview ids. */
export const VEO_MODELS = [
  'veo-3.1-generate-001',
  'veo-3.1-fast-generate-001',
  'veo-3.1-generate-preview',
  'veo-3.1-fast-generate-preview',
] as const;

/** Veo 3.1 durations, seconds. */
const DURATIONS = [4, 6, 8];
/** With reference images Veo 3.1 makes 8 s clips only. */
const REFERENCE_DURATION = 8;
const MAX_REFERENCE_IMAGES = 3;
const IMAGE_MIME_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why Vertex would not find a publisher model, or undefined when it serves it. */
export function unknownVeoModel(project: string, location: string, model: string): string | undefined {
  if ((VEO_MODELS as readonly string[]).includes(model)) return undefined;
  const resource = `projects/${project}/locations/${location}/publishers/google/models/${model}`;
  // The veo-3.0 and veo-2.0 endpoints were discontinued on 2026-06-30: Vertex no longer finds them.
  const retired = /^veo-(2\.0|3\.0)-/.test(model) ? ' This model was discontinued on 2026-06-30; use veo-3.1.' : '';
  return `Publisher Model \`${resource}\` was not found or your current project does not have access to it.${retired}`;
}

/** Why an image object (`image`, `lastFrame`, a reference's `image`) is invalid, or undefined. */
function badImage(field: string, image: unknown): string | undefined {
  if (!image || typeof image !== 'object' || Array.isArray(image)) return `${field} must be an object.`;
  const { bytesBase64Encoded: bytes, gcsUri, mimeType } = image as Record<string, unknown>;
  if ((bytes === undefined) === (gcsUri === undefined))
    return `${field} must have exactly one of bytesBase64Encoded or gcsUri.`;
  if (bytes !== undefined && (typeof bytes !== 'string' || bytes === '' || !BASE64.test(bytes)))
    return `${field}.bytesBase64Encoded is not valid base64.`;
  if (gcsUri !== undefined && !(typeof gcsUri === 'string' && /^gs:\/\/[a-z0-9._-]+\/.+/.test(gcsUri)))
    return `${field}.gcsUri must be a gs:// object URI.`;
  if (!IMAGE_MIME_TYPES.includes(mimeType as string))
    return `${field}.mimeType ${String(mimeType)} is not supported, supported mime types are [${IMAGE_MIME_TYPES.join(', ')}].`;
  return undefined;
}

/** Returns the reason a predictLongRunning body is invalid for a Veo 3.1 model, or undefined. */
export function invalidVeoRequest(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return 'Invalid JSON payload received.';
  const { instances, parameters } = body as { instances?: unknown; parameters?: unknown };
  if (!Array.isArray(instances) || instances.length !== 1) return 'Exactly one instance is required.';
  const instance = (instances[0] ?? {}) as Record<string, unknown>;
  const hasPrompt = typeof instance.prompt === 'string' && instance.prompt.trim() !== '';
  if (instance.prompt !== undefined && typeof instance.prompt !== 'string') return 'prompt must be a string.';
  if (!hasPrompt && !instance.image && instance.referenceImages === undefined)
    return 'A text prompt or an image is required.';
  for (const field of ['image', 'lastFrame'] as const) {
    const bad = instance[field] === undefined ? undefined : badImage(field, instance[field]);
    if (bad) return bad;
  }
  if (instance.lastFrame !== undefined && instance.image === undefined)
    return 'lastFrame requires image: a last frame is only supported together with a first frame.';
  if (parameters !== undefined && (typeof parameters !== 'object' || parameters === null))
    return 'parameters must be an object.';
  const p = (parameters ?? {}) as Record<string, unknown>;
  const refs = instance.referenceImages;
  if (refs !== undefined) {
    if (!Array.isArray(refs) || refs.length === 0 || refs.length > MAX_REFERENCE_IMAGES)
      return `referenceImages must hold 1 to ${MAX_REFERENCE_IMAGES} images.`;
    for (const [i, ref] of refs.entries()) {
      const r = (ref ?? {}) as Record<string, unknown>;
      if (r.referenceType === 'style')
        return 'Style reference images are not supported by this model (only asset reference images are).';
      if (r.referenceType !== 'asset')
        return `referenceImages[${i}].referenceType ${String(r.referenceType)} is not supported, supported reference types are [asset].`;
      const bad = badImage(`referenceImages[${i}].image`, r.image);
      if (bad) return bad;
    }
    if (!hasPrompt) return 'A text prompt is required with referenceImages.';
    if (instance.image !== undefined || instance.lastFrame !== undefined || instance.video !== undefined)
      return 'referenceImages cannot be combined with image, lastFrame or video.';
    if (p.durationSeconds !== undefined && p.durationSeconds !== REFERENCE_DURATION)
      return `Unsupported output video duration ${String(p.durationSeconds)} seconds, supported durations are [${REFERENCE_DURATION}] for feature reference_to_video.`;
  }
  if (p.durationSeconds !== undefined && !DURATIONS.includes(p.durationSeconds as number))
    return `Unsupported output video duration ${String(p.durationSeconds)} seconds, supported durations are [${DURATIONS.join(',')}] for feature ${instance.image ? 'image_to_video' : 'text_to_video'}.`;
  if (p.aspectRatio !== undefined && !(typeof p.aspectRatio === 'string' && p.aspectRatio in SIZES))
    return `Unsupported aspect ratio ${String(p.aspectRatio)}, supported aspect ratios are [16:9, 9:16].`;
  if (p.resolution !== undefined && !['720p', '1080p'].includes(p.resolution as string))
    return `Unsupported resolution ${String(p.resolution)}, supported resolutions are [720p, 1080p].`;
  if (p.personGeneration !== undefined && !PERSON_GENERATION.includes(p.personGeneration as string))
    return `Unsupported personGeneration ${String(p.personGeneration)}.`;
  if (
    p.sampleCount !== undefined &&
    !(Number.isInteger(p.sampleCount) && (p.sampleCount as number) >= 1 && (p.sampleCount as number) <= 4)
  )
    return 'sampleCount must be between 1 and 4.';
  if (
    p.seed !== undefined &&
    !(Number.isInteger(p.seed) && (p.seed as number) >= 0 && (p.seed as number) <= 4294967295)
  )
    return 'seed must be an unsigned 32-bit integer.';
  if (p.generateAudio !== undefined && typeof p.generateAudio !== 'boolean') return 'generateAudio must be a boolean.';
  if (p.negativePrompt !== undefined && typeof p.negativePrompt !== 'string') return 'negativePrompt must be a string.';
  if (
    p.storageUri !== undefined &&
    !(typeof p.storageUri === 'string' && /^gs:\/\/[a-z0-9._-]+(\/.*)?$/.test(p.storageUri))
  )
    return `Invalid storageUri ${String(p.storageUri)}: must be a gs:// URI.`;
  return undefined;
}
