import { Type, type Static, type TSchema, type TProperties } from '@sinclair/typebox';

/** Every object we accept is closed: an unknown field is an error, never silently kept. */
export const Strict = <P extends TProperties>(properties: P, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });

const Id = (description: string) => Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description });

export const JobId = Id('Job id (server generated).');
export const TenantId = Id('Tenant id.');
export const ShotId = Id('Shot id, unique within a job (e.g. s01).');
export const HexColor = Type.String({ pattern: '^#[0-9A-Fa-f]{6}$', description: 'Colour as #RRGGBB.' });
export const AspectRatio = Type.Union(
  [Type.Literal('16:9'), Type.Literal('9:16'), Type.Literal('1:1'), Type.Literal('4:5')],
  { description: 'Output aspect ratio.' },
);
export const Backend = Type.Union([
  Type.Literal('runway'),
  Type.Literal('veo'),
  Type.Literal('replicate'),
  Type.Literal('local'),
]);
export const PresetName = Type.Union([
  Type.Literal('social_quick'),
  Type.Literal('brand_campaign'),
  Type.Literal('premium_spot'),
]);
const ShortText = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, description });

/**
 * No C0/C1 control characters (tabs and newlines included: every brief field is a single line),
 * no lone UTF-16 surrogates (not text, and Firestore refuses to store them) and no bidirectional
 * overrides/isolates, which can make text read differently from what it is ("Trojan Source").
 * Ajv compiles patterns with the `u` flag, so `\p{Cc}` and `\p{Cs}` work (a valid pair is one code point).
 */
export const NO_CONTROL_CHARACTERS = '^[^\\p{Cc}\\p{Cs}\\u202A-\\u202E\\u2066-\\u2069]*$';
const BriefText = (max: number, description: string) =>
  Type.String({ minLength: 1, maxLength: max, pattern: NO_CONTROL_CHARACTERS, description });
const BriefUrl = (description: string) =>
  Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048, description });

export const AssetId = Type.String({
  pattern: '^asset_[0-9a-f]{24}$',
  description: 'Id of an image or audio file uploaded with POST /v1/assets (server generated, tenant-scoped).',
});
export const ReferenceRole = Type.Union([Type.Literal('product'), Type.Literal('brand'), Type.Literal('style')], {
  description:
    'What the image shows: the product (kept identical in every shot), the brand (logo, packaging, palette) or the look.',
});
export type ReferenceRole = Static<typeof ReferenceRole>;
/** Vendors send these first: the product must not change, the brand matters more than the mood. */
export const REFERENCE_ROLE_PRIORITY: readonly ReferenceRole[] = ['product', 'brand', 'style'];
const ReferenceDescription = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 120,
    pattern: NO_CONTROL_CHARACTERS,
    description: 'What the image shows, in a few words (e.g. "the bottle, front label").',
  }),
);
/**
 * One reference image of a brief: a bare URL (a style reference, the original form) or an object
 * naming exactly one of `url` and `assetId` (two closed shapes, so naming both or neither fails).
 */
export const ReferenceImage = Type.Union([
  BriefUrl('A style reference image by URL.'),
  Strict({ url: BriefUrl('The image by URL.'), role: ReferenceRole, description: ReferenceDescription }),
  Strict({ assetId: AssetId, role: ReferenceRole, description: ReferenceDescription }),
]);
export type ReferenceImage = Static<typeof ReferenceImage>;

/** A brief reference image in its one long form: the source, the role (a bare URL is style). */
export type BriefReference = { role: ReferenceRole; description?: string } & (
  { kind: 'url'; url: string } | { kind: 'asset'; assetId: string }
);
export function briefReferences(brief: Pick<Brief, 'referenceImages'>): BriefReference[] {
  return (brief.referenceImages ?? []).map((image): BriefReference => {
    if (typeof image === 'string') return { kind: 'url', url: image, role: 'style' };
    const description = image.description !== undefined ? { description: image.description } : {};
    return 'url' in image
      ? { kind: 'url', url: image.url, role: image.role, ...description }
      : { kind: 'asset', assetId: image.assetId, role: image.role, ...description };
  });
}

/** A BCP 47 language tag as a brief names one (language, then optional subtags). */
export const LANGUAGE_TAG = '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$';
export const LanguageTag = Type.String({
  pattern: LANGUAGE_TAG,
  maxLength: 35,
  description: 'BCP 47 tag, e.g. en, fr-CA.',
});

/**
 * A brief's own words in one more language: the fields the plan's lines and on-screen text are
 * made from. Each is held to the original field's limits; `scenes` must have as many items as the
 * brief's, and a field the brief has (audience, call to action) must be translated too.
 */
export const BriefTranslation = Strict(
  {
    keyMessage: BriefText(500, 'The key message in this language.'),
    product: Type.Optional(BriefText(200, 'The product, when its name changes in this language.')),
    audience: Type.Optional(BriefText(300, 'The audience in this language.')),
    callToAction: Type.Optional(BriefText(80, 'The closing line in this language.')),
    scenes: Type.Optional(
      Type.Array(BriefText(300, 'A beat, in the order of the brief.'), { minItems: 1, maxItems: 8 }),
    ),
  },
  "The brief's words in one more language.",
);
export type BriefTranslation = Static<typeof BriefTranslation>;

/** The client's own music: an audio file by URL (fetched like the logo) or an uploaded asset. */
export const BriefMusic = Type.Union(
  [
    Strict({ url: BriefUrl('An audio file (MP3, WAV, M4A/AAC, OGG or FLAC), fetched once over https.') }),
    Strict({ assetId: AssetId }),
  ],
  {
    description:
      "The client's music track, trimmed and faded to the cut and ducked under the voice; replaces the generated bed.",
  },
);
export type BriefMusic = Static<typeof BriefMusic>;

/** How the voice-over's captions are burned into the picture. */
export const CaptionStyle = Type.Union([Type.Literal('phrase'), Type.Literal('word'), Type.Literal('none')], {
  description:
    'Burned-in captions when there is a voice-over: a phrase at a time (default), a word at a time as it is spoken, or none (the WebVTT and SRT files are delivered either way).',
});
export type CaptionStyle = Static<typeof CaptionStyle>;

/** Limits a client can plan around; lengths count UTF-16 code units after NFC normalisation. */
export const BRIEF_LIMITS = { maxMetadataKeys: 20, maxMetadataKeyLength: 64, maxMetadataValueLength: 512 } as const;

/**
 * What a marketing team sends us. Strings are NFC-normalised before validation (see
 * `normalizeBriefInput`), so lengths and the echoed metadata are the same for every client.
 */
export const BriefSchema = Strict(
  {
    product: BriefText(200, 'The product or service the video is about.'),
    brand: Strict({
      name: BriefText(100, 'Brand name, shown on the end card.'),
      colors: Type.Optional(Type.Array(HexColor, { minItems: 1, maxItems: 6, description: 'Brand palette.' })),
      logoUrl: Type.Optional(BriefUrl('Logo image (PNG/JPEG), fetched once over https for the end card.')),
    }),
    keyMessage: BriefText(500, 'The one thing the viewer must remember.'),
    audience: Type.Optional(BriefText(300, 'Who the video is for.')),
    tone: Type.Optional(BriefText(100, 'e.g. energetic, calm, premium.')),
    durationSeconds: Type.Number({ minimum: 5, maximum: 60, description: 'Total length in seconds.' }),
    aspectRatios: Type.Array(AspectRatio, {
      minItems: 1,
      maxItems: 4,
      uniqueItems: true,
      description: 'One delivered file per ratio.',
    }),
    language: Type.Optional(LanguageTag),
    callToAction: Type.Optional(BriefText(80, 'Closing line, e.g. "Run brighter".')),
    scenes: Type.Optional(Type.Array(BriefText(300, 'A beat the client wants to see.'), { minItems: 1, maxItems: 8 })),
    referenceImages: Type.Optional(
      Type.Array(ReferenceImage, {
        maxItems: 5,
        description:
          'Reference images (PNG, JPEG or WebP): by URL (fetched once by the planner over https with the same protections as the logo) or by the id of an asset uploaded with POST /v1/assets. A bare URL is a style reference.',
      }),
    ),
    musicMood: Type.Optional(
      BriefText(60, 'e.g. upbeat, ambient. Picks the generated music bed when no music is supplied.'),
    ),
    music: Type.Optional(BriefMusic),
    voiceOver: Type.Optional(
      Type.Boolean({
        description:
          'Add a spoken voice-over (synthesised, one line a shot, in every language of the brief), with captions timed to it: burned in (see captions) and delivered as WebVTT and SRT files beside every video.',
      }),
    ),
    captions: Type.Optional(CaptionStyle),
    languages: Type.Optional(
      Type.Array(LanguageTag, {
        minItems: 1,
        maxItems: 4,
        uniqueItems: true,
        description:
          "Every language to deliver, the plan's own first (it must equal `language` when both are given): each gets its own videos, voice, captions and on-screen text. Without it, the one language is `language` (default en).",
      }),
    ),
    translations: Type.Optional(
      Type.Record(Type.String({ maxLength: 35 }), BriefTranslation, {
        maxProperties: 3,
        additionalProperties: false,
        propertyNames: { type: 'string', pattern: LANGUAGE_TAG, maxLength: 35 },
        description:
          "The brief's words in each further language of `languages`, keyed by its tag. Required for every further language unless the platform has a translator configured (then the director's lines are translated).",
      }),
    ),
    preset: Type.Optional(PresetName),
    budgetCapUsd: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100000, description: 'Never spend more than this on the job.' }),
    ),
    preview: Type.Optional(
      Type.Boolean({
        description:
          "Also make a free preview (an animatic of the plan with the final cut's timing, storyboard captions and a PREVIEW mark), even when the job needs no approval. A job that waits for approval always gets one.",
      }),
    ),
    metadata: Type.Optional(
      Type.Record(
        Type.String({ maxLength: BRIEF_LIMITS.maxMetadataKeyLength }),
        Type.String({ maxLength: BRIEF_LIMITS.maxMetadataValueLength, pattern: NO_CONTROL_CHARACTERS }),
        {
          maxProperties: BRIEF_LIMITS.maxMetadataKeys,
          // TypeBox's record keys match `^(.*)$`, which a key with a newline escapes; close the
          // object and bound the keys explicitly.
          additionalProperties: false,
          propertyNames: {
            type: 'string',
            minLength: 1,
            maxLength: BRIEF_LIMITS.maxMetadataKeyLength,
            pattern: '^[A-Za-z0-9_.:-]+$',
          },
          description: 'Client metadata, echoed back untouched.',
        },
      ),
    ),
  },
  'A brief: what the client wants the video to say and look like.',
);

/**
 * Returns `input` with every string (and object key) in Unicode NFC, rebuilt without sharing
 * prototypes (`__proto__` stays an ordinary own key for the schema to refuse). Nesting deeper than
 * `maxDepth` is refused with a field pointer instead of being walked: no brief field nests past 3.
 */
export function normalizeBriefInput(
  input: unknown,
  maxDepth = 8,
): { ok: true; value: unknown } | { ok: false; field: string } {
  const walk = (value: unknown, depth: number, pointer: string): unknown => {
    if (typeof value === 'string') return value.normalize('NFC');
    if (value === null || typeof value !== 'object') return value;
    if (depth >= maxDepth) throw new DepthExceeded(pointer);
    const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
    if (Array.isArray(value)) return value.map((v, i) => walk(v, depth + 1, `${pointer}/${i}`));
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k.normalize('NFC'), walk(v, depth + 1, `${pointer}/${escape(k)}`)]),
    );
  };
  try {
    return { ok: true, value: walk(input, 0, '') };
  } catch (e) {
    if (e instanceof DepthExceeded) return { ok: false, field: e.field };
    throw e;
  }
}
class DepthExceeded extends Error {
  constructor(readonly field: string) {
    super('too deep');
  }
}
export type Brief = Static<typeof BriefSchema>;

export const CameraMove = Type.Union([
  Type.Literal('static'),
  Type.Literal('zoom_in'),
  Type.Literal('zoom_out'),
  Type.Literal('pan_left'),
  Type.Literal('pan_right'),
]);
export type CameraMove = Static<typeof CameraMove>;

export const TransitionKind = Type.Union([
  Type.Literal('cut'),
  Type.Literal('fade'),
  Type.Literal('dissolve'),
  Type.Literal('slideleft'),
  Type.Literal('wipeleft'),
]);
export type TransitionKind = Static<typeof TransitionKind>;

/** From this shot into the next one (or, for the last shot, into the end card). */
export const ShotTransition = Strict({
  kind: TransitionKind,
  durationSeconds: Type.Number({ minimum: 0, maximum: 2 }),
});

/**
 * Something that must look the same in every shot that carries it: the product, a character,
 * the visual style, a setting. A plan keeps a table of them; shots carry copies by id.
 */
export const ContinuityRefSchema = Strict({
  id: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$', description: 'Unique within the plan, e.g. "product".' }),
  kind: Type.Union([
    Type.Literal('product'),
    Type.Literal('character'),
    Type.Literal('style'),
    Type.Literal('setting'),
  ]),
  description: ShortText(300, 'What must stay the same, in words a video model understands.'),
  imageUris: Type.Optional(Type.Array(Type.String({ format: 'uri', maxLength: 2048 }), { maxItems: 5 })),
});
export type ContinuityRef = Static<typeof ContinuityRefSchema>;

export const ImageContentType = Type.Union([
  Type.Literal('image/png'),
  Type.Literal('image/jpeg'),
  Type.Literal('image/webp'),
]);
export type ImageContentType = Static<typeof ImageContentType>;

/** The audio files a client may supply as music (judged by their bytes, not their names). */
export const AudioContentType = Type.Union([
  Type.Literal('audio/mpeg'),
  Type.Literal('audio/wav'),
  Type.Literal('audio/mp4'),
  Type.Literal('audio/ogg'),
  Type.Literal('audio/flac'),
]);
export type AudioContentType = Static<typeof AudioContentType>;

/**
 * A brief reference image as the planner stored it with the job: a render pool reads the bytes at
 * `path` and sends them in its vendor's field, without fetching anything a client named.
 */
export const ShotReferenceSchema = Strict({
  id: Type.String({ pattern: '^ref-[1-5]$', description: "The reference's id on the job, ref-<n> by brief order." }),
  role: ReferenceRole,
  path: Type.String({ minLength: 1, maxLength: 1024, description: 'Storage key of the stored image.' }),
  contentType: ImageContentType,
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Lowercase hex SHA-256 of the stored bytes.' }),
  description: ReferenceDescription,
});
export type ShotReference = Static<typeof ShotReferenceSchema>;

/** Everything a render backend needs to make one shot, and nothing it must look up. */
export const ShotSpecSchema = Strict({
  shotId: ShotId,
  index: Type.Integer({ minimum: 0, maximum: 15 }),
  purpose: Type.Union([
    Type.Literal('hook'),
    Type.Literal('product'),
    Type.Literal('benefit'),
    Type.Literal('proof'),
    Type.Literal('call_to_action'),
  ]),
  durationSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 20 }),
  prompt: ShortText(1000, 'Visual prompt.'),
  negativePrompt: Type.Optional(Type.String({ maxLength: 500 })),
  camera: CameraMove,
  onScreenText: Type.Optional(Type.String({ maxLength: 80 })),
  voiceOver: Type.Optional(Type.String({ maxLength: 300 })),
  palette: Type.Array(HexColor, { minItems: 2, maxItems: 2 }),
  width: Type.Integer({ minimum: 16, maximum: 3840, multipleOf: 2 }),
  height: Type.Integer({ minimum: 16, maximum: 3840, multipleOf: 2 }),
  fps: Type.Integer({ minimum: 1, maximum: 60 }),
  seed: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 2147483647, description: 'Vendor seed; changed on a retake.' }),
  ),
  audio: Type.Optional(
    Type.Boolean({
      description: "The backend generates the shot's own sound (Veo); QA then expects an audio stream.",
    }),
  ),
  retakeNote: Type.Optional(
    Type.String({ maxLength: 300, description: 'Why the previous take was rejected, for the backend to avoid.' }),
  ),
  transition: Type.Optional(ShotTransition),
  continuity: Type.Optional(
    Type.Array(ContinuityRefSchema, {
      maxItems: 6,
      description:
        "The plan's continuity references this shot carries (resolved, so a backend never looks them up); " +
        "each id is an entry of the plan's continuity table.",
    }),
  ),
  references: Type.Optional(
    Type.Array(ShotReferenceSchema, {
      maxItems: 5,
      description:
        "The brief's reference images, stored with the job, product first, then brand, then style (resolved, so a render pool never looks them up).",
    }),
  ),
});
export type ShotSpec = Static<typeof ShotSpecSchema>;

const Envelope = <P extends TProperties>(properties: P) =>
  Strict({ v: Type.Literal(1), jobId: JobId, tenantId: TenantId, ...properties });

export const JobRequestedSchema = Envelope({});
export const PlanVersion = Type.Integer({ minimum: 1, maximum: 1000, description: "The plan's version (its ETag)." });
export const JobApprovedSchema = Envelope({
  approver: ShortText(200, 'Who approved.'),
  /** The plan version the client approved (the gateway recorded it on the job); absent from older gateways. */
  planVersion: Type.Optional(PlanVersion),
});
/** A client asked for changes to a plan waiting for approval; the notes are stored on the job. */
export const PlanChangesRequestedSchema = Envelope({ planVersion: PlanVersion });
/**
 * A client asked for an estimate; the brief waits in Firestore (estimates/{estimateId}), not in
 * the message. The envelope's jobId carries the estimate's id (no job has it: estimate ids start
 * with `est_`), so the runtime's logs, traces and dead-letter records name the estimate.
 */
export const EstimateRequestedSchema = Envelope({});
export const RenderRequestSchema = Envelope({
  shotId: ShotId,
  attempt: Type.Integer({ minimum: 1, maximum: 20 }),
  spec: ShotSpecSchema,
});
export const ShotRenderedSchema = Envelope({
  shotId: ShotId,
  attempt: Type.Integer({ minimum: 1, maximum: 20 }),
  clipUri: Type.String({ minLength: 1, maxLength: 2048 }),
  backend: Backend,
  costUsd: Type.Number({ minimum: 0 }),
});
export const JobAssembleSchema = Envelope({});
export const PreviewRequestedSchema = Envelope({
  planVersion: Type.Integer({ minimum: 1, description: 'The plan version (job.plan.version) to preview.' }),
});
export const JobFinishedSchema = Envelope({
  status: Type.Union([Type.Literal('DELIVERED'), Type.Literal('FAILED'), Type.Literal('CANCELED')]),
});

export type JobRequested = Static<typeof JobRequestedSchema>;
export type JobApproved = Static<typeof JobApprovedSchema>;
export type PlanChangesRequested = Static<typeof PlanChangesRequestedSchema>;
export type EstimateRequested = Static<typeof EstimateRequestedSchema>;
export type RenderRequest = Static<typeof RenderRequestSchema>;
export type ShotRendered = Static<typeof ShotRenderedSchema>;
export type JobAssemble = Static<typeof JobAssembleSchema>;
export type PreviewRequested = Static<typeof PreviewRequestedSchema>;
export type JobFinished = Static<typeof JobFinishedSchema>;
export type AnySchema = TSchema;

/** One measured QA check: what was measured, against what, and the verdict. Never a made-up score. */
export interface QaCheck {
  name: string;
  verdict: 'pass' | 'fail' | 'skipped';
  measured?: number | string | boolean;
  expected?: string;
  detail?: string;
}
