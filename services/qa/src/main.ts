// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry } from '@aiprod/observability';
const telemetry = startTelemetry({ service: 'qa' });

import { tmpdir } from 'node:os';
import { ShotAttempts } from '@aiprod/job-store';
import { createGeminiJudge, createLocalJudge, type SemanticJudge } from '@aiprod/clip-checks';
import { blobStoreFromEnv, createCoreDeps, exitOnSignals, runWorkerService } from '@aiprod/service-runtime';
import { buildQa, qaSweep } from './app';
import { loadEnv, type QaEnv } from './env';

/** The configured semantic judge; 'none' is reported on every shot as skipped, never scored. */
async function judgeFromEnv(env: QaEnv): Promise<SemanticJudge | null> {
  if (env.QA_JUDGE === 'none') return null;
  if (env.QA_JUDGE === 'local') return createLocalJudge();
  return createGeminiJudge({
    project: env.GCP_PROJECT,
    location: env.VERTEX_LOCATION,
    model: env.GEMINI_MODEL,
    ...(env.VERTEX_BASE_URL ? { baseUrl: env.VERTEX_BASE_URL } : {}),
  });
}

async function main(): Promise<void> {
  const env = loadEnv();
  const log = createLogger({ service: 'qa', level: env.LOG_LEVEL, projectId: env.GCP_PROJECT });
  const judge = await judgeFromEnv(env);
  const core = createCoreDeps('qa', { projectId: env.GCP_PROJECT, log, stateDeadlines: env.STATE_DEADLINES });
  const deps = {
    ...core,
    attempts: new ShotAttempts(core.jobs),
    storage: blobStoreFromEnv(env),
    judge,
    workDir: env.WORK_DIR ?? tmpdir(),
    timeoutMs: env.QA_TIMEOUT_SECONDS * 1000,
  };
  const service = await runWorkerService({
    service: 'qa',
    metricsHandler: telemetry.metricsHandler,
    deps,
    handlers: buildQa(deps),
    port: env.PORT,
    host: env.HOST,
    maxConcurrent: env.QA_CONCURRENCY,
    sweep: qaSweep(deps),
    sweepIntervalMs: env.SWEEP_INTERVAL_SECONDS * 1000,
    onClose: async () => {
      await judge?.close();
      await telemetry.shutdown();
    },
  });
  exitOnSignals(() => service.close(), log);
}

main().catch((error: unknown) => {
  process.stderr.write(`qa failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
