import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendName, Brief } from '@aiprod/contracts';
import { AssetStore, DirectorPlanCache, EstimateStore, PlanStore, TenantStore } from '@aiprod/job-store';
import { runFfmpeg } from '@aiprod/media';
import { localDirector } from '@aiprod/planning';
import type { HandlerContext } from '@aiprod/pubsub';
import { LocalBlobStore, tenantAssetKey } from '@aiprod/storage';
import { aBrief, emulatorProject } from '@aiprod/testing';
import { parseBackendModels } from '@aiprod/vendor-catalogue';
import { buildPlanner, type PlannerDeps } from '../src/app';

// A shot that needs its product image is planned on a model that takes one, or the plan says per
// shot why it is not (docs/decisions/2026-12-routing-by-shot-needs.md).
const env = emulatorProject('planner-needs', 'planner');
const { db, jobs, log } = env;
const tenants = new TenantStore(db);
const assets = new AssetStore(db);
const root = mkdtempSync(join(tmpdir(), 'planner-needs-'));
const storage = new LocalBlobStore({
  rootDir: root,
  publicBaseUrl: 'https://127.0.0.1:1',
  signingKey: Buffer.alloc(32),
});
let productPng: Buffer;

function deps(enabledBackends: BackendName[], backendModels = ''): PlannerDeps {
  return {
    ...env.core,
    tenants,
    director: localDirector,
    fallbackToLocal: false,
    enabledBackends,
    models: parseBackendModels(backendModels),
    plans: new PlanStore(db),
    directorPlans: new DirectorPlanCache(db),
    estimates: new EstimateStore(db),
    storage,
    assets,
  };
}

async function productAsset(tenantId: string): Promise<string> {
  const assetId = `asset_${randomBytes(12).toString('hex')}`;
  const path = tenantAssetKey(tenantId, assetId);
  const put = await storage.putBytes(path, productPng, { contentType: 'image/png' });
  await assets.create({
    assetId,
    tenantId,
    contentType: 'image/png',
    sizeBytes: put.sizeBytes,
    sha256: put.sha256,
    width: 160,
    height: 90,
    path,
  });
  return assetId;
}

/** Plans a job of `brief` through the job.requested handler and returns what was stored. */
async function plan(d: PlannerDeps, brief: Brief) {
  const jobId = `job_${randomBytes(5).toString('hex')}`;
  await jobs.createJob({ jobId, tenantId: 't-needs', brief, preset: brief.preset! });
  const ctx: HandlerContext = {
    topic: 'aiprod.job.requested.v1',
    subscription: 'aiprod.job.requested.v1.planner',
    messageId: randomBytes(4).toString('hex'),
    deliveryAttempt: 1,
    publishTime: new Date(),
    log,
  };
  await buildPlanner(d)['aiprod.job.requested.v1'].handle({ v: 1, jobId, tenantId: 't-needs' }, ctx);
  const job = (await jobs.getJob(jobId))!;
  return { job, shots: await jobs.listShots(jobId), estimate: job.plan!.estimate! };
}

const withProduct = async (preset: Brief['preset']) =>
  aBrief({
    preset,
    aspectRatios: ['16:9'],
    referenceImages: [{ assetId: await productAsset('t-needs'), role: 'product', description: 'the bottle' }],
  });

beforeAll(async () => {
  await env.provision();
  await tenants.createTenant({ tenantId: 't-needs', name: 'Needs', autoApproveLimitUsd: 1000 });
  const file = join(root, 'product.png');
  await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x90', '-frames:v', '1', '-y', file], { timeoutMs: 20_000 });
  productPng = readFileSync(file);
}, 60_000);

afterAll(async () => {
  await env.close();
  rmSync(root, { recursive: true, force: true });
});

describe('planner: routing by what each shot needs', () => {
  it('plans shots with a product reference on the model that takes an image (runway gen4.5), not the cheaper wan t2v', async () => {
    const { job, shots, estimate } = await plan(
      deps(['local', 'replicate', 'runway'], 'replicate=wan-video/wan-2.2-t2v-fast,runway=gen4.5'),
      await withProduct('social_quick'),
    );
    expect(job.status).not.toBe('FAILED');
    expect(shots.length).toBeGreaterThanOrEqual(3);
    expect(new Set(shots.map((s) => s.backend))).toEqual(new Set(['runway']));
    expect(shots.every((s) => s.spec.references?.some((r) => r.role === 'product'))).toBe(true);
    expect(estimate.shots.map((s) => s.model)).toEqual(shots.map(() => 'gen4.5'));
    expect(estimate.shots.filter((s) => s.referenceNote)).toEqual([]);
    expect(estimate.notes.join('\n')).not.toMatch(/reference image is not sent/);
  });

  it('the same brief without a reference stays on the cheaper wan t2v', async () => {
    const { shots } = await plan(
      deps(['local', 'replicate', 'runway'], 'replicate=wan-video/wan-2.2-t2v-fast,runway=gen4.5'),
      aBrief({ preset: 'social_quick', aspectRatios: ['16:9'] }),
    );
    expect(new Set(shots.map((s) => s.backend))).toEqual(new Set(['replicate']));
  });

  it('with no image-taking model enabled, plans anyway and records the downgrade on every shot', async () => {
    const { shots, estimate } = await plan(
      deps(['local', 'replicate'], 'replicate=wan-video/wan-2.2-t2v-fast'),
      await withProduct('social_quick'),
    );
    expect(new Set(shots.map((s) => s.backend))).toEqual(new Set(['replicate']));
    expect(estimate.shots).toHaveLength(shots.length);
    for (const s of estimate.shots) {
      expect(s.referenceNote).toMatch(
        new RegExp(
          `^${s.shotId}: the product reference image is not sent: replicate \\(wan-video/wan-2\\.2-t2v-fast\\) takes no image and no backend the social_quick preset allows and this deployment runs takes one`,
        ),
      );
    }
    expect(estimate.notes).toContain(
      `the product reference image is not sent for shot(s) ${shots.map((s) => s.shotId).join(', ')}: see each shot's referenceNote`,
    );
  });

  it('never gives a shot without a reference to a model that requires an image (runway gen4_turbo)', async () => {
    const { shots, estimate } = await plan(
      deps(['local', 'replicate', 'runway'], 'runway=gen4_turbo'),
      aBrief({ preset: 'brand_campaign', aspectRatios: ['16:9'] }),
    );
    // brand_campaign's tier is runway's; without an image gen4_turbo cannot make a clip, so the
    // shots go to the best tier that can, and the plan says the tier was not available.
    expect(shots.map((s) => s.backend)).not.toContain('runway');
    expect(estimate.notes).toContainEqual(
      expect.stringMatching(
        /^no standard backend is enabled here that can make these shots \(runway gen4_turbo requires an image they do not carry\); using (replicate|local)$/,
      ),
    );
    expect(estimate.shots.filter((s) => s.referenceNote)).toEqual([]);
  });

  it('gives gen4_turbo the shots that carry their product image', async () => {
    const { shots, estimate } = await plan(
      deps(['local', 'replicate', 'runway'], 'runway=gen4_turbo'),
      await withProduct('brand_campaign'),
    );
    expect(new Set(shots.map((s) => s.backend))).toEqual(new Set(['runway']));
    expect(new Set(estimate.shots.map((s) => s.model))).toEqual(new Set(['gen4_turbo']));
  });
});
