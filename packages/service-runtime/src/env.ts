import { Type, type Static } from '@sinclair/typebox';
import { CommaList, requiresWhen } from '@aiprod/config';
import { BACKENDS, validate } from '@aiprod/contracts';
import { DEFAULT_GEMINI_MODEL } from '@aiprod/google-ai';
import type { StateDeadlines } from '@aiprod/job-store';
import { createBlobStore, type BlobStore } from '@aiprod/storage';

/** Variables every service reads. Each service's env.ts spreads these into its own schema. */
export const CoreEnvProperties = {
  GCP_PROJECT: Type.String({ minLength: 1, description: 'Google Cloud project id (the emulators accept any).' }),
  PORT: Type.Integer({
    minimum: 1,
    maximum: 65535,
    default: 8080,
    description:
      'Port of the health and metrics (gateway: API) listener. Default 8080: the port Cloud Run sends to unless told otherwise (it sets PORT itself).',
  }),
  HOST: Type.String({
    default: '0.0.0.0',
    description:
      'Listen address. Default 0.0.0.0: Cloud Run reaches the container on its external interface; the local platform sets 127.0.0.1.',
  }),
  LOG_LEVEL: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], {
    default: 'info',
    description:
      'Lowest level written to stdout. Default info: every state change and vendor call, without the per-message debug lines that multiply logging cost.',
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(
    Type.String({ format: 'uri', description: 'OTLP collector for traces; unset, spans are not exported.' }),
  ),
  STATE_DEADLINES: Type.Optional(
    Type.String({
      minLength: 2,
      description:
        'JSON of job-state deadlines in seconds overriding the defaults, e.g. {"RENDERING":600} (the sweeper acts on them).',
    }),
  ),
  SWEEP_INTERVAL_SECONDS: Type.Number({
    minimum: 0.2,
    maximum: 3600,
    default: 30,
    description:
      'How often overdue jobs are looked for. Default 30: state deadlines are minutes long, so a job is moved on within half a minute of its deadline at one small query per service and interval.',
  }),
};

export const StorageEnvProperties = {
  STORAGE_KIND: Type.Union([Type.Literal('local'), Type.Literal('gcs')], {
    default: 'gcs',
    description:
      'Where files live: Cloud Storage, or a directory served by the gateway. Default gcs: Cloud Run instances share no disk; local is for the local platform.',
  }),
  STORAGE_ROOT: Type.Optional(Type.String({ minLength: 1, description: 'Directory of the local store.' })),
  STORAGE_BUCKET: Type.Optional(Type.String({ minLength: 3, description: 'Cloud Storage bucket.' })),
  PUBLIC_BASE_URL: Type.Optional(
    Type.String({ format: 'uri', description: 'Gateway URL that serves local signed files.' }),
  ),
  STORAGE_SIGNING_KEY: Type.Optional(
    Type.String({ minLength: 32, description: 'HMAC key (hex or base64) for local signed URLs.' }),
  ),
};

/** What each kind of store needs, checked by parseEnv before anything is built. */
export const StorageEnvRules = [
  requiresWhen('STORAGE_KIND', 'gcs', ['STORAGE_BUCKET']),
  requiresWhen('STORAGE_KIND', 'local', ['STORAGE_ROOT', 'PUBLIC_BASE_URL', 'STORAGE_SIGNING_KEY']),
] as const;

/** The one list of deployed render pools, read by the gateway, the planner and every render pool. */
export const BackendsEnvProperties = {
  ENABLED_BACKENDS: CommaList(Type.Union(BACKENDS.map((b) => Type.Literal(b))), {
    default: 'local',
    description:
      'The render pools this deployment runs, comma-separated; every service that reads it must get the same list. The planner sends shots only to these, the gateway prices only these, and a render pool falls back only to these. Default local: the zero-cost pool that every deployment runs and the only one the local platform and CI need.',
  }),
};

/**
 * The model each render pool runs, read by the planner (to plan for it) and by every render pool
 * (for its own model and for what the other pools of its chain can take). Each service checks the
 * models against the vendor catalogue at start-up (parseBackendModels).
 */
export const BackendModelsEnvProperties = {
  BACKEND_MODELS: Type.Optional(
    Type.String({
      pattern: '^\\s*[a-z]+\\s*=[^,=]+(,\\s*[a-z]+\\s*=[^,=]+)*$',
      description:
        "The model per render backend, comma-separated backend=model (e.g. runway=gen4.5,replicate=bytedance/seedance-1-lite); each must be in the vendor catalogue. The planner and every render pool must get the same value. A backend not named runs the catalogue's default model. A render pool still reads its older RUNWAY_MODEL, VEO_MODEL or REPLICATE_MODEL when this does not name its backend (the planner does not read those); the two naming different models stop the pool at start-up.",
    }),
  ),
};

/** The render pools' fallback policy, which the planner also reads to price the worst case. */
export const FallbackPolicyEnvProperties = {
  RENDER_FALLBACK_POLICY: Type.Optional(
    Type.String({
      minLength: 2,
      description:
        'The fallback policy as JSON, validated at start-up; the planner and every render pool must get the same value. Unset: the default policy of @aiprod/contracts.',
    }),
  ),
};

/** Gemini on Vertex AI, for the planner's director and QA's judge. */
export const GeminiEnvProperties = {
  GEMINI_MODEL: Type.String({
    default: DEFAULT_GEMINI_MODEL,
    description: `Gemini model id. Default ${DEFAULT_GEMINI_MODEL}: a Flash model generally available on Vertex AI (gemini-2.5-flash was retired on 2026-10-20); it reads frames and writes structured shot plans within the timeouts at a fraction of the Pro price.`,
  }),
  VERTEX_LOCATION: Type.String({
    default: 'europe-west1',
    description:
      "Vertex AI region of Gemini. Default europe-west1: the platform's default region (cloudbuild.yaml), where Gemini is served, so briefs and frames stay beside the services. Render's VERTEX_LOCATION (Veo) has its own default.",
  }),
  VERTEX_BASE_URL: Type.Optional(
    Type.String({ format: 'uri', description: 'Override of the Vertex AI endpoint (tests point it at a fake).' }),
  ),
};

/** A scratch directory for ffmpeg inputs and outputs. */
export const WorkDirEnvProperties = {
  WORK_DIR: Type.Optional(Type.String({ minLength: 1, description: 'Scratch directory (default: the OS temp dir).' })),
};

/** Plain http to loopback: only the local platform, whose receivers and logos are on 127.0.0.1. */
export const LoopbackEnvProperties = {
  ALLOW_LOOPBACK_HTTP: Type.Boolean({
    default: false,
    description:
      'Local platform only: plain http to loopback addresses for webhooks (and, in delivery, brand logos). Default false: a deployed service must never reach its own network or talk http.',
  }),
};

type StorageEnv = Static<ReturnType<typeof Type.Object<typeof StorageEnvProperties>>>;

/** The local store's HMAC key, given as hex or base64. */
export const decodeSigningKey = (value: string) => Buffer.from(value, /^[0-9a-f]+$/i.test(value) ? 'hex' : 'base64');

/** A value StorageEnvRules guarantee once parseEnv has accepted the environment. */
function given(value: string | undefined, name: string): string {
  if (value === undefined) throw new Error(`${name} is unset: parse the environment with parseEnv and StorageEnvRules`);
  return value;
}

/** Builds the blob store the environment describes (parseEnv has checked StorageEnvRules). */
export function blobStoreFromEnv(env: StorageEnv): BlobStore {
  if (env.STORAGE_KIND === 'gcs') {
    return createBlobStore({ kind: 'gcs', bucket: given(env.STORAGE_BUCKET, 'STORAGE_BUCKET') });
  }
  return createBlobStore({
    kind: 'local',
    rootDir: given(env.STORAGE_ROOT, 'STORAGE_ROOT'),
    publicBaseUrl: given(env.PUBLIC_BASE_URL, 'PUBLIC_BASE_URL'),
    signingKey: decodeSigningKey(given(env.STORAGE_SIGNING_KEY, 'STORAGE_SIGNING_KEY')),
  });
}

const StateDeadlinesSchema = Type.Object(
  Object.fromEntries(
    ['QUEUED', 'PLANNING', 'AWAITING_APPROVAL', 'RENDERING', 'ASSEMBLING'].map((s) => [
      s,
      Type.Optional(Type.Integer({ minimum: 5, maximum: 30 * 24 * 3600 })),
    ]),
  ),
  { additionalProperties: false },
);

/** Parses STATE_DEADLINES; a wrong value stops the service at start-up, naming the problem. */
export function parseStateDeadlines(json: string | undefined): StateDeadlines {
  if (!json) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('STATE_DEADLINES is not valid JSON');
  }
  const checked = validate(StateDeadlinesSchema, value);
  if (!checked.ok) {
    throw new Error(`STATE_DEADLINES: ${checked.errors.map((e) => `${e.field || '/'} ${e.message}`).join('; ')}`);
  }
  return checked.value as StateDeadlines;
}
