// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry } from '@aiprod/observability';
const telemetry = startTelemetry({ service: 'planner' });

import { TenantStore } from '@aiprod/job-store';
import { createCoreDeps, exitOnSignals, runWorkerService } from '@aiprod/service-runtime';
import { buildPlanner, plannerSweep } from './app';
import { loadEnv } from './env';

async function main(): Promise<void> {
  const env = loadEnv();
  const log = createLogger({ service: 'planner', level: env.LOG_LEVEL, projectId: env.GCP_PROJECT });
  const core = createCoreDeps({ projectId: env.GCP_PROJECT, log });
  const deps = { ...core, tenants: new TenantStore(core.db) };
  const service = await runWorkerService({
    service: 'planner',
    deps,
    handlers: buildPlanner(deps),
    sweep: plannerSweep(deps),
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
