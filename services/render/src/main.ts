// Telemetry first, so everything loaded after it can be traced.
import { createLogger, startTelemetry } from '@aiprod/observability';
// One name per pool (render-local, render-runway…), as Cloud Run names the workloads; the
// variable is read raw here because env.ts loads after telemetry (it is validated there).
const telemetry = startTelemetry({ service: `render-${process.env.RENDER_BACKEND ?? 'unknown'}` });

import { randomBytes } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { parseFallbackPolicy } from '@aiprod/contracts';
import {
  CapacityBoard,
  CapacityReporter,
  RenderCache,
  ShotAttempts,
  TenantStore,
  recordSpend,
} from '@aiprod/job-store';
import { blobStoreFromEnv, createCoreDeps, exitOnSignals, runWorkerService } from '@aiprod/service-runtime';
import { attemptCost, modelCapability, resolutionFor } from '@aiprod/vendor-catalogue';
import { buildRender, buildRenderSweep, type RenderDeps } from './app';
import { createBackend } from './backends';
import { loadEnv, poolModels } from './env';
import { initRenderSeries, reportBreakerState, reportSpendAgainstCap, timedBackend } from './render-metrics';
import { backendBreaker } from './steps/policy';

/** One vendor create call: the vendors answer within seconds; beyond this the answer is treated as lost. */
const VENDOR_SUBMIT_TIMEOUT_MS = 120_000;
/** Downloading a finished clip (up to a few hundred MB from a vendor's CDN or our bucket). */
const CLIP_FETCH_TIMEOUT_MS = 300_000;
/** How often a long poll re-reads the job, so a cancel or a failure stops its vendor task quickly. */
const JOB_CHECK_INTERVAL_MS = 5_000;

function leaseMinutes(p: RenderDeps['policy']['backends']['local']): number {
  const seconds = p.attemptsHere * (p.attemptTimeoutSeconds + p.backoff.maxMs / 1000);
  return Math.ceil(seconds / 60) + 5;
}

async function main(): Promise<void> {
  const env = loadEnv();
  const policy = parseFallbackPolicy(env.RENDER_FALLBACK_POLICY);
  const log = createLogger({
    service: `render-${env.RENDER_BACKEND}`,
    level: env.LOG_LEVEL,
    projectId: env.GCP_PROJECT,
  });
  const core = createCoreDeps('render', { projectId: env.GCP_PROJECT, log, stateDeadlines: env.STATE_DEADLINES });
  const storage = blobStoreFromEnv(env);
  const backend = timedBackend(createBackend(env, storage));
  // A model the catalogue does not know has no known limits or price: stop here, not at the first bill.
  const capability = modelCapability(backend.name, backend.model);
  const tenants = new TenantStore(core.db);
  const breaker = backendBreaker(policy.backends[backend.name]);
  reportBreakerState(breaker, backend.name);
  initRenderSeries(backend.name, env.ENABLED_BACKENDS);
  const shutdown = new AbortController();
  const leaseMs = env.RENDER_LEASE_SECONDS * 1000;
  const workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const maxConcurrent = env.RENDER_CONCURRENCY ?? policy.backends[backend.name].maxConcurrent;
  // Advisory: a failed board write is logged and never fails a render.
  const reporter = new CapacityReporter(core.db, {
    backend: backend.name,
    model: backend.model,
    workerId,
    limit: maxConcurrent,
    ...(capability.concurrency.limit !== undefined ? { vendorLimit: capability.concurrency.limit } : {}),
    onError: (error) => log.warn('capacity board write failed', { error }),
  });
  const deps: RenderDeps = {
    ...core,
    storage,
    backend,
    policy,
    deployedBackends: env.ENABLED_BACKENDS,
    models: poolModels(env),
    attempts: new ShotAttempts(core.jobs),
    workerId,
    lease: { ttlMs: leaseMs, renewMs: leaseMs / 4 },
    timeouts: {
      submitMs: VENDOR_SUBMIT_TIMEOUT_MS,
      pollMs: env.RENDER_POLL_TIMEOUT_SECONDS * 1000,
      fetchMs: CLIP_FETCH_TIMEOUT_MS,
      jobCheckMs: JOB_CHECK_INTERVAL_MS,
    },
    breaker,
    cache: new RenderCache(core.db),
    cacheTtlSeconds: env.RENDER_CACHE_TTL_SECONDS,
    price: (name, model, spec, usage) =>
      attemptCost(name, model, {
        outputSeconds: usage.outputSeconds,
        resolution: resolutionFor(name, spec.width, spec.height, model),
        audio: spec.audio === true,
        ...(usage.predictSeconds !== undefined ? { predictSeconds: usage.predictSeconds } : {}),
      }),
    recordSpend: async (tenantId, usd, entryId) => {
      const { recorded } = await recordSpend(core.db, tenantId, usd, new Date(), { entryId });
      if (recorded) await reportSpendAgainstCap(core.db, tenants, tenantId, log);
    },
    capacity: { board: new CapacityBoard(core.db), reporter },
    workDir: env.WORK_DIR ?? tmpdir(),
    shutdown: shutdown.signal,
  };
  const sweep = buildRenderSweep(deps);
  const service = await runWorkerService({
    service: 'render',
    metricsHandler: telemetry.metricsHandler,
    backend: env.RENDER_BACKEND,
    deps,
    handlers: buildRender(deps),
    port: env.PORT,
    host: env.HOST,
    maxConcurrent,
    // Every try here may run to the attempt timeout, with backoffs between: keep the lease that long.
    maxLeaseMinutes: leaseMinutes(policy.backends[backend.name]),
    // ...but in short extensions, so a killed worker's message is redelivered within the attempt lease.
    maxAckExtensionSeconds: Math.max(10, env.RENDER_LEASE_SECONDS),
    deadLetterSuperseded: sweep.deadLetterSuperseded,
    onClose: async () => {
      await staleSweep.stop();
      await reporter.stop();
      await telemetry.shutdown();
    },
  });
  const staleSweep = sweep.start();
  reporter.start();
  log.info('render pool ready', { backend: backend.name, model: backend.model });
  exitOnSignals(async () => {
    // Stop polling first: in-flight requests are re-published with their task ids stored, then acked.
    shutdown.abort();
    await service.close();
  }, log);
}

main().catch((error: unknown) => {
  process.stderr.write(`render failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
