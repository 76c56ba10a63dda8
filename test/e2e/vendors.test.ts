import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_FALLBACK_POLICY, type FallbackPolicy } from '@aiprod/contracts';
import { createFirestore, JobStore } from '@aiprod/job-store';
import { probe, runFfmpeg } from '@aiprod/media';
import {
  requireEmulators,
  startReplicateServer,
  startRunwayServer,
  startVeoServer,
  uniqueProjectId,
  waitFor,
  type ReplicateServer,
  type RunwayServer,
  type VeoServer,
} from '@aiprod/testing';
import { GatewayClient, httpsDownload, LocalStack, type JobView } from '../../infra/local/src';

/**
 * The whole platform with the paid backends' render pools pointed at the vendors' protocol test
 * servers (real MP4s, real HTTP, the vendors' failures): Replicate, Veo and Runway each deliver,
 * a dead vendor is routed around, a refusal follows the policy, and a render worker killed
 * mid-poll resumes the same vendor task.
 */
const repoRoot = resolve(__dirname, '..', '..');
const emulators = requireEmulators();
const readBrief = (name: string) =>
  JSON.parse(readFileSync(join(repoRoot, 'examples', 'briefs', `${name}.json`), 'utf8')) as Record<string, unknown>;
const RUNWAY_KEY = 'key_e2e_runway_0123456789abcdef';
const REPLICATE_TOKEN = 'r8_e2e_replicate_0123456789abcdef';
const VERTEX_TOKEN = 'ya29.e2e-vertex-token-0123456789';

let stack: LocalStack;
let client: GatewayClient;
let runway: RunwayServer;
let replicate: ReplicateServer;
let veo: VeoServer;
let jobs: JobStore;
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-e2e-vendors-'));

/** The default policy with test-sized backoffs, so a retry costs milliseconds, not minutes. */
function testPolicy(): FallbackPolicy {
  const policy = structuredClone(DEFAULT_FALLBACK_POLICY);
  for (const b of Object.values(policy.backends)) b.backoff = { initialMs: 50, maxMs: 500, multiplier: 2 };
  return policy;
}

beforeAll(async () => {
  if (!existsSync(join(repoRoot, 'services', 'render', 'dist', 'main.js')))
    throw new Error('services/render is not built: run "npm test"');
  [runway, replicate, veo] = await Promise.all([
    startRunwayServer({ apiKey: RUNWAY_KEY }),
    startReplicateServer({ apiToken: REPLICATE_TOKEN }),
    startVeoServer(),
  ]);
  stack = await LocalStack.start({
    repoRoot,
    stateDir,
    projectId: uniqueProjectId('e2e-vendors'),
    emulators,
    policyOverride: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1, ackDeadlineSeconds: 10 },
    sweepIntervalSeconds: 1,
    vendorPools: {
      runway: { RUNWAY_API_KEY: RUNWAY_KEY, RUNWAY_BASE_URL: runway.url, RUNWAY_POLL_INTERVAL_MS: '100' },
      replicate: {
        REPLICATE_API_TOKEN: REPLICATE_TOKEN,
        REPLICATE_BASE_URL: replicate.baseUrl,
        REPLICATE_POLL_INTERVAL_MS: '100',
      },
      veo: { VERTEX_BASE_URL: veo.url, VERTEX_ACCESS_TOKEN: VERTEX_TOKEN, VEO_POLL_INTERVAL_MS: '100' },
    },
    renderEnv: { RENDER_FALLBACK_POLICY: JSON.stringify(testPolicy()), RENDER_LEASE_SECONDS: '4' },
    serviceEnv: {
      // The vendors' test clips are test patterns: they carry none of the planned on-screen text,
      // so the semantic judge is off here (its checks are recorded as skipped, with the reason).
      qa: { QA_JUDGE: 'none' },
    },
  });
  client = new GatewayClient(stack.info);
  jobs = new JobStore(createFirestore(stack.info.projectId));
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await Promise.all([runway?.close(), replicate?.close(), veo?.close()]);
  await jobs?.db.terminate();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Submits, approves when the estimate parks the job, and waits for a terminal state. */
async function deliver(brief: Record<string, unknown>, during?: (jobId: string) => Promise<void>): Promise<JobView> {
  const { id } = await client.submit(brief);
  const planned = await waitFor(
    async () => {
      const job = await client.get(id);
      return ['AWAITING_APPROVAL', 'RENDERING', 'FAILED'].includes(job.status) ? job : undefined;
    },
    { timeoutMs: 30_000, what: `job ${id} planned` },
  );
  if (planned.status === 'AWAITING_APPROVAL') await client.approve(id);
  if (during) await during(id);
  return client.waitForTerminal(id, { timeoutMs: 180_000, intervalMs: 500 });
}

const backendsOf = async (jobId: string) => (await jobs.listShots(jobId)).map((s) => s.backend);
const eventsOf = async (jobId: string, type: string) =>
  (await jobs.listEvents(jobId)).filter((e) => e.type === type).map((e) => e.data);

async function expectDelivered(job: JobView, seconds: number): Promise<void> {
  expect({ status: job.status, error: job.error }).toEqual({ status: 'DELIVERED', error: undefined });
  const file = join(stateDir, `${job.id}.mp4`);
  await httpsDownload(job.outputs[0]!.url, file, client.caCert);
  const media = await probe(file);
  expect(media.video?.codec).toBe('h264');
  expect(media.durationSeconds).toBeCloseTo(seconds, 0);
}

describe('the platform on the vendors (protocol test servers)', () => {
  it('social_quick goes to Replicate: one prediction per shot, priced in the ledger, delivered', async () => {
    const before = replicate.predictionsCreated;
    const job = await deliver({ ...readBrief('aurora-15s'), product: 'Aurora trail shoe' });
    await expectDelivered(job, 15);
    const backends = await backendsOf(job.id);
    expect(new Set(backends)).toEqual(new Set(['replicate']));
    expect(replicate.predictionsCreated - before).toBe(backends.length);
    const ledger = await jobs.listCosts(job.id);
    expect(ledger).toHaveLength(backends.length);
    expect(ledger.every((l) => l.backend === 'replicate' && l.outcome === 'succeeded' && l.costUsd > 0)).toBe(true);
    expect((await jobs.getJob(job.id))!.costUsd).toBeGreaterThan(0);
  }, 240_000);

  it('brand_campaign goes to Veo on Vertex: one predictLongRunning per shot, delivered', async () => {
    const before = veo.counts.predictLongRunning;
    const job = await deliver({ ...readBrief('aurora-15s'), product: 'Aurora road shoe', preset: 'brand_campaign' });
    await expectDelivered(job, 15);
    const backends = await backendsOf(job.id);
    expect(new Set(backends)).toEqual(new Set(['veo']));
    expect(veo.counts.predictLongRunning - before).toBe(backends.length);
  }, 240_000);

  it("premium_spot keeps Veo's own sound: the test server's 440 Hz tone is in the cut, under the voice-over", async () => {
    const toneDb = async (job: JobView) => {
      const file = join(stateDir, `${job.id}-tone.mp4`);
      await httpsDownload(job.outputs[0]!.url, file, client.caCert);
      // The whole cut through a narrow band at the tone, against the whole cut: how much of it is the tone.
      const level = async (filter: string) => {
        const { stderr } = await runFfmpeg(['-i', file, '-af', `${filter}astats=metadata=0`, '-f', 'null', '-'], {
          timeoutMs: 60_000,
        });
        return Number(/RMS level dB:\s*(-?[\d.]+|-inf)/.exec(stderr.slice(stderr.lastIndexOf('Overall')))?.[1]);
      };
      const band = 'bandpass=f=440:width_type=q:width=30,bandpass=f=440:width_type=q:width=30,';
      return (await level(band)) - (await level(''));
    };
    const premium = await deliver({ ...readBrief('aurora-15s'), product: 'Aurora spot shoe', preset: 'premium_spot' });
    await expectDelivered(premium, 15);
    expect(new Set(await backendsOf(premium.id))).toEqual(new Set(['veo']));
    expect((await jobs.listShots(premium.id)).every((s) => s.spec.audio === true)).toBe(true);
    const brand = await deliver({ ...readBrief('aurora-15s'), product: 'Aurora city shoe', preset: 'brand_campaign' });
    await expectDelivered(brand, 15);
    const [withSound, without] = [await toneDb(premium), await toneDb(brand)];
    // Measured: -5.6 dB of the premium cut is the tone, -21.8 dB of the brand cut (voice and bed).
    expect(withSound - without).toBeGreaterThan(10);
  }, 300_000);

  it('a Veo safety refusal costs nothing and, as the policy says, the shot moves to Runway; the job is delivered', async () => {
    veo.enqueueCreate({ operation: { outcome: { kind: 'filtered', reasons: ['sensitive content'] } } });
    const job = await deliver({
      ...readBrief('aurora-15s'),
      preset: 'brand_campaign',
      product: 'Aurora track spike',
      keyMessage: 'One refusal',
    });
    await expectDelivered(job, 15);
    const backends = await backendsOf(job.id);
    expect(backends.filter((b) => b === 'runway')).toHaveLength(1);
    const decisions = await eventsOf(job.id, 'render.decision');
    expect(decisions).toEqual([expect.objectContaining({ backend: 'veo', action: 'fallback', to: 'runway' })]);
    expect(String(decisions[0]!.why)).toMatch(/^safety/);
    const refused = (await jobs.listCosts(job.id)).find((l) => l.outcome === 'failed');
    expect(refused).toMatchObject({ backend: 'veo', errorClass: 'safety', costUsd: 0 });
  }, 240_000);

  it('a render worker killed mid-poll is restarted and resumes the same vendor task: one create per shot', async () => {
    replicate.setDefaultPrediction({ processing: { ms: 6_000 } });
    const before = replicate.predictionsCreated;
    try {
      const job = await deliver(
        { ...readBrief('aurora-15s'), product: 'Aurora recovery slide', keyMessage: 'Crash mid-poll' },
        async (jobId) => {
          await waitFor(
            // Every shot mid-poll: its task id stored. (A worker killed between a vendor's create and
            // that write would create again on redelivery: neither vendor takes an idempotency key.)
            async () => ((await jobs.listShots(jobId)).every((s) => s.attempts['1']?.vendorTaskId) ? true : undefined),
            { timeoutMs: 30_000, what: "every shot's vendor task id stored" },
          );
          await stack.crash('render-replicate');
          await stack.restart('render-replicate');
        },
      );
      await expectDelivered(job, 15);
      const shots = await jobs.listShots(job.id);
      expect(replicate.predictionsCreated - before).toBe(shots.length);
      for (const shot of shots) {
        expect(shot.attempts['1']!.tries).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
      }
    } finally {
      replicate.setDefaultPrediction({});
    }
  }, 240_000);

  // Last: it leaves Veo's circuit breaker open in its pool.
  it('Veo down: each shot is retried, then handed to Runway by the policy, and the job is delivered', async () => {
    for (let i = 0; i < 40; i++) veo.enqueueCreate({ status: 503, message: 'The service is currently unavailable.' });
    const runwayBefore = runway.tasksCreated;
    const job = await deliver({
      ...readBrief('aurora-15s'),
      preset: 'brand_campaign',
      product: 'Aurora racing flat',
      keyMessage: 'Veo is down',
    });
    await expectDelivered(job, 15);
    const backends = await backendsOf(job.id);
    expect(new Set(backends)).toEqual(new Set(['runway']));
    expect(runway.tasksCreated - runwayBefore).toBe(backends.length);
    const fallbacks = await eventsOf(job.id, 'render.fallback');
    expect(fallbacks).toHaveLength(backends.length);
    expect(fallbacks.every((f) => f.from === 'veo' && f.to === 'runway')).toBe(true);
  }, 240_000);
});
