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

/** What a marketing team sends us. */
export const BriefSchema = Strict(
  {
    product: ShortText(200, 'The product or service the video is about.'),
    brand: Strict({
      name: ShortText(100, 'Brand name, shown on the end card.'),
      colors: Type.Optional(Type.Array(HexColor, { minItems: 1, maxItems: 6, description: 'Brand palette.' })),
      logoUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
    }),
    keyMessage: ShortText(500, 'The one thing the viewer must remember.'),
    audience: Type.Optional(ShortText(300, 'Who the video is for.')),
    tone: Type.Optional(ShortText(100, 'e.g. energetic, calm, premium.')),
    durationSeconds: Type.Number({ minimum: 5, maximum: 60, description: 'Total length in seconds.' }),
    aspectRatios: Type.Array(AspectRatio, { minItems: 1, maxItems: 4, uniqueItems: true }),
    language: Type.Optional(Type.String({ pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$', maxLength: 35 })),
    callToAction: Type.Optional(ShortText(80, 'Closing line, e.g. "Run brighter".')),
    scenes: Type.Optional(Type.Array(ShortText(300, 'A beat the client wants to see.'), { minItems: 1, maxItems: 8 })),
    referenceImages: Type.Optional(Type.Array(Type.String({ format: 'uri', maxLength: 2048 }), { maxItems: 5 })),
    musicMood: Type.Optional(ShortText(60, 'e.g. upbeat, ambient.')),
    voiceOver: Type.Optional(Type.Boolean()),
    preset: Type.Optional(PresetName),
    budgetCapUsd: Type.Optional(Type.Number({ minimum: 0, maximum: 100000 })),
    metadata: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 512 }), {
        maxProperties: 20,
        description: 'Client metadata, echoed back untouched.',
      }),
    ),
  },
  'A brief: what the client wants the video to say and look like.',
);
export type Brief = Static<typeof BriefSchema>;

export const CameraMove = Type.Union([
  Type.Literal('static'),
  Type.Literal('zoom_in'),
  Type.Literal('zoom_out'),
  Type.Literal('pan_left'),
  Type.Literal('pan_right'),
]);
export type CameraMove = Static<typeof CameraMove>;

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
  retakeNote: Type.Optional(
    Type.String({ maxLength: 300, description: 'Why the previous take was rejected, for the backend to avoid.' }),
  ),
});
export type ShotSpec = Static<typeof ShotSpecSchema>;

const Envelope = <P extends TProperties>(properties: P) =>
  Strict({ v: Type.Literal(1), jobId: JobId, tenantId: TenantId, ...properties });

export const JobRequestedSchema = Envelope({});
export const JobApprovedSchema = Envelope({ approver: ShortText(200, 'Who approved.') });
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
export const JobFinishedSchema = Envelope({
  status: Type.Union([Type.Literal('DELIVERED'), Type.Literal('FAILED'), Type.Literal('CANCELED')]),
});

export type JobRequested = Static<typeof JobRequestedSchema>;
export type JobApproved = Static<typeof JobApprovedSchema>;
export type RenderRequest = Static<typeof RenderRequestSchema>;
export type ShotRendered = Static<typeof ShotRenderedSchema>;
export type JobAssemble = Static<typeof JobAssembleSchema>;
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
