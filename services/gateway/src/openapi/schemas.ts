import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  Backend,
  BriefSchema,
  JOB_STATUSES,
  JobId,
  PROBLEM_TYPES,
  problemTypeUri,
  type ProblemKind,
} from '@aiprod/contracts';

/**
 * The gateway's request and response shapes, in TypeBox: the routes validate with them and the
 * OpenAPI document is generated from them, so the two cannot drift apart.
 */
const Closed = { additionalProperties: false } as const;
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const SignedUrl = Type.String({
  format: 'uri',
  description: 'A short-lived signed link; treat it as a secret until it expires.',
});

export const JobStatusSchema = Type.Union(
  JOB_STATUSES.map((s) => Type.Literal(s)),
  { description: 'QUEUED → PLANNING → [AWAITING_APPROVAL] → RENDERING → ASSEMBLING → DELIVERED; or FAILED, CANCELED.' },
);

const QaCheckSchema = Type.Object(
  {
    name: Type.String(),
    verdict: Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('skipped')]),
    measured: Type.Optional(Type.Union([Type.Number(), Type.String(), Type.Boolean()])),
    expected: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String()),
  },
  { description: 'One measured check.' },
);

export const OutputViewSchema = Type.Object(
  {
    variant: Type.String({ description: 'Aspect ratio of this file, e.g. 9:16.' }),
    url: SignedUrl,
    urlExpiresAt: DateTime,
    durationSeconds: Type.Number(),
    width: Type.Integer(),
    height: Type.Integer(),
    sizeBytes: Type.Integer(),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    integratedLufs: Type.Optional(Type.Number()),
    language: Type.Optional(
      Type.String({ description: "This file's language (a brief with several languages gets a set of files each)." }),
    ),
    captions: Type.Optional(
      Type.Object(
        {
          vttUrl: SignedUrl,
          srtUrl: SignedUrl,
          cues: Type.Integer({ minimum: 1, description: 'Caption cues, each timed to the phrase it shows.' }),
        },
        { ...Closed, description: "The voice-over's captions for this file: WebVTT and SubRip." },
      ),
    ),
    qa: Nullable(Type.Array(QaCheckSchema)),
  },
  Closed,
);

export const VoiceTrackViewSchema = Type.Object(
  {
    language: Type.String(),
    url: SignedUrl,
    engine: Type.String({ description: 'The speech engine, e.g. espeak-ng or google-tts.' }),
    voice: Type.String(),
    timing: Type.Union([Type.Literal('engine'), Type.Literal('measured')], {
      description: "Where the caption times come from: the engine's word marks, or measuring the audio.",
    }),
  },
  { ...Closed, description: "One language's voice-over alone (WAV, the whole cut's length)." },
);

export const StillsViewSchema = Nullable(Type.Object({ posterUrl: SignedUrl, contactSheetUrl: SignedUrl }, Closed));

export const ProvenanceUrlSchema = Nullable(
  Type.String({
    format: 'uri',
    description:
      'provenance.json, once DELIVERED: per shot the backend, model, seed, prompt as sent, references, ' +
      'tries, cost and QA verdict. A short-lived signed link; treat it as a secret until it expires.',
  }),
);

export const JobEventViewSchema = Type.Object(
  {
    id: Type.String({ description: 'The event id; also the SSE id used with Last-Event-ID.' }),
    type: Type.String({ description: 'e.g. job.created, job.status, job.planned, shot.passed, job.canceled.' }),
    at: Nullable(DateTime),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  Closed,
);

export const JobViewSchema = Type.Object(
  {
    id: JobId,
    status: JobStatusSchema,
    preset: Type.String(),
    createdAt: Nullable(DateTime),
    updatedAt: Nullable(DateTime),
    brief: BriefSchema,
    costUsd: Type.Number({ minimum: 0, description: 'What the job has cost so far.' }),
    plan: Type.Optional(
      Type.Object(
        {
          director: Type.String(),
          width: Type.Integer(),
          height: Type.Integer(),
          fps: Type.Number(),
          estimatedCostUsd: Type.Number(),
          version: Type.Integer({ minimum: 1, description: "The plan's version (its ETag, quoted)." }),
          approvedVersion: Nullable(Type.Integer({ minimum: 1, description: 'The version its client approved.' })),
          href: Type.String({ description: 'The storyboard: GET it for every shot and its costs.' }),
        },
        Closed,
      ),
    ),
    error: Type.Optional(
      Type.Object({ reason: Type.String(), message: Type.String(), at: Nullable(DateTime) }, Closed),
    ),
    qa: Type.Object({ shotsPassed: Type.Integer(), shotsTotal: Type.Integer(), retakes: Type.Integer() }, Closed),
    shots: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          status: Type.String(),
          attempt: Type.Integer(),
          purpose: Type.String(),
          durationSeconds: Type.Number(),
          onScreenText: Nullable(Type.String()),
          backend: Type.String(),
          qa: Nullable(
            Type.Object(
              {
                attempt: Type.Integer(),
                verdict: Type.String(),
                judge: Nullable(Type.String()),
                checks: Type.Array(QaCheckSchema),
                evidence: Type.Array(SignedUrl),
              },
              Closed,
            ),
          ),
        },
        Closed,
      ),
    ),
    outputs: Type.Array(OutputViewSchema),
    stills: StillsViewSchema,
    provenanceUrl: ProvenanceUrlSchema,
    voiceTracks: Type.Array(VoiceTrackViewSchema),
    events: Type.Array(JobEventViewSchema),
  },
  { ...Closed, description: 'A job with its shots, signed outputs and timeline.' },
);
export type JobViewBody = Static<typeof JobViewSchema>;

export const JobSummarySchema = Type.Object(
  {
    id: JobId,
    status: JobStatusSchema,
    preset: Type.String(),
    createdAt: Nullable(DateTime),
    updatedAt: Nullable(DateTime),
    costUsd: Type.Number({ minimum: 0 }),
    /** Absent on an erased job, with `metadata`: its creative content is gone. */
    product: Type.Optional(Type.String()),
    metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** Set on an erased job (DELETE /v1/jobs/{id}): only its tombstone is left. */
    erasedAt: Type.Optional(Nullable(DateTime)),
  },
  {
    ...Closed,
    description:
      'A job as listed: no outputs, no timeline. An erased job is listed as its tombstone (no product, with erasedAt).',
  },
);

export const ErasedJobViewSchema = Type.Object(
  {
    id: JobId,
    status: JobStatusSchema,
    preset: Type.String(),
    createdAt: Nullable(DateTime),
    updatedAt: Nullable(DateTime),
    costUsd: Type.Number({ minimum: 0, description: 'What the job cost: kept for billing.' }),
    erasedAt: Nullable(DateTime),
  },
  {
    ...Closed,
    description:
      "An erased job's tombstone: its files, brief, plan, prompts and outputs are gone; the status it ended in, its cost and the time of the erasure are kept for billing and audit.",
  },
);

export const JobListSchema = Type.Object(
  {
    jobs: Type.Array(JobSummarySchema),
    nextCursor: Nullable(Type.String({ description: 'Pass as ?cursor= for the next page; null on the last page.' })),
  },
  Closed,
);

export const JOB_LIST_MAX_LIMIT = 100;
export const JobListQuerySchema = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: JOB_LIST_MAX_LIMIT, default: 20 })),
    status: Type.Optional(JobStatusSchema),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'Opaque, from nextCursor.' })),
  },
  Closed,
);

export const OUTPUT_TTL_MAX_SECONDS = 604800;
export const OutputsQuerySchema = Type.Object(
  {
    ttl: Type.Optional(
      Type.Integer({
        minimum: 60,
        maximum: OUTPUT_TTL_MAX_SECONDS,
        default: 3600,
        description: 'Seconds the links stay valid: default 1 h, at most 7 days.',
      }),
    ),
  },
  Closed,
);

export const OutputsViewSchema = Type.Object(
  {
    jobId: JobId,
    expiresAt: DateTime,
    outputs: Type.Array(OutputViewSchema),
    stills: StillsViewSchema,
    provenanceUrl: ProvenanceUrlSchema,
    voiceTracks: Type.Array(VoiceTrackViewSchema),
  },
  Closed,
);

export const CostLineSchema = Type.Object(
  {
    line: Type.String({ description: 'The ledger line id: one per vendor task (or free outcome) of a shot attempt.' }),
    shotId: Type.String(),
    attempt: Type.Integer({ minimum: 1 }),
    backend: Backend,
    model: Type.String(),
    outcome: Type.Union(
      ['succeeded', 'cache_hit', 'failed', 'canceled', 'abandoned', 'unconfirmed'].map((o) => Type.Literal(o)),
      {
        description:
          'What became of the task: abandoned is a task cancelled and left, billed as the vendor bills it; ' +
          'unconfirmed is a create cut off by a crash before its task was known, booked at the expected price.',
      },
    ),
    seconds: Nullable(
      Type.Number({ minimum: 0, description: 'Seconds of video billed; 0 when not charged; null on older lines.' }),
    ),
    charged: Type.Boolean({ description: 'Whether the vendor bills this task.' }),
    amountUsd: Type.Number({ minimum: 0 }),
    at: Nullable(DateTime),
    task: Nullable(
      Type.String({
        pattern: '^[0-9a-f]{16}$',
        description: 'An opaque reference to the vendor task (a hash of its id, never the id); null on older lines.',
      }),
    ),
  },
  Closed,
);

export const CostsViewSchema = Type.Object(
  {
    jobId: JobId,
    currency: Type.Literal('USD'),
    totalUsd: Type.Number({ minimum: 0, description: 'The sum of the lines, rounded to a millionth of a dollar.' }),
    budgetCapUsd: Nullable(
      Type.Number({ minimum: 0, description: "The job's budget cap from its plan; null when it has none." }),
    ),
    lines: Type.Array(CostLineSchema, { description: 'Oldest first.' }),
  },
  { ...Closed, description: "The job's cost ledger: what each vendor task cost." },
);
export type CostsViewBody = Static<typeof CostsViewSchema>;

export const WebhookPutSchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'https URL that receives the signed job notifications (no redirects are followed).',
    }),
  },
  Closed,
);

export const WebhookViewSchema = Type.Object(
  {
    url: Type.String(),
    secret: Type.Optional(
      Type.String({ description: 'The new signing secret (whsec_…). Returned once, on the PUT that made it.' }),
    ),
    secretsActive: Type.Integer({ minimum: 0, maximum: 2, description: '2 during a rotation overlap.' }),
    previousSecretExpiresAt: Nullable(DateTime),
    disabled: Type.Boolean(),
    disabledReason: Nullable(Type.String()),
    updatedAt: Nullable(DateTime),
  },
  Closed,
);

export const HealthSchema = Type.Object({ status: Type.Literal('ok') }, Closed);
export const ReadySchema = Type.Object({ ready: Type.Boolean() }, Closed);
export const OpenApiDocumentSchema = Type.Object(
  { openapi: Type.String(), info: Type.Object({}), paths: Type.Object({}) },
  { description: 'This document.' },
);

export const FieldErrorSchema = Type.Object(
  {
    field: Type.String({ description: "JSON Pointer to the offending field; '' for the whole body." }),
    rule: Type.String({ description: 'The rule broken: required, maxLength, pattern, additionalProperties…' }),
    message: Type.String(),
  },
  Closed,
);

/** An RFC 9457 problem whose `type` is one of the given kinds' stable URIs. */
export const problemSchema = (kinds: readonly ProblemKind[]) =>
  Type.Object(
    {
      type: Type.Union(
        kinds.map((k) => Type.Literal(problemTypeUri(k))),
        { description: 'Stable URI naming the problem.' },
      ),
      title: Type.String(),
      status: Type.Integer(),
      detail: Type.String(),
      instance: Type.String(),
      requestId: Type.String(),
      errors: Type.Optional(Type.Array(FieldErrorSchema)),
    },
    { description: 'application/problem+json (RFC 9457).' },
  );

/** Every problem kind grouped by the HTTP status it is sent with. */
export function problemKindsByStatus(): Map<number, ProblemKind[]> {
  const byStatus = new Map<number, ProblemKind[]>();
  for (const [kind, { status }] of Object.entries(PROBLEM_TYPES) as [ProblemKind, { status: number }][]) {
    byStatus.set(status, [...(byStatus.get(status) ?? []), kind]);
  }
  return byStatus;
}
