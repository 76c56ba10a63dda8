// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry, type TelemetryHandle } from '@aiprod/observability';
const telemetry = startTelemetry({ service: 'gateway' });

import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  AssetStore,
  AuditTrail,
  EstimateStore,
  IdempotencyStore,
  PlanStore,
  TenantStore,
  WebhookStore,
} from '@aiprod/job-store';
import { blobStoreFromEnv, createCoreDeps, decodeSigningKey, exitOnSignals } from '@aiprod/service-runtime';
import { buildGateway } from './app';
import { authFailureLimit } from './auth-failure-limit';
import { idempotent } from './idempotency';
import { reviewLinks } from './review-links';
import { createOidcVerifier } from './oidc';
import { enforceEstimateQuotas, enforceJobQuotas, EstimateQuotas, JobQuotas } from './quotas';
import { tenantRateLimit } from './rate-limit';
import { EventStreams, SSE_HEARTBEAT_MS } from './routes/events';
import { loadEnv } from './env';

/** A client gets this long to send its request headers (slow-loris bound). */
const HEADERS_TIMEOUT_MS = 20_000;
/** A whole request, body included (a brief is small); event streams are responses, not bounded by it. */
const REQUEST_TIMEOUT_MS = 60_000;
const HOUR_MS = 3_600_000;

async function main(): Promise<void> {
  const env = loadEnv();
  const log = createLogger({ service: 'gateway', level: env.LOG_LEVEL, projectId: env.GCP_PROJECT });
  const core = createCoreDeps('gateway', { projectId: env.GCP_PROJECT, log, stateDeadlines: env.STATE_DEADLINES });
  let ready = false;
  const signingKey = env.STORAGE_SIGNING_KEY ? decodeSigningKey(env.STORAGE_SIGNING_KEY) : undefined;
  const streams = new EventStreams({
    maxStreams: env.SSE_MAX_STREAMS,
    maxSeconds: env.SSE_MAX_SECONDS,
    heartbeatMs: SSE_HEARTBEAT_MS,
  });
  const tenants = new TenantStore(core.db);
  // env.ts has checked that the three OIDC settings come together.
  const oidc =
    env.OIDC_ISSUER && env.OIDC_AUDIENCE && env.OIDC_JWKS_URL
      ? createOidcVerifier({
          issuer: env.OIDC_ISSUER,
          audience: env.OIDC_AUDIENCE,
          jwksUrl: env.OIDC_JWKS_URL,
          algorithms: env.OIDC_ALGORITHMS,
          clockToleranceSeconds: env.OIDC_CLOCK_TOLERANCE_SECONDS,
          tenantClaim: env.OIDC_TENANT_CLAIM,
          scopeClaim: env.OIDC_SCOPE_CLAIM,
        })
      : undefined;
  const app = buildGateway({
    enabledBackends: env.ENABLED_BACKENDS,
    ...core,
    tenants,
    apiKeyCacheMs: env.API_KEY_CACHE_SECONDS * 1000,
    ...(oidc ? { oidc } : {}),
    authFailureLimit: authFailureLimit({ limit: env.AUTH_FAILURES_PER_MINUTE }),
    trustProxyHops: env.TRUST_PROXY_HOPS,
    rateLimit: tenantRateLimit({
      db: core.db,
      tenants,
      defaultRequestsPerMinute: env.RATE_LIMIT_REQUESTS_PER_MINUTE,
      log,
    }),
    idempotency: idempotent(new IdempotencyStore(core.db, { ttlMs: env.IDEMPOTENCY_TTL_HOURS * HOUR_MS }), { log }),
    jobQuotas: enforceJobQuotas(
      new JobQuotas({
        db: core.db,
        defaults: {
          maxConcurrentJobs: env.QUOTA_MAX_CONCURRENT_JOBS,
          maxJobsPerDay: env.QUOTA_MAX_JOBS_PER_DAY,
          monthlySpendCapUsd: env.QUOTA_MONTHLY_SPEND_CAP_USD ?? null,
        },
      }),
    ),
    estimateQuotas: enforceEstimateQuotas(
      new EstimateQuotas({ db: core.db, defaults: { maxEstimatesPerDay: env.QUOTA_MAX_ESTIMATES_PER_DAY } }),
    ),
    webhooks: new WebhookStore(core.db),
    plans: new PlanStore(core.db),
    estimates: new EstimateStore(core.db),
    estimateWaitMs: env.ESTIMATE_WAIT_MS,
    translator: env.PLANNER_TRANSLATOR !== 'none',
    speechEngine: env.SPEECH_ENGINE,
    storage: blobStoreFromEnv(env),
    assets: new AssetStore(core.db),
    // Written after the responses, a second's worth at a time; app.close() writes the rest.
    audit: new AuditTrail(core.db, { onProblem: (message, fields) => log.warn(message, fields) }),
    ...(signingKey ? { signingKey } : {}),
    outputUrlTtlSeconds: env.OUTPUT_URL_TTL_SECONDS,
    isReady: () => ready,
    streams,
    corsAllowedOrigins: env.CORS_ALLOWED_ORIGINS ?? [],
    allowLoopbackHttp: env.ALLOW_LOOPBACK_HTTP,
    webhookSecretOverlapSeconds: env.WEBHOOK_SECRET_OVERLAP_SECONDS,
    ...(env.REVIEW_LINK_SECRET ? { reviewLinks: reviewLinks(decodeSigningKey(env.REVIEW_LINK_SECRET)) } : {}),
    ...(env.PUBLIC_BASE_URL ? { publicBaseUrl: env.PUBLIC_BASE_URL } : {}),
  });
  const tls = env.TLS_CERT_FILE && env.TLS_KEY_FILE;
  const server = tls
    ? createHttpsServer({ cert: readFileSync(env.TLS_CERT_FILE!), key: readFileSync(env.TLS_KEY_FILE!) }, app)
    : createHttpServer(app);
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve) => server.listen(env.PORT, env.HOST, resolve));
  const metricsServer = env.METRICS_PORT ? await serveMetricsOnLoopback(env.METRICS_PORT, telemetry) : undefined;
  ready = true;
  log.info('gateway started', { port: env.PORT, tls: Boolean(tls) });
  exitOnSignals(async () => {
    // Graceful: /readyz turns 503 so the load balancer stops sending, the listener stops accepting,
    // idle keep-alive connections are dropped, SSE streams are ended (clients resume elsewhere with
    // Last-Event-ID), and in-flight requests finish before the clients are closed. Then the
    // work requests left running (token leases, recounts, key writes) ends before Firestore does:
    // a read started after terminate() is an unhandled rejection in the Firestore client.
    ready = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    metricsServer?.close();
    server.closeIdleConnections();
    streams.closeAll();
    await closed;
    await app.close();
    await core.publisher.close();
    await Promise.allSettled([core.pubsub.close(), core.db.terminate(), telemetry.shutdown()]);
  }, log);
}

/** Metrics for a local Prometheus: a second listener bound to 127.0.0.1, serving /metrics only. */
function serveMetricsOnLoopback(port: number, telemetry: TelemetryHandle): Promise<Server> {
  const metricsServer = createHttpServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === '/metrics' && req.method === 'GET') telemetry.metricsHandler(req, res);
    else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    metricsServer.once('error', reject);
    metricsServer.listen(port, '127.0.0.1', () => resolve(metricsServer));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
