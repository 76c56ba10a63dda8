import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Backend, JobId, ShotId, Strict, TenantId } from './schemas';

/**
 * A reference as a provenance record names it: an id (`product`, `ref-0`, `prev-last-frame`),
 * never a URL or image bytes. The pattern has no `/` or `?`, so a URL, signed or not, cannot pass.
 */
export const ReferenceId = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$',
  description: 'The id of a reference image or frame (never its URL or bytes).',
});

/**
 * What a render backend actually put in one vendor request, as the vendor received it: the model,
 * the prompt text after the adapter's own wording and cuts, the seed, and which references went in
 * which vendor field. Stored with the task id it produced, so the record cannot lag the request.
 */
export const VendorRequestSummarySchema = Strict({
  model: Type.String({ minLength: 1, maxLength: 200 }),
  prompt: Type.String({ maxLength: 8000, description: 'The prompt text as sent.' }),
  negativePrompt: Type.Optional(Type.String({ maxLength: 2000, description: 'The negative prompt as sent.' })),
  seed: Type.Optional(Type.Integer({ minimum: 0 })),
  references: Type.Array(ReferenceId, { maxItems: 32, description: 'Reference images sent, by id.' }),
  firstFrame: Type.Optional(ReferenceId),
  lastFrame: Type.Optional(ReferenceId),
  fields: Type.Optional(
    Type.Record(Type.String({ maxLength: 64 }), ReferenceId, {
      description: "Which vendor field carried which reference, e.g. { image: 'ref-0' }.",
    }),
  ),
  dropped: Type.Optional(
    Type.Array(
      Strict({
        part: Type.String({ maxLength: 64, description: 'What was asked for: a prompt part or a reference id.' }),
        reason: Type.String({ maxLength: 300, description: 'Why the request does not carry it.' }),
      }),
      { maxItems: 32, description: 'What the shot asked for that this request does not carry, with the reason.' },
    ),
  ),
});
export type VendorRequestSummary = Static<typeof VendorRequestSummarySchema>;

const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Usd = Type.Number({ minimum: 0 });

export const QaCheckSchema = Strict({
  name: Type.String({ maxLength: 100 }),
  verdict: Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('skipped')]),
  measured: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 500 }), Type.Boolean()])),
  expected: Type.Optional(Type.String({ maxLength: 500 })),
  detail: Type.Optional(Type.String({ maxLength: 2000 })),
});

/** One vendor task (or render-cache hit) made for a shot, in the order they ran. */
export const ProvenanceTrySchema = Strict({
  attempt: Type.Integer({ minimum: 1, description: 'The shot attempt (a QA retake is a new attempt).' }),
  backend: Backend,
  model: Type.String({ maxLength: 200 }),
  outcome: Type.Union([
    Type.Literal('succeeded'),
    Type.Literal('cache_hit'),
    Type.Literal('failed'),
    Type.Literal('canceled'),
    Type.Literal('abandoned'),
    Type.Literal('unconfirmed'),
  ]),
  errorClass: Nullable(Type.String({ maxLength: 40 })),
  errorCode: Nullable(Type.String({ maxLength: 200 })),
  costUsd: Usd,
  at: DateTime,
  /** Null when no request is known: refused at create, lost in a crash, or a cache hit. */
  sent: Type.Union([VendorRequestSummarySchema, Type.Null()]),
});

export const ProvenanceShotSchema = Strict({
  shotId: ShotId,
  index: Type.Integer({ minimum: 0 }),
  durationSeconds: Type.Number({ exclusiveMinimum: 0 }),
  backend: Backend,
  model: Type.String({ maxLength: 200 }),
  seed: Nullable(Type.Integer({ minimum: 0 })),
  /** As the vendor received it; null only when the accepted clip came from the render cache. */
  prompt: Nullable(Type.String({ maxLength: 8000 })),
  negativePrompt: Nullable(Type.String({ maxLength: 2000 })),
  references: Type.Array(ReferenceId, { maxItems: 32 }),
  firstFrame: Nullable(ReferenceId),
  lastFrame: Nullable(ReferenceId),
  /** Which entry of `tries` made the delivered clip (its index). */
  acceptedTry: Type.Integer({ minimum: 0 }),
  tries: Type.Array(ProvenanceTrySchema, { minItems: 1 }),
  qa: Type.Union([
    Strict({
      attempt: Type.Integer({ minimum: 1 }),
      verdict: Type.Union([Type.Literal('pass'), Type.Literal('reject')]),
      judge: Nullable(Type.String({ maxLength: 200 })),
      checks: Type.Array(QaCheckSchema),
    }),
    Type.Null(),
  ]),
  costUsd: Usd,
});

/**
 * provenance.json, stored beside a delivery's outputs: for every shot in cut order, what was asked
 * of which vendor, every try and its cost, and QA's verdict. Built from committed job records only.
 */
export const ProvenanceManifestSchema = Strict({
  schemaVersion: Type.Literal(1),
  jobId: JobId,
  tenantId: TenantId,
  createdAt: DateTime,
  deliveredAt: DateTime,
  currency: Type.Literal('USD'),
  priceTableVersion: Nullable(Type.String({ maxLength: 100 })),
  planVersion: Type.Integer({ minimum: 1 }),
  approvedPlanVersion: Nullable(Type.Integer({ minimum: 1 })),
  shots: Type.Array(ProvenanceShotSchema, { minItems: 1 }),
  /** What was heard: each language's voice (engine, voice, where its timings came from) and the music. */
  sound: Type.Optional(
    Strict({
      voices: Type.Array(
        Strict({
          language: Type.String({ maxLength: 35 }),
          engine: Type.String({ maxLength: 40 }),
          voice: Type.String({ maxLength: 100 }),
          timing: Type.Union([Type.Literal('engine'), Type.Literal('measured')]),
          lines: Type.Integer({ minimum: 0 }),
        }),
      ),
      music: Type.Union([
        Strict({
          kind: Type.Literal('supplied'),
          source: Type.Union([Type.Literal('url'), Type.Literal('asset')]),
          sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          durationSeconds: Type.Number({ minimum: 0 }),
        }),
        Strict({ kind: Type.Literal('generated'), mood: Nullable(Type.String({ maxLength: 60 })) }),
      ]),
      /** The vendor clips' own sound was kept in the mix (the preset asked for native audio). */
      clipAudio: Type.Boolean(),
    }),
  ),
  totals: Strict({
    shots: Type.Integer({ minimum: 1 }),
    tries: Type.Integer({ minimum: 1 }),
    /** The shots' tries summed. */
    shotsCostUsd: Usd,
    /** The job's ledger total (it also holds tries of shots no longer in the plan, if any). */
    jobCostUsd: Usd,
  }),
});
export type ProvenanceManifest = Static<typeof ProvenanceManifestSchema>;
export type ProvenanceShot = Static<typeof ProvenanceShotSchema>;
export type ProvenanceTry = Static<typeof ProvenanceTrySchema>;
