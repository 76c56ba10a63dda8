// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry } from '@aiprod/observability';
const telemetry = startTelemetry({ service: 'delivery' });

import { tmpdir } from 'node:os';
import {
  blobStoreFromEnv,
  createCoreDeps,
  exitOnSignals,
  runWorkerService,
  startRetentionSweeper,
} from '@aiprod/service-runtime';
import { PreviewStore, TenantStore, WebhookStore } from '@aiprod/job-store';
import { buildDelivery, deliveryLetterSuperseded, deliverySweep } from './app';
import { startWebhookDispatcher } from './webhook-dispatcher';
import { loadEnv } from './env';
import { speechEngineFromEnv } from '@aiprod/speech';

async function main(): Promise<void> {
  const env = loadEnv();
  const log = createLogger({ service: 'delivery', level: env.LOG_LEVEL, projectId: env.GCP_PROJECT });
  const core = createCoreDeps('delivery', { projectId: env.GCP_PROJECT, log, stateDeadlines: env.STATE_DEADLINES });
  const deps = {
    ...core,
    webhooks: new WebhookStore(core.db),
    allowLoopbackHttp: env.ALLOW_LOOPBACK_HTTP,
    timeoutMs: env.WEBHOOK_TIMEOUT_SECONDS * 1000,
    scheduleScale: 1,
    storage: blobStoreFromEnv(env),
    previews: new PreviewStore(core.db),
    workDir: env.WORK_DIR ?? tmpdir(),
    assemblyTimeoutMs: env.ASSEMBLY_TIMEOUT_SECONDS * 1000,
    logoFetchTimeoutMs: env.LOGO_FETCH_TIMEOUT_SECONDS * 1000,
    speech: speechEngineFromEnv(env),
  };
  const dispatcher = startWebhookDispatcher(deps, env.WEBHOOK_POLL_SECONDS * 1000);
  // Delivery writes the outputs, so it also deletes them when the tenant's retention runs out.
  const retention = startRetentionSweeper(
    { db: core.db, storage: deps.storage, tenants: new TenantStore(core.db), log, now: () => new Date() },
    env.RETENTION_SWEEP_INTERVAL_SECONDS * 1000,
  );
  const service = await runWorkerService({
    service: 'delivery',
    metricsHandler: telemetry.metricsHandler,
    deps,
    handlers: buildDelivery(deps),
    sweep: deliverySweep(deps),
    deadLetterSuperseded: (letter) => deliveryLetterSuperseded(deps, letter),
    sweepIntervalMs: env.SWEEP_INTERVAL_SECONDS * 1000,
    port: env.PORT,
    host: env.HOST,
    onClose: async () => {
      await Promise.all([dispatcher.stop(), retention.stop()]);
      await telemetry.shutdown();
    },
  });
  exitOnSignals(() => service.close(), log);
}

main().catch((error: unknown) => {
  process.stderr.write(`delivery failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
