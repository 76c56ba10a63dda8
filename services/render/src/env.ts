import { Type } from '@sinclair/typebox';
import { BACKENDS, type BackendName } from '@aiprod/contracts';
import { envRule, envSchema, oneOfList, parseEnv, requiresWhen } from '@aiprod/config';
import {
  BackendModelsEnvProperties,
  BackendsEnvProperties,
  CoreEnvProperties,
  FallbackPolicyEnvProperties,
  StorageEnvProperties,
  StorageEnvRules,
  WorkDirEnvProperties,
} from '@aiprod/service-runtime';
import { parseBackendModels, resolveModels } from '@aiprod/vendor-catalogue';

const Url = (description: string) => Type.Optional(Type.String({ format: 'uri', description }));
const PollMs = Type.Optional(
  Type.Integer({ minimum: 0, maximum: 600_000, description: 'Poll interval override (the vendor default otherwise).' }),
);

export const RenderEnv = envSchema(
  {
    ...CoreEnvProperties,
    ...StorageEnvProperties,
    ...BackendsEnvProperties,
    ...FallbackPolicyEnvProperties,
    ...WorkDirEnvProperties,
    ...BackendModelsEnvProperties,
    RENDER_BACKEND: Type.Union(
      BACKENDS.map((backend) => Type.Literal(backend)),
      { description: 'Which backend this worker pool serves; one pool per backend.' },
    ),
    RENDER_CONCURRENCY: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 64,
        description: "Vendor tasks in flight in this process (default: the policy's maxConcurrent for the backend).",
      }),
    ),
    RENDER_TIMEOUT_SECONDS: Type.Integer({
      minimum: 5,
      maximum: 3600,
      default: 300,
      description:
        'Bound on one local (ffmpeg) render. Default 300 s: an animatic shot renders in seconds, so only a stuck ffmpeg reaches it.',
    }),
    RENDER_LEASE_SECONDS: Type.Number({
      minimum: 1,
      maximum: 600,
      default: 30,
      description:
        "An attempt's lease, renewed every quarter of it while a worker renders: a dead worker's shot resumes within about this long. Also bounds the Pub/Sub lease extensions. Default 30 s: a crash costs half a minute, at one Firestore write per 7.5 s per shot in flight.",
    }),
    RENDER_POLL_TIMEOUT_SECONDS: Type.Number({
      minimum: 0.1,
      maximum: 600,
      default: 60,
      description:
        'One poll call; a poll that takes longer is retried on the same task, never read as a cancel. Default 60 s: a status request answers in well under a second, so only a hung connection reaches it.',
    }),
    RENDER_CACHE_TTL_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 90 * 24 * 3600,
      default: 168 * 3600,
      description:
        'How long an identical shot reuses a stored clip; 0 turns the cache off. Default one week: covers the revise-and-resubmit cycle of a campaign without keeping clips a vendor may since render better.',
    }),
    // Vendor credentials come from Secret Manager as environment variables; they are never logged.
    RUNWAY_API_KEY: Type.Optional(Type.String({ minLength: 8, description: 'Runway API key (Secret Manager).' })),
    RUNWAY_BASE_URL: Url('Runway API base URL (the vendor default otherwise).'),
    RUNWAY_MODEL: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "The runway pool's model when BACKEND_MODELS does not name runway (the older name; the planner does not read it, so prefer BACKEND_MODELS).",
      }),
    ),
    RUNWAY_POLL_INTERVAL_MS: PollMs,
    REPLICATE_API_TOKEN: Type.Optional(
      Type.String({ minLength: 8, description: 'Replicate API token (Secret Manager).' }),
    ),
    REPLICATE_BASE_URL: Url('Replicate API base URL.'),
    REPLICATE_MODEL: Type.Optional(
      Type.String({
        pattern: '^[\\w.-]+/[\\w.-]+$',
        description:
          "owner/name of the replicate pool's model when BACKEND_MODELS does not name replicate (the older name; the planner does not read it, so prefer BACKEND_MODELS).",
      }),
    ),
    REPLICATE_POLL_INTERVAL_MS: PollMs,
    VERTEX_LOCATION: Type.String({
      default: 'us-central1',
      description:
        "Vertex AI region of the Veo models (the veo pool only). Default us-central1: Veo is not served in every region Gemini is, and us-central1 has it; this is why it differs from the planner's and QA's VERTEX_LOCATION (Terraform: veo_location vs gemini_location).",
    }),
    VERTEX_BASE_URL: Url('Vertex AI base URL (tests point it at a fake).'),
    VERTEX_ACCESS_TOKEN: Type.Optional(
      Type.String({
        minLength: 8,
        description: 'A pre-issued OAuth token (e.g. for a developer run); Application Default Credentials otherwise.',
      }),
    ),
    VEO_MODEL: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "The veo pool's model when BACKEND_MODELS does not name veo (the older name; the planner does not read it, so prefer BACKEND_MODELS).",
      }),
    ),
    VEO_OUTPUT_GCS_PREFIX: Type.Optional(
      Type.String({
        pattern: '^gs://',
        description: 'Vertex writes clips straight into our bucket under this prefix.',
      }),
    ),
    VEO_POLL_INTERVAL_MS: PollMs,
  },
  [
    ...StorageEnvRules,
    oneOfList('RENDER_BACKEND', 'ENABLED_BACKENDS'),
    envRule(
      "BACKEND_MODELS names models of the vendor catalogue and agrees with the pool's own model variable",
      ['BACKEND_MODELS', 'RUNWAY_MODEL', 'VEO_MODEL', 'REPLICATE_MODEL'],
      (env) => {
        try {
          poolModels(env as Parameters<typeof poolModels>[0]);
          return undefined;
        } catch (error) {
          return (error as Error).message;
        }
      },
    ),
    requiresWhen('RENDER_BACKEND', 'runway', ['RUNWAY_API_KEY']),
    requiresWhen('RENDER_BACKEND', 'replicate', ['REPLICATE_API_TOKEN']),
    // Veo's clips are read back through the blob store, which reads only its own bucket.
    envRule(
      'VEO_OUTPUT_GCS_PREFIX lies in gs://STORAGE_BUCKET/ with STORAGE_KIND=gcs',
      ['VEO_OUTPUT_GCS_PREFIX', 'STORAGE_KIND', 'STORAGE_BUCKET'],
      (env) => {
        const prefix = env.VEO_OUTPUT_GCS_PREFIX;
        if (typeof prefix !== 'string') return undefined;
        const inBucket = env.STORAGE_KIND === 'gcs' && `${prefix}/`.startsWith(`gs://${String(env.STORAGE_BUCKET)}/`);
        return inBucket
          ? undefined
          : 'VEO_OUTPUT_GCS_PREFIX must lie in gs://STORAGE_BUCKET/ with STORAGE_KIND=gcs (the clips are read back from our bucket)';
      },
    ),
  ],
);
/** The older per-pool model variables, read for the pool's own backend only. */
const POOL_MODEL_VARIABLE = { runway: 'RUNWAY_MODEL', veo: 'VEO_MODEL', replicate: 'REPLICATE_MODEL' } as const;

/**
 * The model of every backend as this pool sees it: BACKEND_MODELS (shared with the planner), with
 * the pool's own RUNWAY_MODEL/VEO_MODEL/REPLICATE_MODEL read when BACKEND_MODELS does not name its
 * backend (older deployments set only that). Both naming different models is an error: the planner
 * reads only BACKEND_MODELS, and a pool running another model than the one planned for would
 * receive shots its model cannot make.
 */
export function poolModels(
  env: { RENDER_BACKEND: BackendName; BACKEND_MODELS?: string | undefined } & Partial<
    Record<(typeof POOL_MODEL_VARIABLE)[keyof typeof POOL_MODEL_VARIABLE], string | undefined>
  >,
): Readonly<Record<BackendName, string>> {
  const shared = parseBackendModels(env.BACKEND_MODELS);
  const backend = env.RENDER_BACKEND;
  const variable = backend === 'local' ? undefined : POOL_MODEL_VARIABLE[backend];
  const own = variable ? env[variable] : undefined;
  if (own !== undefined && shared[backend] !== undefined && shared[backend] !== own) {
    throw new Error(`${variable}=${own} disagrees with BACKEND_MODELS (${backend}=${shared[backend]})`);
  }
  return resolveModels({ ...shared, ...(own !== undefined ? { [backend]: own } : {}) });
}

export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(RenderEnv, env);
export type RenderEnvValues = ReturnType<typeof loadEnv>;
