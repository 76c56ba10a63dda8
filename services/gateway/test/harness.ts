import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import { presetOf, type BackendName, type Brief, type TopicName } from '@aiprod/contracts';
import { AssetStore, PlanStore, TenantStore, WebhookStore, type ApiKeyScope, type JobStore } from '@aiprod/job-store';
import { planBackends, planLocally, primaryBackend } from '@aiprod/planning';
import { storedEstimate } from '@aiprod/vendor-catalogue';
import { createBlobStore, finalCutKey, type BlobStore } from '@aiprod/storage';
import { aClientBrief, emulatorProject, type EmulatorProject } from '@aiprod/testing';
import type { ResolveHost } from '@aiprod/webhooks';
import { buildGateway, type GatewayDeps } from '../src/app';
import { EventStreams } from '../src/routes/events';
import { reviewLinks } from '../src/review-links';

export interface Harness {
  app: ReturnType<typeof buildGateway>;
  /** What `app` was built with, for a test that needs the same gateway with another option. */
  deps: GatewayDeps;
  db: Firestore;
  jobs: JobStore;
  tenants: TenantStore;
  webhooks: WebhookStore;
  storage: BlobStore;
  streams: EventStreams;
  logLines: EmulatorProject<'gateway'>['logLines'];
  /** Keys of tenant A by scope set (approver: jobs:read and jobs:approve), and one of tenant B. */
  keys: { read: string; write: string; admin: string; readWrite: string; approver: string; other: string };
  tenantA: string;
  tenantB: string;
  /** Messages seen on a topic (through a test subscription of our own). */
  published: (topic: TopicName) => Record<string, unknown>[];
  close(): Promise<void>;
}

/** A gateway on the emulators with two tenants; public DNS answers are pinned for webhook tests. */
export async function startHarness(
  name: string,
  options: {
    streams?: EventStreams;
    deps?: (ctx: { db: Firestore; tenants: TenantStore; publisher: GatewayDeps['publisher'] }) => Partial<GatewayDeps>;
    wrapJobs?: (jobs: JobStore) => JobStore;
  } = {},
): Promise<Harness> {
  const env = emulatorProject(name, 'gateway');
  const { db, jobs, publisher, log, logLines: lines } = env;
  await env.provision();
  const published = await env.collect([
    'aiprod.job.requested.v1',
    'aiprod.job.approved.v1',
    'aiprod.job.finished.v1',
    'aiprod.plan.changes.requested.v1',
    'aiprod.estimate.requested.v1',
  ]);
  const dataDir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
  const signingKey = Buffer.alloc(32, 7);
  const storage = createBlobStore({
    kind: 'local',
    rootDir: dataDir,
    publicBaseUrl: 'https://127.0.0.1:8443',
    signingKey,
  });
  const tenants = new TenantStore(db);
  const webhooks = new WebhookStore(db);
  const streams = options.streams ?? new EventStreams({ maxStreams: 50, maxSeconds: 60, heartbeatMs: 15_000 });
  // example.com's documentation address stands in for a public host; internal.test for a private one.
  const resolveHost: ResolveHost = async (host) =>
    host === 'hooks.example.com' ? ['93.184.215.14'] : host === 'internal.example.com' ? ['10.0.0.7'] : [];
  const deps: GatewayDeps = {
    log,
    jobs: options.wrapJobs ? options.wrapJobs(jobs) : jobs,
    tenants,
    webhooks,
    plans: new PlanStore(db),
    assets: new AssetStore(db),
    publisher,
    storage,
    signingKey,
    outputUrlTtlSeconds: 3600,
    isReady: () => true,
    streams,
    resolveHost,
    reviewLinks: reviewLinks(Buffer.alloc(32, 9)),
    ...options.deps?.({ db, tenants, publisher }),
  };
  const app = buildGateway(deps);

  const tenantA = 'tenant-a';
  const tenantB = 'tenant-b';
  await tenants.createTenant({ tenantId: tenantA, name: 'A' });
  await tenants.createTenant({ tenantId: tenantB, name: 'B' });
  const key = async (tenantId: string, scopes: ApiKeyScope[]) =>
    (await tenants.createApiKey(tenantId, scopes, 'test')).key;
  const keys = {
    read: await key(tenantA, ['jobs:read']),
    write: await key(tenantA, ['jobs:write']),
    readWrite: await key(tenantA, ['jobs:read', 'jobs:write']),
    approver: await key(tenantA, ['jobs:read', 'jobs:approve']),
    admin: await key(tenantA, ['admin']),
    other: await key(tenantB, ['jobs:read', 'jobs:write', 'admin']),
  };

  return {
    app,
    deps,
    db,
    jobs,
    tenants,
    webhooks,
    storage,
    streams,
    logLines: lines,
    keys,
    tenantA,
    tenantB,
    published,
    async close() {
      streams.closeAll();
      // Background Firestore work of the last requests (token prefetches, recounts) first: a
      // read started after env.close() terminated the client is an unhandled rejection, which
      // jest pins on whichever suite the worker runs next.
      await app.close();
      await env.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** What a client sends through the API: a palette, a vertical cut, a call to action, metadata. */
export const BRIEF = aClientBrief();

/** A job moved along the legal path to `to`, with a stored output when it is DELIVERED. */
export async function jobIn(
  h: Harness,
  to: 'QUEUED' | 'AWAITING_APPROVAL' | 'RENDERING' | 'DELIVERED' | 'FAILED',
  tenantId = h.tenantA,
): Promise<string> {
  const jobId = `job_${to.toLowerCase()}_${Math.random().toString(36).slice(2, 10)}`;
  await h.jobs.createJob({ jobId, tenantId, brief: BRIEF as Brief, preset: 'social_quick' });
  if (to === 'QUEUED') return jobId;
  if (to === 'FAILED') {
    await h.jobs.fail(jobId, 'render_failed', 'test');
    return jobId;
  }
  await h.jobs.transition(jobId, 'QUEUED', 'PLANNING');
  if (to === 'AWAITING_APPROVAL') {
    await savePlan(h, jobId, BRIEF as Brief, 'social_quick', ['local']);
    return jobId;
  }
  await h.jobs.transition(jobId, 'PLANNING', 'RENDERING');
  if (to === 'RENDERING') return jobId;
  await h.jobs.transition(jobId, 'RENDERING', 'ASSEMBLING');
  const stored = await h.storage.putBytes(finalCutKey({ tenantId, jobId }, '9x16'), Buffer.from('mp4'));
  await h.jobs.transition(jobId, 'ASSEMBLING', 'DELIVERED', {
    patch: {
      outputs: [
        {
          variant: '9:16',
          uri: stored.uri,
          durationSeconds: 15,
          width: 1080,
          height: 1920,
          sizeBytes: stored.sizeBytes,
          sha256: stored.sha256,
        },
      ],
    },
  });
  return jobId;
}

/**
 * Stores the plan the planner would make (the local director, priced on `enabledBackends`) and
 * parks the job in AWAITING_APPROVAL, as the planner does for a job over the auto-approve limit.
 */
async function savePlan(
  h: Harness,
  jobId: string,
  brief: Brief,
  presetName: string,
  enabledBackends: BackendName[],
): Promise<void> {
  const preset = presetOf(presetName);
  const { backend } = primaryBackend(brief, preset, { enabledBackends });
  const planned = planBackends(planLocally(brief, { preset, backend }), {
    preset,
    enabledBackends,
    targetSeconds: brief.durationSeconds,
    ...(brief.budgetCapUsd !== undefined ? { budgetCapUsd: brief.budgetCapUsd } : {}),
  });
  const { plan, estimate } = planned;
  await h.jobs.savePlan(
    jobId,
    {
      director: plan.director,
      shotIds: plan.shots.map((s) => s.shotId),
      width: plan.width,
      height: plan.height,
      fps: plan.fps,
      endCardSeconds: plan.endCardSeconds,
      transition: plan.transition,
      estimatedCostUsd: estimate.totalUsd,
      estimate: storedEstimate(estimate),
      version: 1,
    },
    plan.shots.map((spec, i) => ({ spec, backend: planned.backends[i]! })),
    'AWAITING_APPROVAL',
  );
}

/** A job of `brief` planned on `enabledBackends` and waiting for approval at plan version 1. */
export async function plannedJob(
  h: Harness,
  options: { brief?: Brief; enabledBackends?: BackendName[]; tenantId?: string } = {},
): Promise<string> {
  const brief = options.brief ?? (BRIEF as Brief);
  const presetName = brief.preset ?? 'social_quick';
  const jobId = `job_planned_${Math.random().toString(36).slice(2, 10)}`;
  await h.jobs.createJob({ jobId, tenantId: options.tenantId ?? h.tenantA, brief, preset: presetName });
  await h.jobs.transition(jobId, 'QUEUED', 'PLANNING');
  await savePlan(h, jobId, brief, presetName, options.enabledBackends ?? ['local']);
  return jobId;
}

/** The app on a loopback port, for the tests that need a real socket (streams, raw requests). */
export async function serve(app: Harness['app']): Promise<{ base: string; close(): Promise<void> }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
