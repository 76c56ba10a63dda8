// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry } from '@aiprod/observability';
const telemetry = startTelemetry({ service: 'render' });

import { tmpdir } from 'node:os';
import { blobStoreFromEnv, createCoreDeps, exitOnSignals, runWorkerService } from '@aiprod/service-runtime';
import { buildRender, supportedBackends } from './app';
import { localBackend } from './backends/local';
import { loadEnv } from './env';

async function main(): Promise<void> {
  const env = loadEnv();
  if (!supportedBackends.includes(env.RENDER_BACKEND)) {
    throw new Error(
      `RENDER_BACKEND=${env.RENDER_BACKEND} is not implemented yet (supported: ${supportedBackends.join(', ')})`,
    );
  }
  const log = createLogger({
    service: `render-${env.RENDER_BACKEND}`,
    level: env.LOG_LEVEL,
    projectId: env.GCP_PROJECT,
  });
  const core = createCoreDeps({ projectId: env.GCP_PROJECT, log });
  const deps = {
    ...core,
    storage: blobStoreFromEnv(env),
    backend: localBackend({ timeoutMs: env.RENDER_TIMEOUT_SECONDS * 1000 }),
    workDir: env.WORK_DIR ?? tmpdir(),
  };
  const service = await runWorkerService({
    service: 'render',
    backend: env.RENDER_BACKEND,
    deps,
    handlers: buildRender(deps),
    port: env.PORT,
    host: env.HOST,
    maxConcurrent: env.RENDER_CONCURRENCY,
    onClose: () => telemetry.shutdown(),
  });
  exitOnSignals(() => service.close(), log);
}

main().catch((error: unknown) => {
  process.stderr.write(`render failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
