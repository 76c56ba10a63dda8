import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  Backend,
  CameraMove,
  ContinuityRefSchema,
  ImageContentType,
  JobId,
  PlanVersion,
  ReferenceRole,
  ShotId,
} from '@aiprod/contracts';
import { TEXT_LIMITS } from '@aiprod/vendor-catalogue';

/** The storyboard (GET /v1/jobs/{id}/plan), its edits (PATCH) and change requests, in TypeBox. */
const Closed = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const Usd = Type.Number({ minimum: 0 });

const ChainStepViewSchema = Type.Object(
  {
    backend: Backend,
    model: Type.String(),
    durationSeconds: Type.Number(),
    attempts: Type.Integer({ description: 'Attempts the fallback policy allows on this backend per take.' }),
    attemptUsd: Usd,
  },
  Closed,
);

export const ShotCostViewSchema = Type.Object(
  {
    firstPassUsd: Type.Number({ minimum: 0, description: 'One take on the shot’s backend.' }),
    expectedUsd: Type.Number({ minimum: 0, description: 'With the expected retakes.' }),
    worstCaseUsd: Type.Number({
      minimum: 0,
      description: 'Every take the preset allows failing on every backend of the fallback chain, each billed.',
    }),
    fallbackChain: Nullable(
      Type.Array(ChainStepViewSchema, { description: 'The shot’s backend, then its fallbacks; null on older plans.' }),
    ),
    degraded: Type.Optional(Type.Object({ from: Backend, reason: Type.String() }, Closed)),
    referenceNote: Type.Optional(
      Type.String({ description: "Why the shot's product reference image will not be sent to its model." }),
    ),
  },
  Closed,
);

export const PlanShotViewSchema = Type.Object(
  {
    id: ShotId,
    index: Type.Integer({ minimum: 0 }),
    purpose: Type.String({ description: 'hook, product, benefit, proof or call_to_action.' }),
    durationSeconds: Type.Number(),
    prompt: Type.String({ description: 'The visual prompt the render backend is sent.' }),
    negativePrompt: Nullable(Type.String()),
    camera: CameraMove,
    onScreenText: Nullable(Type.String()),
    voiceOver: Nullable(Type.String()),
    continuity: Type.Array(Type.String(), { description: 'Ids of the continuity table entries this shot keeps.' }),
    references: Type.Array(Type.String(), {
      description: 'Ids of the reference images the render backend is sent with this shot, in the order sent.',
    }),
    backend: Backend,
    model: Nullable(Type.String()),
    audio: Type.Boolean({ description: 'The backend makes the shot’s own sound.' }),
    cost: Nullable(ShotCostViewSchema),
  },
  Closed,
);

export const PlanReferenceViewSchema = Type.Object(
  {
    id: Type.String({ description: 'ref-<n>: the brief\u2019s referenceImages[n-1].' }),
    role: ReferenceRole,
    source: Type.Union([Type.Literal('url'), Type.Literal('asset')], {
      description: 'Fetched from the brief\u2019s URL, or copied from an uploaded asset.',
    }),
    contentType: ImageContentType,
    width: Type.Integer({ minimum: 1 }),
    height: Type.Integer({ minimum: 1 }),
    sizeBytes: Type.Integer({ minimum: 0 }),
    sha256: Type.String({ description: 'SHA-256 of the stored copy the backends are sent.' }),
    description: Nullable(Type.String()),
  },
  {
    ...Closed,
    description: 'A brief reference image as stored with the job. It comes from the brief: no edit changes it.',
  },
);

export const PlanViewSchema = Type.Object(
  {
    jobId: JobId,
    status: Type.String(),
    version: PlanVersion,
    etag: Type.String({ description: 'The ETag header again: send it as If-Match to edit or approve this version.' }),
    approvedVersion: Nullable(PlanVersion),
    changesRequested: Nullable(
      Type.Object(
        { version: PlanVersion, notes: Type.String(), at: Nullable(DateTime) },
        { ...Closed, description: 'A change request the director is answering: the next version follows it.' },
      ),
    ),
    notes: Type.Array(Type.String(), { description: 'Every change request so far, oldest first.' }),
    director: Type.String(),
    width: Type.Integer(),
    height: Type.Integer(),
    fps: Type.Number(),
    endCardSeconds: Type.Number(),
    transition: Nullable(Type.Object({ kind: Type.String(), durationSeconds: Type.Number() }, Closed)),
    cutSeconds: Type.Number({ description: 'The finished cut’s length: shots, transitions and the end card.' }),
    continuity: Type.Array(ContinuityRefSchema),
    references: Type.Array(PlanReferenceViewSchema),
    shots: Type.Array(PlanShotViewSchema),
    totals: Nullable(
      Type.Object(
        {
          currency: Type.String(),
          priceTableVersion: Type.String(),
          firstPassUsd: Usd,
          expectedUsd: Type.Number({ minimum: 0, description: 'Compared with the auto-approve limit.' }),
          worstCaseUsd: Type.Number({ minimum: 0, description: 'Compared with the budget cap.' }),
          budgetCapUsd: Nullable(Usd),
        },
        Closed,
      ),
    ),
    editable: Type.Object(
      {
        fields: Type.Array(Type.String(), { description: 'The shot fields PATCH accepts.' }),
        backends: Type.Array(Backend, { description: 'The backends a shot of this job may be moved to.' }),
      },
      Closed,
    ),
    preview: Nullable(
      Type.Object(
        {
          planVersion: PlanVersion,
          status: Type.Union([Type.Literal('RENDERING'), Type.Literal('READY'), Type.Literal('FAILED')]),
          current: Type.Boolean({ description: 'Whether it shows this version of the plan.' }),
          url: Type.Optional(Type.String({ format: 'uri', description: 'A short-lived signed link to the MP4.' })),
        },
        { ...Closed, description: 'The free animatic of the plan, when one was made.' },
      ),
    ),
    links: Type.Object(
      { job: Type.String(), approve: Type.String(), changes: Type.String(), events: Type.String() },
      Closed,
    ),
  },
  { ...Closed, description: 'The storyboard: every shot as it will be rendered, with its costs.' },
);
export type PlanViewBody = Static<typeof PlanViewSchema>;

const Clearable = <T extends TSchema>(schema: T, description: string) =>
  Type.Optional(Type.Union([schema, Type.Null()], { description: `${description} null removes it.` }));

export const ShotEditSchema = Type.Object(
  {
    id: ShotId,
    prompt: Type.Optional(Type.String({ minLength: 1, maxLength: TEXT_LIMITS.prompt })),
    negativePrompt: Clearable(Type.String({ minLength: 1, maxLength: TEXT_LIMITS.negativePrompt }), 'What to avoid.'),
    camera: Type.Optional(CameraMove),
    onScreenText: Clearable(Type.String({ minLength: 1, maxLength: TEXT_LIMITS.onScreenText }), 'On-screen text.'),
    voiceOver: Clearable(Type.String({ minLength: 1, maxLength: TEXT_LIMITS.voiceOver }), 'The voice-over line.'),
    durationSeconds: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 20, description: 'A length the shot’s backend makes.' }),
    ),
    backend: Type.Optional(Backend),
  },
  { ...Closed, minProperties: 2, description: 'One shot’s changes: its id and at least one field.' },
);

export const PlanPatchSchema = Type.Object(
  { shots: Type.Array(ShotEditSchema, { minItems: 1, maxItems: 8 }) },
  { ...Closed, description: 'Edits to shots of a plan waiting for approval.' },
);
export type PlanPatch = Static<typeof PlanPatchSchema>;

export const PlanChangesSchema = Type.Object(
  {
    notes: Type.String({
      minLength: 1,
      maxLength: 500,
      description: 'What to change, in words: the director plans again following these and earlier notes.',
    }),
  },
  Closed,
);
