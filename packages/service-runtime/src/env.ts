import { Type, type Static } from '@sinclair/typebox';
import { validate } from '@aiprod/contracts';
import type { StateDeadlines } from '@aiprod/job-store';
import { createBlobStore, type BlobStore } from '@aiprod/storage';

/** Variables every service reads. Each service's env.ts spreads these into its own schema. */
export const CoreEnvProperties = {
  GCP_PROJECT: Type.String({ minLength: 1, description: 'Google Cloud project id (the emulators accept any).' }),
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
  HOST: Type.String({ default: '0.0.0.0', description: 'Listen address; the local platform uses 127.0.0.1.' }),
  LOG_LEVEL: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], {
    default: 'info',
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ format: 'uri' })),
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
    description: 'How often overdue jobs are looked for.',
  }),
};

export const StorageEnvProperties = {
  STORAGE_KIND: Type.Union([Type.Literal('local'), Type.Literal('gcs')], { default: 'gcs' }),
  STORAGE_ROOT: Type.Optional(Type.String({ minLength: 1, description: 'Directory of the local store.' })),
  STORAGE_BUCKET: Type.Optional(Type.String({ minLength: 3, description: 'Cloud Storage bucket.' })),
  PUBLIC_BASE_URL: Type.Optional(
    Type.String({ format: 'uri', description: 'Gateway URL that serves local signed files.' }),
  ),
  STORAGE_SIGNING_KEY: Type.Optional(
    Type.String({ minLength: 32, description: 'HMAC key (hex or base64) for local signed URLs.' }),
  ),
};

type StorageEnv = Static<ReturnType<typeof Type.Object<typeof StorageEnvProperties>>>;

/** The local store's HMAC key, given as hex or base64. */
export const decodeSigningKey = (value: string) => Buffer.from(value, /^[0-9a-f]+$/i.test(value) ? 'hex' : 'base64');

/** Builds the blob store the environment describes, or says which variable is missing. */
export function blobStoreFromEnv(env: StorageEnv): BlobStore {
  if (env.STORAGE_KIND === 'gcs') {
    if (!env.STORAGE_BUCKET) throw new Error('STORAGE_BUCKET is required when STORAGE_KIND=gcs');
    return createBlobStore({ kind: 'gcs', bucket: env.STORAGE_BUCKET });
  }
  if (!env.STORAGE_ROOT || !env.PUBLIC_BASE_URL || !env.STORAGE_SIGNING_KEY) {
    throw new Error('STORAGE_ROOT, PUBLIC_BASE_URL and STORAGE_SIGNING_KEY are required when STORAGE_KIND=local');
  }
  return createBlobStore({
    kind: 'local',
    rootDir: env.STORAGE_ROOT,
    publicBaseUrl: env.PUBLIC_BASE_URL,
    signingKey: decodeSigningKey(env.STORAGE_SIGNING_KEY),
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
