import { Type, type Static } from '@sinclair/typebox';
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
