import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { BackendName, Brief } from '@aiprod/contracts';
import {
  AssetStore,
  DirectorPlanCache,
  EstimateStore,
  PlanStore,
  TenantStore,
  WebhookStore,
  type Job,
} from '@aiprod/job-store';
import { accessTokenAuth } from '@aiprod/google-ai';
import { createGeminiDirector, localDirector } from '@aiprod/planning';
import { storedEstimate } from '@aiprod/vendor-catalogue';
import type { JobEstimate } from '@aiprod/contracts';
import { createCoreDeps, runWorkerService, type RunningService } from '@aiprod/service-runtime';
import { createBlobStore } from '@aiprod/storage';
import {
  emulatorProject,
  memoryLog,
  startVertexServer,
  waitFor,
  type EmulatorProject,
  type VertexServer,
} from '@aiprod/testing';
import { buildGateway } from '../../services/gateway/src/app';
import { buildPlanner, type PlannerDeps } from '../../services/planner/src/app';

/**
 * Deliverable: an estimate and the job it becomes agree. The gateway and the planner run on the
 * emulators, talking through Pub/Sub and Firestore only, as deployed; for every sample brief the
 * estimate (POST /v1/estimates) is compared with the plan the planner stores for the job made
 * from the same brief (POST /v1/jobs), with the local director and with Gemini (on its test server).
 */
const BRIEFS_DIR = join(__dirname, '..', '..', 'examples', 'briefs');
const SAMPLE_BRIEFS = readdirSync(BRIEFS_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(join(BRIEFS_DIR, f), 'utf8')) as Brief] as const);
const ENABLED: BackendName[] = ['local', 'replicate', 'runway', 'veo'];

/** A Gemini answer for a brief: `count` shots that fill it. Two counts make two different plans. */
const geminiAnswer = (brief: Brief, count: number) => ({
  json: {
    continuity: [{ id: 'product', kind: 'product', description: brief.product }],
    shots: Array.from({ length: count }, (_, i) => ({
      purpose: i === 0 ? 'hook' : i === count - 1 ? 'call_to_action' : 'benefit',
      prompt: `Shot ${i + 1}: ${brief.product}, ${brief.keyMessage}`,
      camera: 'static',
      durationSeconds: brief.durationSeconds / count,
      continuity: ['product'],
    })),
  },
});

describe.each(['local', 'gemini'] as const)('estimate and job agree, with the %s director', (directorKind) => {
  let env: EmulatorProject<'gateway'>;
  let planner: RunningService;
  let vertex: VertexServer;
  let app: ReturnType<typeof buildGateway>;
  let dataDir: string;
  let key: string;

  beforeAll(async () => {
    env = emulatorProject(`estimates-agree-${directorKind}`, 'gateway');
    await env.provision();
    vertex = await startVertexServer({
      defaultBehaviour: { status: 500, message: 'vertex test server: nothing scripted' },
    });
    const log = memoryLog().log;
    // The planner with its own clients on the same project, as its own process would have them.
    const core = createCoreDeps('planner', { projectId: env.projectId, log });
    dataDir = mkdtempSync(join(tmpdir(), 'estimates-agree-'));
    const storage = createBlobStore({
      kind: 'local',
      rootDir: dataDir,
      publicBaseUrl: 'https://127.0.0.1:8443',
      signingKey: Buffer.alloc(32, 7),
    });
    const deps: PlannerDeps = {
      ...core,
      tenants: new TenantStore(core.db),
      plans: new PlanStore(core.db),
      directorPlans: new DirectorPlanCache(core.db),
      estimates: new EstimateStore(core.db),
      storage,
      assets: new AssetStore(core.db),
      director:
        directorKind === 'local'
          ? localDirector
          : createGeminiDirector({
              project: 'aiprod-test',
              location: 'europe-west1',
              baseUrl: vertex.url,
              googleAuthOptions: accessTokenAuth('test-token'),
              maxAttempts: 1,
              timeoutMs: 5_000,
            }),
      fallbackToLocal: false,
      enabledBackends: ENABLED,
    };
    planner = await runWorkerService({
      service: 'planner',
      deps,
      handlers: buildPlanner(deps),
      port: 0,
      host: '127.0.0.1',
    });
    const tenants = new TenantStore(env.db);
    app = buildGateway({
      log,
      jobs: env.jobs,
      tenants,
      webhooks: new WebhookStore(env.db),
      plans: new PlanStore(env.db),
      estimates: new EstimateStore(env.db),
      estimateWaitMs: 20_000,
      publisher: env.publisher,
      assets: new AssetStore(env.db),
      storage,
      signingKey: Buffer.alloc(32, 7),
      outputUrlTtlSeconds: 3600,
      isReady: () => true,
      enabledBackends: ENABLED,
    });
    // Every plan waits for approval: nothing is rendered, the stored plan is what is compared.
    await tenants.createTenant({ tenantId: 'tenant-a', name: 'A', autoApproveLimitUsd: 0 });
    key = (await tenants.createApiKey('tenant-a', ['jobs:read', 'jobs:write'], 'test')).key;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await planner?.close();
    await vertex?.close();
    await env?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it.each(SAMPLE_BRIEFS)('%s', async (_file, brief) => {
    const calls = vertex.requests.length;
    if (directorKind === 'gemini') {
      // The previous case's spare answer must not answer this one.
      vertex.clearQueue();
      // A shot count the sample's backends can make (three 4–5 s shots in 15 s; four in 30 s on
      // Runway's 5/10 s lengths): an answer the director must re-ask for would take the spare.
      const count = brief.durationSeconds > 20 ? 4 : 3;
      vertex.enqueue(geminiAnswer(brief, count));
      // What a second call would get: another plan, which the job must not be given.
      vertex.enqueue(geminiAnswer(brief, count + 1));
    }
    const quoted = await request(app).post('/v1/estimates').set('Authorization', `Bearer ${key}`).send(brief);
    expect([quoted.status, quoted.status === 200 ? '' : (quoted.body as { detail?: string }).detail]).toEqual([
      200,
      '',
    ]);
    const estimate = quoted.body as JobEstimate;

    const created = await request(app).post('/v1/jobs').set('Authorization', `Bearer ${key}`).send(brief);
    expect(created.status).toBe(202);
    const jobId = (created.body as { id: string }).id;
    const job = await waitFor(
      async () => {
        const j = await env.jobs.getJob(jobId);
        return j && j.status !== 'QUEUED' && j.status !== 'PLANNING' ? j : undefined;
      },
      { timeoutMs: 20_000, what: `the job of ${_file} planned` },
    );
    expect(job.status).toBe('AWAITING_APPROVAL');
    const stored = (job as Job).plan!.estimate!;

    expect(stored.shots.length).toBe(estimate.shots.length);
    expect(stored.shots.map((s) => s.durationSeconds)).toEqual(estimate.shots.map((s) => s.durationSeconds));
    expect(stored.shots.map((s) => s.backend)).toEqual(estimate.shots.map((s) => s.backend));
    expect([stored.firstPassUsd, stored.totalUsd, stored.worstCaseUsd]).toEqual([
      estimate.firstPassUsd,
      estimate.totalUsd,
      estimate.worstCaseUsd,
    ]);
    expect(stored).toEqual(storedEstimate(estimate));
    if (directorKind === 'gemini') {
      expect(job.plan!.director).toMatch(/^gemini:/);
      // One generateContent call for the estimate and the job: the job's plan came from the cache.
      expect(vertex.requests.length - calls).toBe(1);
    } else {
      expect(job.plan!.director).toBe('local');
    }
  });
});
