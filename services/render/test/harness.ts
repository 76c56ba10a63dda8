import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_FALLBACK_POLICY,
  renderTopicFor,
  type BackendName,
  type Brief,
  type FallbackPolicy,
  type RenderRequest,
  type ShotSpec,
  type TopicName,
} from '@aiprod/contracts';
import { MessageLedger, RenderCache, ShotAttempts, recordSpend } from '@aiprod/job-store';
import { attemptCost, resolutionFor } from '@aiprod/vendor-catalogue';
import { Publisher } from '@aiprod/pubsub';
import { createBlobStore } from '@aiprod/storage';
import { aBrief, aShotSpec, emulatorProject } from '@aiprod/testing';
import type { RenderDeps } from '../src/app';
import type { VideoBackend } from '../src/backends/backend';
import { renderRequestHandler } from '../src/handlers/render-request';
import { backendBreaker } from '../src/steps/policy';

/** The render pool's real dependencies on the emulators, with a backend of the test's choosing. */
export function renderHarness(name: string) {
  const env = emulatorProject(name, 'render');
  const { db, pubsub, jobs } = env;
  const memory = { lines: env.logLines, log: env.log };
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-render-'));
  const storage = createBlobStore({
    kind: 'local',
    rootDir: join(dir, 'store'),
    publicBaseUrl: 'https://127.0.0.1:1',
    signingKey: randomBytes(32),
  });
  const topics: TopicName[] = [
    ...(['local', 'runway', 'veo', 'replicate'] as const).map(renderTopicFor),
    'aiprod.shot.rendered.v1',
    'aiprod.job.finished.v1',
  ];
  /** What was published on each of `topics`, by topic name, filled in as messages arrive. */
  const published: Record<string, Record<string, unknown>[]> = {};
  const spend: { tenantId: string; usd: number }[] = [];

  async function setUp(): Promise<void> {
    await env.provision();
    const seen = await env.collect(topics);
    for (const topic of topics) published[topic] = seen(topic);
  }

  async function tearDown(): Promise<void> {
    await env.close();
    rmSync(dir, { recursive: true, force: true });
  }

  function deps(
    backend: VideoBackend,
    options: {
      policy?: FallbackPolicy;
      shutdown?: AbortSignal;
      cacheTtlSeconds?: number;
      deployedBackends?: BackendName[];
      workerId?: string;
      leaseMs?: number;
      timeouts?: Partial<RenderDeps['timeouts']>;
      capacity?: RenderDeps['capacity'];
      models?: RenderDeps['models'];
    } = {},
  ): RenderDeps {
    const policy = options.policy ?? DEFAULT_FALLBACK_POLICY;
    const leaseMs = options.leaseMs ?? 4_000;
    return {
      deployedBackends: options.deployedBackends ?? ['local', 'runway', 'veo', 'replicate'],
      attempts: new ShotAttempts(jobs),
      workerId: options.workerId ?? `test-${randomBytes(3).toString('hex')}`,
      lease: { ttlMs: leaseMs, renewMs: leaseMs / 4 },
      timeouts: { submitMs: 10_000, pollMs: 5_000, fetchMs: 30_000, jobCheckMs: 200, ...options.timeouts },
      cacheTtlSeconds: options.cacheTtlSeconds ?? 3600,
      log: memory.log,
      db,
      pubsub,
      jobs,
      ledger: new MessageLedger(db, jobs),
      publisher: new Publisher(pubsub, 'render'),
      storage,
      backend,
      policy,
      breaker: backendBreaker(policy.backends[backend.name]),
      cache: new RenderCache(db),
      price: (b, model, spec, usage) =>
        attemptCost(b, model, {
          outputSeconds: usage.outputSeconds,
          resolution: resolutionFor(b, spec.width, spec.height, model),
          audio: false,
          ...(usage.predictSeconds !== undefined ? { predictSeconds: usage.predictSeconds } : {}),
        }),
      recordSpend: async (tenantId, usd, entryId) => {
        const { recorded } = await recordSpend(db, tenantId, usd, new Date(), { entryId });
        if (recorded) spend.push({ tenantId, usd });
      },
      ...(options.capacity ? { capacity: options.capacity } : {}),
      ...(options.models ? { models: options.models } : {}),
      workDir: dir,
      shutdown: options.shutdown ?? new AbortController().signal,
    };
  }

  /**
   * A planned job with PENDING shots on `backend` (one unless `options.shots` says more: s01,
   * s02, … with the same spec), as the planner leaves it; `options.budgetCapUsd` goes in the brief;
   * `options.status` AWAITING_APPROVAL parks it for its client's approval instead of RENDERING.
   */
  async function plannedJob(
    backend: BackendName,
    spec: Partial<ShotSpec> = {},
    preset = 'brand_campaign',
    options: { shots?: number; budgetCapUsd?: number; status?: 'RENDERING' | 'AWAITING_APPROVAL' } = {},
  ) {
    const jobId = `job_${randomBytes(6).toString('hex')}`;
    const brief = aBrief({
      durationSeconds: 6,
      preset: preset as Brief['preset'],
      ...(options.budgetCapUsd !== undefined ? { budgetCapUsd: options.budgetCapUsd } : {}),
    });
    await jobs.createJob({ jobId, tenantId: 't1', brief, preset });
    await jobs.transition(jobId, 'QUEUED', 'PLANNING');
    const base = aShotSpec({ durationSeconds: 6, onScreenText: 'Meet Aurora', seed: 7, ...spec });
    const shots: ShotSpec[] = Array.from({ length: options.shots ?? 1 }, (_, i) =>
      i === 0 ? base : { ...base, shotId: `s${String(i + 1).padStart(2, '0')}`, index: i },
    );
    await jobs.savePlan(
      jobId,
      {
        director: 'test',
        shotIds: shots.map((s) => s.shotId),
        width: 1280,
        height: 720,
        fps: 30,
        endCardSeconds: 0,
        estimatedCostUsd: 0,
      },
      shots.map((s) => ({ spec: s, backend })),
      options.status ?? 'RENDERING',
    );
    const msgs: RenderRequest[] = shots.map((s) => ({
      v: 1,
      jobId,
      tenantId: 't1',
      shotId: s.shotId,
      attempt: 1,
      spec: s,
    }));
    return { jobId, msg: msgs[0]!, msgs };
  }

  /** One delivery of `msg`; a redelivery of the same Pub/Sub message passes the same `messageId`. */
  const handle = (d: RenderDeps, msg: RenderRequest, messageId = randomBytes(4).toString('hex')) =>
    renderRequestHandler(d).handle(msg, {
      topic: renderTopicFor(d.backend.name),
      subscription: 'test',
      messageId,
      deliveryAttempt: 1,
      publishTime: new Date(),
      log: memory.log,
    });

  return { db, jobs, storage, published, spend, memory, setUp, tearDown, deps, plannedJob, handle };
}
