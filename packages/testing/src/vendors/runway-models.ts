/**
 * What Runway's create endpoints accept, per endpoint and model (from the `@runwayml/sdk` 4.20
 * request types), and the validation that refuses the rest as Runway does: 400 with zod-style
 * `issues`.
 */

const GEN4_IMAGE_RATIOS = ['1280:720', '720:1280', '1104:832', '832:1104', '960:960', '1584:672'];
const VEO_RATIOS = ['1280:720', '720:1280', '1080:1920', '1920:1080'];

export interface RunwayModelRule {
  ratios: string[];
  /** Whole seconds in [min, max], or one of a set. */
  duration: { min: number; max: number } | { oneOf: number[] };
  durationRequired: boolean;
  defaultDuration: number;
  promptTextRequired: boolean;
  /** image_to_video: the `position`s a promptImage array may hold (`last` needs `first`). */
  positions?: readonly ('first' | 'last')[];
  /** Optional fields beyond model, ratio, duration, promptText, promptImage and seed. */
  extra: readonly string[];
}

const GEN45_EXTRA = ['contentModeration', 'outputFormat', 'proresProfile'] as const;
const VEO_EXTRA = ['audio', 'negativePrompt'] as const;

/** The models this server knows, per endpoint, as the SDK 4.20 request types describe them. */
export const RUNWAY_MODELS: Record<'text_to_video' | 'image_to_video', Record<string, RunwayModelRule>> = {
  text_to_video: {
    'gen4.5': {
      ratios: ['1280:720', '720:1280'],
      duration: { min: 2, max: 10 },
      durationRequired: true,
      defaultDuration: 5,
      promptTextRequired: true,
      extra: GEN45_EXTRA,
    },
    'veo3.1': {
      ratios: VEO_RATIOS,
      duration: { oneOf: [4, 6, 8] },
      durationRequired: false,
      defaultDuration: 8,
      promptTextRequired: true,
      extra: VEO_EXTRA,
    },
    'veo3.1_fast': {
      ratios: VEO_RATIOS,
      duration: { oneOf: [4, 6, 8] },
      durationRequired: false,
      defaultDuration: 8,
      promptTextRequired: true,
      extra: VEO_EXTRA,
    },
  },
  image_to_video: {
    'gen4.5': {
      ratios: GEN4_IMAGE_RATIOS,
      duration: { min: 2, max: 10 },
      durationRequired: true,
      defaultDuration: 5,
      promptTextRequired: true,
      positions: ['first'],
      extra: GEN45_EXTRA,
    },
    gen4_turbo: {
      ratios: GEN4_IMAGE_RATIOS,
      duration: { min: 2, max: 10 },
      durationRequired: false,
      defaultDuration: 5,
      promptTextRequired: false,
      positions: ['first'],
      extra: ['contentModeration'],
    },
    'veo3.1': {
      ratios: VEO_RATIOS,
      duration: { oneOf: [4, 6, 8] },
      durationRequired: false,
      defaultDuration: 8,
      promptTextRequired: false,
      positions: ['first', 'last'],
      extra: VEO_EXTRA,
    },
    'veo3.1_fast': {
      ratios: VEO_RATIOS,
      duration: { oneOf: [4, 6, 8] },
      durationRequired: false,
      defaultDuration: 8,
      promptTextRequired: false,
      positions: ['first', 'last'],
      extra: VEO_EXTRA,
    },
  },
};

/** Models Runway serves on other endpoints: named in the refusal so the mistake is plain. */
const OTHER_ENDPOINT: Record<string, string> = { gen4_aleph: 'video_to_video', aleph2: 'video_to_video' };

const OUTPUT_FORMATS = [
  'mp4',
  'prores',
  'png_sequence',
  'hdr10',
  'hlg',
  'sdr_rec709_10bit',
  'hdr_pq_12bit_master',
  'hdr_prores',
  'hdr_png_sequence',
  'hdr_exr_sequence',
  'hdr_exr_acescg_sequence_1_3',
  'hdr_exr_acescg_sequence_2_0',
];
const PRORES_PROFILES = ['422', '4444', '422 Proxy', '422 LT', '422 HQ', '4444 XQ'];

/** Runway's limit on an inline image: a data URI of up to 5 MB. */
const MAX_DATA_URI_BYTES = 5 * 1024 * 1024;
const IMAGE_DATA_URI = /^data:image\/(png|jpeg|webp);base64,([A-Za-z0-9+/]*={0,2})$/;

/** Why Runway would refuse an image URI, or undefined: an https URL, a Runway upload
 *  (`runway://…`) or a base64 data URI of a PNG, JPEG or WebP of at most 5 MB. */
function badImageUri(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri === '') return 'Expected a non-empty string';
  if (uri.startsWith('data:')) {
    if (!IMAGE_DATA_URI.test(uri)) return 'Invalid data URI: expected data:image/(png|jpeg|webp);base64,…';
    if (uri.length > MAX_DATA_URI_BYTES) return 'Data URI must be at most 5MB';
    return undefined;
  }
  if (uri.startsWith('runway://')) return undefined;
  try {
    if (new URL(uri).protocol === 'https:') return undefined;
  } catch {
    // falls through to the refusal
  }
  return 'Invalid URI: expected an HTTPS URL, a Runway upload URI or a data URI';
}

export interface RunwayIssue {
  /** zod's issue code, which is what Runway's validation answers with. */
  code: string;
  path: (string | number)[];
  message: string;
}

/** Runway's checks of a create body; an empty list means valid. */
export function validateRunwayCreate(endpoint: 'text_to_video' | 'image_to_video', body: unknown): RunwayIssue[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return [{ code: 'invalid_type', path: [], message: 'Expected object, received ' + typeof body }];
  }
  const b = body as Record<string, unknown>;
  const issues: RunwayIssue[] = [];
  const rule = typeof b.model === 'string' ? RUNWAY_MODELS[endpoint][b.model] : undefined;
  if (!rule) {
    const known = Object.keys(RUNWAY_MODELS[endpoint])
      .map((m) => `'${m}'`)
      .join(' | ');
    const elsewhere = typeof b.model === 'string' ? OTHER_ENDPOINT[b.model] : undefined;
    const imageOnly =
      endpoint === 'text_to_video' && typeof b.model === 'string' && b.model in RUNWAY_MODELS.image_to_video;
    const hint = elsewhere
      ? ` (${String(b.model)} is a ${elsewhere} model)`
      : imageOnly
        ? ` (${String(b.model)} needs an image: use image_to_video)`
        : '';
    return [
      {
        code: 'invalid_union_discriminator',
        path: ['model'],
        message: `Invalid discriminator value. Expected ${known}${hint}`,
      },
    ];
  }
  const known = new Set(['model', 'ratio', 'duration', 'promptText', 'seed', ...rule.extra]);
  if (endpoint === 'image_to_video') known.add('promptImage');
  const unknown = Object.keys(b).filter((k) => !known.has(k));
  if (unknown.length) {
    issues.push({
      code: 'unrecognized_keys',
      path: [],
      message: `Unrecognized key(s) in object: ${unknown.map((k) => `'${k}'`).join(', ')}`,
    });
  }
  if (typeof b.ratio !== 'string' || !rule.ratios.includes(b.ratio)) {
    issues.push({
      code: 'invalid_enum_value',
      path: ['ratio'],
      message: `Invalid enum value. Expected ${rule.ratios.map((r) => `'${r}'`).join(' | ')}, received '${String(b.ratio)}'`,
    });
  }
  if (b.promptText !== undefined || rule.promptTextRequired) {
    if (typeof b.promptText !== 'string' || b.promptText.length === 0) {
      issues.push({ code: 'invalid_type', path: ['promptText'], message: 'promptText must be a non-empty string' });
    } else if (b.promptText.length > 1000) {
      // JavaScript's length is UTF-16 code units, which is what Runway measures.
      issues.push({ code: 'too_big', path: ['promptText'], message: 'String must contain at most 1000 character(s)' });
    }
  }
  if (b.duration !== undefined || rule.durationRequired) {
    const d = b.duration;
    const ok =
      typeof d === 'number' &&
      Number.isInteger(d) &&
      ('oneOf' in rule.duration ? rule.duration.oneOf.includes(d) : d >= rule.duration.min && d <= rule.duration.max);
    if (!ok) {
      const expected =
        'oneOf' in rule.duration
          ? `one of ${rule.duration.oneOf.join(', ')}`
          : `an integer from ${rule.duration.min} to ${rule.duration.max}`;
      issues.push({ code: 'custom', path: ['duration'], message: `duration must be ${expected}` });
    }
  }
  if (b.seed !== undefined) {
    const s = b.seed;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > 4294967295) {
      issues.push({ code: 'custom', path: ['seed'], message: 'seed must be an integer from 0 to 4294967295' });
    }
  }
  if (b.audio !== undefined && typeof b.audio !== 'boolean') {
    issues.push({ code: 'invalid_type', path: ['audio'], message: 'Expected boolean' });
  }
  if (b.negativePrompt !== undefined && typeof b.negativePrompt !== 'string') {
    issues.push({ code: 'invalid_type', path: ['negativePrompt'], message: 'Expected string' });
  }
  if (b.outputFormat !== undefined && !OUTPUT_FORMATS.includes(b.outputFormat as string)) {
    issues.push({ code: 'invalid_enum_value', path: ['outputFormat'], message: 'Invalid enum value' });
  }
  if (b.proresProfile !== undefined && !PRORES_PROFILES.includes(b.proresProfile as string)) {
    issues.push({ code: 'invalid_enum_value', path: ['proresProfile'], message: 'Invalid enum value' });
  }
  if (b.contentModeration !== undefined) {
    const c = b.contentModeration as { publicFigureThreshold?: unknown } | null;
    const ok =
      !!c &&
      typeof c === 'object' &&
      Object.keys(c).every((k) => k === 'publicFigureThreshold') &&
      (c.publicFigureThreshold === undefined || ['auto', 'low'].includes(c.publicFigureThreshold as string));
    if (!ok) {
      issues.push({
        code: 'custom',
        path: ['contentModeration'],
        message: "contentModeration must be { publicFigureThreshold?: 'auto' | 'low' }",
      });
    }
  }
  if (endpoint === 'image_to_video') issues.push(...promptImageIssues(b.promptImage, rule.positions ?? ['first']));
  return issues;
}

/** promptImage: one image URI (the first frame), or `{ uri, position }` items in the positions
 *  the model takes, each at most once; a last frame only together with a first one. */
function promptImageIssues(img: unknown, positions: readonly ('first' | 'last')[]): RunwayIssue[] {
  if (img === undefined) return [{ code: 'invalid_type', path: ['promptImage'], message: 'Required' }];
  if (!Array.isArray(img)) {
    const bad = badImageUri(img);
    return bad ? [{ code: 'custom', path: ['promptImage'], message: bad }] : [];
  }
  const issues: RunwayIssue[] = [];
  if (img.length === 0 || img.length > positions.length) {
    issues.push({
      code: img.length === 0 ? 'too_small' : 'too_big',
      path: ['promptImage'],
      message: `Array must contain between 1 and ${positions.length} element(s)`,
    });
  }
  const seen = new Set<string>();
  img.forEach((item: unknown, i) => {
    const o = (item && typeof item === 'object' ? item : {}) as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => k !== 'uri' && k !== 'position');
    if (extra.length) {
      issues.push({
        code: 'unrecognized_keys',
        path: ['promptImage', i],
        message: `Unrecognized key(s) in object: ${extra.map((k) => `'${k}'`).join(', ')}`,
      });
    }
    const bad = badImageUri(o.uri);
    if (bad) issues.push({ code: 'custom', path: ['promptImage', i, 'uri'], message: bad });
    if (!positions.includes(o.position as 'first')) {
      issues.push({
        code: 'invalid_enum_value',
        path: ['promptImage', i, 'position'],
        message: `Invalid enum value. Expected ${positions.map((p) => `'${p}'`).join(' | ')}, received '${String(o.position)}'`,
      });
    } else if (seen.has(o.position as string)) {
      issues.push({
        code: 'custom',
        path: ['promptImage', i, 'position'],
        message: `Only one image may have position '${String(o.position)}'`,
      });
    } else {
      seen.add(o.position as string);
    }
  });
  if (seen.has('last') && !seen.has('first')) {
    issues.push({
      code: 'custom',
      path: ['promptImage'],
      message: 'This model does not support generating with only a last frame',
    });
  }
  return issues;
}
