import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import {
  DEFAULT_FALLBACK_POLICY,
  renderTopicFor,
  type BackendName,
  type Brief,
  type FallbackPolicy,
  type RenderRequest,
  type ShotSpec,
} from '@aiprod/contracts';
import { createFirestore, JobStore, MessageLedger, RenderCache, ShotAttempts, recordSpend } from '@aiprod/job-store';
import { attemptCost, resolutionFor } from '@aiprod/planning';
import { provisionCatalogue, Publisher } from '@aiprod/pubsub';
import { createBlobStore } from '@aiprod/storage';
import { memoryLog, uniqueProjectId } from '@aiprod/testing';
import type { RenderDeps } from '../src/app';
import type { VideoBackend } from '../src/backends/backend';
import { renderRequestHandler } from '../src/handlers/render-request';
import { backendBreaker } from '../src/steps/policy';

/** The render pool's real dependencies on the emulators, with a backend of the test's choosing. */
export function renderHarness(name: string) {
  const projectId = uniqueProjectId(name);
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-render-'));
  const db = createFirestore(projectId);
  const pubsub = new PubSub({ projectId });
  const jobs = new JobStore(db);
  const memory = memoryLog();
  const storage = createBlobStore({
    kind: 'local',
    rootDir: join(dir, 'store'),
    publicBaseUrl: 'https://127.0.0.1:1',
    signingKey: randomBytes(32),
  });
  const published: Record<string, Record<string, unknown>[]> = {};
  const subscriptions: Subscription[] = [];
  const spend: { tenantId: string; usd: number }[] = [];

  async function setUp(): Promise<void> {
    await provisionCatalogue(pubsub);
    const topics = [
      ...(['local', 'runway', 'veo', 'replicate'] as const).map(renderTopicFor),
      'aiprod.shot.rendered.v1',
      'aiprod.job.finished.v1',
    ];
    for (const topic of topics) {
      published[topic] = [];
      const [sub] = await pubsub.topic(topic).createSubscription(`${topic}.render-test`);
      sub.on('message', (m: Message) => {
        published[topic]!.push(JSON.parse(m.data.toString()) as Record<string, unknown>);
        m.ack();
      });
      subscriptions.push(sub);
    }
  }

  async function tearDown(): Promise<void> {
    await Promise.all(subscriptions.map((s) => s.close()));
    await pubsub.close();
    await db.terminate();
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
          resolution: resolutionFor(b, spec.width, spec.height),
          audio: false,
          ...(usage.predictSeconds !== undefined ? { predictSeconds: usage.predictSeconds } : {}),
        }),
      recordSpend: async (tenantId, usd, entryId) => {
        const { recorded } = await recordSpend(db, tenantId, usd, new Date(), { entryId });
        if (recorded) spend.push({ tenantId, usd });
      },
      workDir: dir,
      shutdown: options.shutdown ?? new AbortController().signal,
    };
  }

  /**
   * A planned job with PENDING shots on `backend` (one unless `options.shots` says more: s01,
   * s02, … with the same spec), as the planner leaves it; `options.budgetCapUsd` goes in the brief.
   */
  async function plannedJob(
    backend: BackendName,
    spec: Partial<ShotSpec> = {},
    preset = 'brand_campaign',
    options: { shots?: number; budgetCapUsd?: number } = {},
  ) {
    const jobId = `job_${randomBytes(6).toString('hex')}`;
    const brief: Brief = {
      product: 'Aurora',
      brand: { name: 'Aurora' },
      keyMessage: 'Run',
      durationSeconds: 6,
      aspectRatios: ['16:9'],
      preset: preset as Brief['preset'],
      ...(options.budgetCapUsd !== undefined ? { budgetCapUsd: options.budgetCapUsd } : {}),
    };
    await jobs.createJob({ jobId, tenantId: 't1', brief, preset });
    await jobs.transition(jobId, 'QUEUED', 'PLANNING');
    const base: ShotSpec = {
      shotId: 's01',
      index: 0,
      purpose: 'hook',
      durationSeconds: 6,
      prompt: 'A running shoe on a wet city street at dawn',
      camera: 'zoom_in',
      onScreenText: 'Meet Aurora',
      palette: ['#0B1D3A', '#1E6FD9'],
      width: 1280,
      height: 720,
      fps: 30,
      seed: 7,
      ...spec,
    };
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
      'RENDERING',
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
