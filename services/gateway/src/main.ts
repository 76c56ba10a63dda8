// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry } from '@aiprod/observability';
const telemetry = startTelemetry({ service: 'gateway' });

import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { TenantStore } from '@aiprod/job-store';
import { blobStoreFromEnv, createCoreDeps, decodeSigningKey, exitOnSignals } from '@aiprod/service-runtime';
import { buildGateway } from './app';
import { loadEnv } from './env';

async function main(): Promise<void> {
  const env = loadEnv();
  const log = createLogger({ service: 'gateway', level: env.LOG_LEVEL, projectId: env.GCP_PROJECT });
  const core = createCoreDeps({ projectId: env.GCP_PROJECT, log });
  let ready = false;
  const signingKey = env.STORAGE_SIGNING_KEY ? decodeSigningKey(env.STORAGE_SIGNING_KEY) : undefined;
  const app = buildGateway({
    ...core,
    tenants: new TenantStore(core.db),
    storage: blobStoreFromEnv(env),
    ...(signingKey ? { signingKey } : {}),
    outputUrlTtlSeconds: env.OUTPUT_URL_TTL_SECONDS,
    isReady: () => ready,
  });
  const tls = env.TLS_CERT_FILE && env.TLS_KEY_FILE;
  const server = tls
    ? createHttpsServer({ cert: readFileSync(env.TLS_CERT_FILE!), key: readFileSync(env.TLS_KEY_FILE!) }, app)
    : createHttpServer(app);
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(env.PORT, env.HOST, resolve));
  ready = true;
  log.info('gateway started', { port: env.PORT, tls: Boolean(tls) });
  exitOnSignals(async () => {
    ready = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await core.publisher.close();
    await Promise.allSettled([core.pubsub.close(), core.db.terminate(), telemetry.shutdown()]);
  }, log);
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
