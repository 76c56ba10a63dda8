import type { TestVideoSpec } from './common';

/**
 * The Replicate video models the test server knows, with their input schemas as Replicate lists
 * them, and the input validation that refuses what they do not take (422 `invalid_fields`).
 */

/** What Replicate's input validation would refuse; an empty list means valid. */
export function validateReplicateInput(input: unknown): { field: string; description: string }[] {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    return [{ field: 'input', description: 'input is required and must be an object' }];
  }
  const i = input as Record<string, unknown>;
  const issues: { field: string; description: string }[] = [];
  if (typeof i.prompt !== 'string' || i.prompt.trim() === '') {
    issues.push({ field: 'input.prompt', description: 'prompt is required' });
  }
  const intIn = (name: string, min: number, max: number) => {
    const v = i[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      issues.push({ field: `input.${name}`, description: `${name} must be an integer from ${min} to ${max}` });
    }
  };
  intIn('num_frames', 1, 1000);
  intIn('frames_per_second', 1, 60);
  intIn('seed', 0, 2 ** 32 - 1);
  if (i.duration !== undefined && !(typeof i.duration === 'number' && i.duration > 0 && i.duration <= 60)) {
    issues.push({ field: 'input.duration', description: 'duration must be a number of seconds in (0, 60]' });
  }
  if (i.aspect_ratio !== undefined && !(typeof i.aspect_ratio === 'string' && /^\d+:\d+$/.test(i.aspect_ratio))) {
    issues.push({ field: 'input.aspect_ratio', description: 'aspect_ratio must look like 16:9' });
  }
  if (i.resolution !== undefined && !(typeof i.resolution === 'string' && /^\d+p$/.test(i.resolution))) {
    issues.push({ field: 'input.resolution', description: 'resolution must look like 480p' });
  }
  return issues;
}

/** One input field of a model's schema, as Replicate's model API page lists it. */
interface InputField {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'image' | 'images';
  required?: boolean;
  /** Allowed values. */
  enum?: readonly (string | number)[];
  min?: number;
  max?: number;
  /** For `images`: how many. */
  minItems?: number;
  maxItems?: number;
}

interface InvalidField {
  field: string;
  description: string;
}

export interface ReplicateModelSchema {
  fields: Record<string, InputField>;
  /** Rules across fields that the model's own checks enforce, each with its reason. */
  check?(input: Record<string, unknown>): InvalidField[];
  /** How the clip's frame is read from the input, when not by `resolution` and `aspect_ratio`. */
  clip?(input: Record<string, unknown>): Partial<TestVideoSpec> & { short?: number };
}

const SEEDANCE_RATIOS = ['16:9', '4:3', '1:1', '3:4', '9:16', '21:9', '9:21'];

const seedance = (lite: boolean): ReplicateModelSchema => ({
  fields: {
    prompt: { type: 'string', required: true },
    image: { type: 'image' },
    last_frame_image: { type: 'image' },
    ...(lite ? { reference_images: { type: 'images', minItems: 1, maxItems: 4 } as InputField } : {}),
    duration: { type: 'integer', min: 2, max: 12 },
    resolution: { type: 'string', enum: ['480p', '720p', '1080p'] },
    aspect_ratio: { type: 'string', enum: SEEDANCE_RATIOS },
    fps: { type: 'integer', enum: [24] },
    camera_fixed: { type: 'boolean' },
    seed: { type: 'integer', min: 0, max: 2 ** 32 - 1 },
  },
  check: (i) => {
    const out: InvalidField[] = [];
    if (i.last_frame_image !== undefined && i.image === undefined) {
      out.push({ field: 'input.last_frame_image', description: 'last_frame_image only works if image is also given' });
    }
    // Pro declares no reference_images, so it ignores them rather than refusing the mix.
    if (lite && i.reference_images !== undefined) {
      if (i.image !== undefined || i.last_frame_image !== undefined) {
        out.push({
          field: 'input.reference_images',
          description: 'reference_images cannot be used with first frame or last frame images',
        });
      }
      if (i.resolution === '1080p') {
        out.push({ field: 'input.reference_images', description: 'reference_images cannot be used with 1080p' });
      }
    }
    return out;
  },
  clip: (i) => ({ fps: 24, short: parseInt(String(i.resolution ?? (lite ? '720p' : '1080p')), 10) }),
});

/**
 * The video models this server knows, with their input schemas as Replicate lists them
 * (2026-12). Unknown input keys are not refused: a Cog model ignores inputs it does not
 * declare, so the record lists them as `ignoredInputs` instead.
 */
export const REPLICATE_MODELS: Record<string, ReplicateModelSchema> = {
  'bytedance/seedance-1-lite': seedance(true),
  'bytedance/seedance-1-pro': seedance(false),
  'kwaivgi/kling-v2.1': {
    fields: {
      prompt: { type: 'string', required: true },
      // "You must use a start image with kling-v2.1."
      start_image: { type: 'image', required: true },
      end_image: { type: 'image' },
      negative_prompt: { type: 'string' },
      duration: { type: 'integer', enum: [5, 10] },
      mode: { type: 'string', enum: ['standard', 'pro'] },
    },
    check: (i) =>
      i.end_image !== undefined && i.mode !== 'pro'
        ? [{ field: 'input.end_image', description: 'end_image requires mode pro' }]
        : [],
    clip: (i) => ({ fps: 24, short: i.mode === 'pro' ? 1080 : 720 }),
  },
  'minimax/hailuo-02': {
    fields: {
      prompt: { type: 'string', required: true },
      first_frame_image: { type: 'image' },
      last_frame_image: { type: 'image' },
      duration: { type: 'integer', enum: [6, 10] },
      resolution: { type: 'string', enum: ['512p', '768p', '1080p'] },
      prompt_optimizer: { type: 'boolean' },
    },
    check: (i) =>
      i.duration === 10 && i.resolution !== '768p'
        ? [{ field: 'input.duration', description: '10 seconds is only available for 768p resolution' }]
        : [],
    clip: (i) => ({
      fps: 24,
      short: parseInt(String(i.resolution ?? '1080p'), 10),
      durationSeconds: Number(i.duration ?? 6),
    }),
  },
  'wan-video/wan-2.2-t2v-fast': {
    fields: {
      prompt: { type: 'string', required: true },
      negative_prompt: { type: 'string' },
      num_frames: { type: 'integer', min: 81, max: 121 },
      frames_per_second: { type: 'integer', min: 5, max: 30 },
      resolution: { type: 'string', enum: ['480p', '720p'] },
      aspect_ratio: { type: 'string', enum: ['16:9', '9:16'] },
      seed: { type: 'integer', min: 0, max: 2 ** 32 - 1 },
      go_fast: { type: 'boolean' },
      sample_shift: { type: 'number', min: 1, max: 20 },
      optimize_prompt: { type: 'boolean' },
      disable_safety_checker: { type: 'boolean' },
    },
  },
  'wan-video/wan-2.2-i2v-fast': {
    fields: {
      prompt: { type: 'string', required: true },
      image: { type: 'image', required: true },
      last_image: { type: 'image' },
      negative_prompt: { type: 'string' },
      num_frames: { type: 'integer', min: 81, max: 121 },
      frames_per_second: { type: 'integer', min: 5, max: 30 },
      resolution: { type: 'string', enum: ['480p', '720p'] },
      seed: { type: 'integer', min: 0, max: 2 ** 32 - 1 },
      go_fast: { type: 'boolean' },
      sample_shift: { type: 'number', min: 1, max: 20 },
      disable_safety_checker: { type: 'boolean' },
    },
  },
};

/** An image input: an http(s) URL or a data URI, which is what Replicate's file inputs take. */
function isImageInput(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  if (/^data:[\w.+-]+\/[\w.+-]+;base64,[A-Za-z0-9+/]*={0,2}$/.test(v)) return true;
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}

function fieldIssues(name: string, spec: InputField, v: unknown): InvalidField[] {
  const field = `input.${name}`;
  if (v === undefined || v === null) return spec.required ? [{ field, description: `${name} is required` }] : [];
  const bad = (description: string) => [{ field, description }];
  switch (spec.type) {
    case 'string':
      if (typeof v !== 'string') return bad(`${name} must be a string`);
      if (spec.required && v.trim() === '') return bad(`${name} is required`);
      break;
    case 'boolean':
      if (typeof v !== 'boolean') return bad(`${name} must be a boolean`);
      break;
    case 'integer':
    case 'number':
      if (typeof v !== 'number' || (spec.type === 'integer' && !Number.isInteger(v)))
        return bad(`${name} must be an ${spec.type}`);
      if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max))
        return bad(`${name} must be from ${spec.min} to ${spec.max}`);
      break;
    case 'image':
      if (!isImageInput(v)) return bad(`${name} must be an image URL or data URI`);
      break;
    case 'images':
      if (!Array.isArray(v)) return bad(`${name} must be an array of image URLs or data URIs`);
      if (v.length < (spec.minItems ?? 0) || v.length > (spec.maxItems ?? Infinity))
        return bad(`${name} must hold ${spec.minItems} to ${spec.maxItems} images`);
      if (!v.every(isImageInput)) return bad(`${name} must be an array of image URLs or data URIs`);
      break;
  }
  if (spec.enum && !spec.enum.includes(v as string | number)) {
    return bad(`${name} must be one of: ${spec.enum.join(', ')}`);
  }
  return [];
}

/** What Replicate would refuse for a known model's input; an empty list means valid. */
export function validateModelInput(model: string, input: unknown): InvalidField[] {
  const schema = REPLICATE_MODELS[model];
  if (!schema) return validateReplicateInput(input);
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    return [{ field: 'input', description: 'input is required and must be an object' }];
  }
  const i = input as Record<string, unknown>;
  const issues = Object.entries(schema.fields).flatMap(([name, spec]) => fieldIssues(name, spec, i[name]));
  return issues.length ? issues : (schema.check?.(i) ?? []);
}

/** Input keys a known model does not declare (and so ignores). */
export function ignoredInputs(model: string, input: Record<string, unknown>): string[] {
  const schema = REPLICATE_MODELS[model];
  return schema ? Object.keys(input).filter((k) => !(k in schema.fields)) : [];
}
