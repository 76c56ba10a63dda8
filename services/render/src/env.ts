import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties, StorageEnvProperties } from '@aiprod/service-runtime';

const Url = (description: string) => Type.Optional(Type.String({ format: 'uri', description }));
const PollMs = Type.Optional(
  Type.Integer({ minimum: 0, maximum: 600_000, description: 'Poll interval override (the vendor default otherwise).' }),
);

export const RenderEnv = Type.Object({
  ...CoreEnvProperties,
  ...StorageEnvProperties,
  RENDER_BACKEND: Type.Union(
    [Type.Literal('local'), Type.Literal('runway'), Type.Literal('veo'), Type.Literal('replicate')],
    { description: 'Which backend this worker pool serves; one pool per backend.' },
  ),
  RENDER_CONCURRENCY: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 64,
      description: "Vendor tasks in flight in this process (default: the policy's maxConcurrent for the backend).",
    }),
  ),
  RENDER_TIMEOUT_SECONDS: Type.Integer({ minimum: 5, maximum: 3600, default: 300, description: 'Local ffmpeg bound.' }),
  RENDER_FALLBACK_POLICY: Type.Optional(
    Type.String({
      minLength: 2,
      description: 'The fallback policy as JSON (validated at start-up); the default otherwise.',
    }),
  ),
  ENABLED_BACKENDS: Type.String({
    default: 'local',
    pattern: '^(runway|veo|replicate|local)(,(runway|veo|replicate|local))*$',
    description:
      "The render pools this deployment runs (the planner's PLANNER_BACKENDS): the fallback policy hands shots only to these.",
  }),
  RENDER_LEASE_SECONDS: Type.Number({
    minimum: 1,
    maximum: 600,
    default: 30,
    description:
      "An attempt's lease, renewed every quarter of it while a worker renders: a dead worker's shot resumes within about this long. Also bounds the Pub/Sub lease extensions.",
  }),
  RENDER_POLL_TIMEOUT_SECONDS: Type.Number({
    minimum: 0.1,
    maximum: 600,
    default: 60,
    description: 'One poll call; a poll that takes longer is retried on the same task, never read as a cancel.',
  }),
  RENDER_CACHE_TTL_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 90 * 24 * 3600,
    default: 168 * 3600,
    description: 'How long an identical shot reuses a stored clip; 0 turns the cache off.',
  }),
  WORK_DIR: Type.Optional(Type.String({ minLength: 1, description: 'Scratch directory (default: the OS temp dir).' })),
  // Vendor credentials come from Secret Manager as environment variables; they are never logged.
  RUNWAY_API_KEY: Type.Optional(Type.String({ minLength: 8 })),
  RUNWAY_BASE_URL: Url('Runway API base URL (the vendor default otherwise).'),
  RUNWAY_MODEL: Type.Optional(Type.String({ minLength: 1 })),
  RUNWAY_POLL_INTERVAL_MS: PollMs,
  REPLICATE_API_TOKEN: Type.Optional(Type.String({ minLength: 8 })),
  REPLICATE_BASE_URL: Url('Replicate API base URL.'),
  REPLICATE_MODEL: Type.Optional(Type.String({ pattern: '^[\\w.-]+/[\\w.-]+$' })),
  REPLICATE_POLL_INTERVAL_MS: PollMs,
  VERTEX_LOCATION: Type.String({ default: 'us-central1' }),
  VERTEX_BASE_URL: Url('Vertex AI base URL.'),
  VERTEX_ACCESS_TOKEN: Type.Optional(
    Type.String({
      minLength: 8,
      description: 'A pre-issued OAuth token (e.g. for a developer run); Application Default Credentials otherwise.',
    }),
  ),
  VEO_MODEL: Type.Optional(Type.String({ minLength: 1 })),
  VEO_OUTPUT_GCS_PREFIX: Type.Optional(
    Type.String({ pattern: '^gs://', description: 'Vertex writes clips straight into our bucket under this prefix.' }),
  ),
  VEO_POLL_INTERVAL_MS: PollMs,
});
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(RenderEnv, env);
export type RenderEnvValues = ReturnType<typeof loadEnv>;
