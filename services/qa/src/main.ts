// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry } from '@aiprod/observability';
const telemetry = startTelemetry({ service: 'qa' });

import { blobStoreFromEnv, createCoreDeps, exitOnSignals, runWorkerService } from '@aiprod/service-runtime';
import { buildQa, qaSweep } from './app';
import { loadEnv } from './env';

async function main(): Promise<void> {
  const env = loadEnv();
  const log = createLogger({ service: 'qa', level: env.LOG_LEVEL, projectId: env.GCP_PROJECT });
  const deps = {
    ...createCoreDeps({ projectId: env.GCP_PROJECT, log }),
    storage: blobStoreFromEnv(env),
    maxAttempts: env.QA_MAX_ATTEMPTS,
  };
  const service = await runWorkerService({
    service: 'qa',
    deps,
    handlers: buildQa(deps),
    sweep: qaSweep(deps),
    sweepIntervalMs: env.SWEEP_INTERVAL_SECONDS * 1000,
    port: env.PORT,
    host: env.HOST,
    maxConcurrent: env.QA_CONCURRENCY,
    onClose: () => telemetry.shutdown(),
  });
  exitOnSignals(() => service.close(), log);
}

main().catch((error: unknown) => {
  process.stderr.write(`qa failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
