// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry } from '@aiprod/observability';
const telemetry = startTelemetry({ service: 'planner' });

import { parseFallbackPolicy } from '@aiprod/contracts';
import { AssetStore, CapacityBoard, DirectorPlanCache, EstimateStore, PlanStore, TenantStore } from '@aiprod/job-store';
import {
  createGeminiDirector,
  createGeminiTranslator,
  localDirector,
  type CreativeDirector,
  type Translator,
} from '@aiprod/planning';
import { parseBackendModels } from '@aiprod/vendor-catalogue';
import { blobStoreFromEnv, createCoreDeps, exitOnSignals, runWorkerService } from '@aiprod/service-runtime';
import { buildPlanner, planLetterSuperseded, plannerSweep } from './app';
import { speechEngineFromEnv } from '@aiprod/speech';
import { loadEnv, type PlannerEnv } from './env';

/** One Vertex configuration per planner: the director and the translator use the same model, endpoint and bounds. */
const geminiOptions = (env: PlannerEnv) => ({
  project: env.GCP_PROJECT,
  location: env.VERTEX_LOCATION,
  model: env.GEMINI_MODEL,
  timeoutMs: env.PLANNER_GEMINI_TIMEOUT_SECONDS * 1000,
  maxAttempts: env.PLANNER_GEMINI_ATTEMPTS,
  ...(env.VERTEX_BASE_URL ? { baseUrl: env.VERTEX_BASE_URL } : {}),
});

function directorFromEnv(env: PlannerEnv): CreativeDirector {
  return env.PLANNER_DIRECTOR === 'local' ? localDirector : createGeminiDirector(geminiOptions(env));
}

function translatorFromEnv(env: PlannerEnv): Translator | undefined {
  return env.PLANNER_TRANSLATOR === 'none' ? undefined : createGeminiTranslator(geminiOptions(env));
}

async function main(): Promise<void> {
  const env = loadEnv();
  const log = createLogger({ service: 'planner', level: env.LOG_LEVEL, projectId: env.GCP_PROJECT });
  const core = createCoreDeps('planner', { projectId: env.GCP_PROJECT, log, stateDeadlines: env.STATE_DEADLINES });
  const translator = translatorFromEnv(env);
  const deps = {
    ...core,
    tenants: new TenantStore(core.db),
    plans: new PlanStore(core.db),
    storage: blobStoreFromEnv(env),
    assets: new AssetStore(core.db),
    allowLoopbackHttp: env.ALLOW_LOOPBACK_HTTP,
    referenceFetchTimeoutMs: env.REFERENCE_FETCH_TIMEOUT_SECONDS * 1000,
    director: directorFromEnv(env),
    directorPlans: new DirectorPlanCache(core.db),
    estimates: new EstimateStore(core.db),
    fallbackToLocal: env.PLANNER_FALLBACK_TO_LOCAL,
    enabledBackends: env.ENABLED_BACKENDS,
    // Checked against the vendor catalogue by loadEnv; the render pools read the same value.
    models: parseBackendModels(env.BACKEND_MODELS),
    // Invalid JSON or an invalid policy stops the planner at start-up, as it stops a render pool.
    fallbackPolicy: parseFallbackPolicy(env.RENDER_FALLBACK_POLICY),
    ...(env.PLANNER_PREFER_BACKENDS_WITH_ROOM ? { capacityBoard: new CapacityBoard(core.db) } : {}),
    ...(translator ? { translator } : {}),
    // The engine delivery speaks with: each line is measured against its shot before any spend.
    speech: speechEngineFromEnv(env),
  };
  log.info('planner configured', {
    director: deps.director.name,
    translator: translator?.name ?? 'none',
    fallbackToLocal: deps.fallbackToLocal,
    backends: deps.enabledBackends,
    models: deps.models,
  });
  const service = await runWorkerService({
    service: 'planner',
    metricsHandler: telemetry.metricsHandler,
    deps,
    handlers: buildPlanner(deps),
    sweep: plannerSweep(deps),
    // A dead-lettered change request drops the request, not the job.
    deadLetterSuperseded: (letter) => planLetterSuperseded(deps, letter),
    sweepIntervalMs: env.SWEEP_INTERVAL_SECONDS * 1000,
    port: env.PORT,
    host: env.HOST,
    onClose: () => telemetry.shutdown(),
  });
  exitOnSignals(() => service.close(), log);
}

main().catch((error: unknown) => {
  process.stderr.write(`planner failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
