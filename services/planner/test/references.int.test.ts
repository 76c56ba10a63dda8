import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderTopicFor, type Brief, type MessageOf } from '@aiprod/contracts';
import { AssetStore, DirectorPlanCache, EstimateStore, PlanStore, TenantStore } from '@aiprod/job-store';
import { runFfmpeg } from '@aiprod/media';
import { localDirector } from '@aiprod/planning';
import type { HandlerContext } from '@aiprod/pubsub';
import { LocalBlobStore, tenantAssetKey } from '@aiprod/storage';
import { aBrief, emulatorProject } from '@aiprod/testing';
import { buildPlanner, type PlannerDeps } from '../src/app';
import { resolveReferences } from '../src/steps/resolve-references';

const env = emulatorProject('planner-references', 'planner');
const { db, jobs, log } = env;
const tenants = new TenantStore(db);
const assets = new AssetStore(db);
const root = mkdtempSync(join(tmpdir(), 'planner-references-'));
const storage = new LocalBlobStore({
  rootDir: root,
  publicBaseUrl: 'https://127.0.0.1:1',
  signingKey: Buffer.alloc(32),
});
let published: Awaited<ReturnType<typeof env.collect>> = () => [];
let server: Server;
let base = '';
const hits = new Map<string, number>();
const images: Record<string, Buffer> = {};

function deps(options: { allowLoopbackHttp?: boolean } = {}): PlannerDeps {
  return {
    ...env.core,
    tenants,
    director: localDirector,
    fallbackToLocal: false,
    enabledBackends: ['local'],
    plans: new PlanStore(db),
    directorPlans: new DirectorPlanCache(db),
    estimates: new EstimateStore(db),
    storage,
    assets,
    allowLoopbackHttp: options.allowLoopbackHttp ?? true,
    referenceFetchTimeoutMs: 5_000,
  };
}

async function newJob(tenantId: string, referenceImages: Brief['referenceImages']) {
  const jobId = `job_${randomBytes(5).toString('hex')}`;
  const brief = aBrief({ aspectRatios: ['9:16'], preset: 'social_quick', referenceImages });
  await jobs.createJob({ jobId, tenantId, brief, preset: 'social_quick' });
  return jobId;
}

async function deliver(d: PlannerDeps, jobId: string, tenantId: string) {
  const ctx: HandlerContext = {
    topic: 'aiprod.job.requested.v1',
    subscription: 'aiprod.job.requested.v1.planner',
    messageId: randomBytes(4).toString('hex'),
    deliveryAttempt: 1,
    publishTime: new Date(),
    log,
  };
  await buildPlanner(d)['aiprod.job.requested.v1'].handle({ v: 1, jobId, tenantId }, ctx);
}

/** An uploaded asset as POST /v1/assets leaves it: the bytes under the tenant, the record beside them. */
async function uploadAsset(tenantId: string, bytes: Buffer) {
  const assetId = `asset_${randomBytes(12).toString('hex')}`;
  const path = tenantAssetKey(tenantId, assetId);
  const put = await storage.putBytes(path, bytes, { contentType: 'image/png' });
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

const renderRequestsFor = (jobId: string) =>
  published(renderTopicFor('local')).filter((m) => (m as MessageOf<'aiprod.render.local.v1'>).jobId === jobId);

beforeAll(async () => {
  await env.provision();
  published = await env.collect([renderTopicFor('local')]);
  await tenants.createTenant({ tenantId: 't-ref', name: 'Ref', autoApproveLimitUsd: 100 });
  await tenants.createTenant({ tenantId: 't-other', name: 'Other', autoApproveLimitUsd: 100 });
  for (const [name, size] of [
    ['product.png', '160x90'],
    ['style.jpg', '320x180'],
    ['brand.webp', '64x64'],
  ] as const) {
    const file = join(root, name);
    await runFfmpeg(['-f', 'lavfi', '-i', `testsrc=size=${size}`, '-frames:v', '1', '-y', file], { timeoutMs: 20_000 });
    images[name] = readFileSync(file);
  }
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const name = path.slice(1).split('?')[0]!;
    if (images[name]) return void res.writeHead(200, { 'content-type': 'image/png' }).end(images[name]);
    if (path === '/page.html')
      return void res.writeHead(200, { 'content-type': 'image/png' }).end('<!doctype html><p>not an image</p>');
    if (path === '/redirect') return void res.writeHead(302, { location: '/style.jpg' }).end();
    res.writeHead(404).end('no such file');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await env.close();
  rmSync(root, { recursive: true, force: true });
});

describe('planner: the brief reference images', () => {
  it('stores URL and uploaded references under the job and sends them with every shot, product first', async () => {
    const assetId = await uploadAsset('t-ref', images['product.png']!);
    const jobId = await newJob('t-ref', [
      `${base}/style.jpg`,
      { assetId, role: 'product', description: 'the shoe, side view' },
      { url: `${base}/brand.webp`, role: 'brand' },
    ]);
    await deliver(deps(), jobId, 't-ref');

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    const prefix = `tenants/t-ref/jobs/${jobId}/references`;
    // The storage itself holds the three copies, named by brief order.
    expect(readdirSync(join(root, prefix)).sort()).toEqual(['ref-1.jpg', 'ref-2.png', 'ref-3.webp']);
    expect(job.references).toEqual([
      expect.objectContaining({
        id: 'ref-1',
        role: 'style',
        path: `${prefix}/ref-1.jpg`,
        contentType: 'image/jpeg',
        width: 320,
        height: 180,
        source: { kind: 'url', url: `${base}/style.jpg` },
      }),
      expect.objectContaining({
        id: 'ref-2',
        role: 'product',
        path: `${prefix}/ref-2.png`,
        contentType: 'image/png',
        width: 160,
        height: 90,
        source: { kind: 'asset', assetId },
        description: 'the shoe, side view',
      }),
      expect.objectContaining({ id: 'ref-3', role: 'brand', contentType: 'image/webp', width: 64, height: 64 }),
    ]);
    // The stored bytes are the served ones.
    const stored = await storage.withLocalFile(`${prefix}/ref-2.png`, async (f) => readFileSync(f));
    expect(stored.equals(images['product.png']!)).toBe(true);

    const shots = await jobs.listShots(jobId);
    expect(shots.length).toBeGreaterThan(0);
    for (const shot of shots) {
      expect(shot.spec.references?.map((r) => [r.id, r.role])).toEqual([
        ['ref-2', 'product'],
        ['ref-3', 'brand'],
        ['ref-1', 'style'],
      ]);
      expect(shot.spec.references?.[0]).toEqual({
        id: 'ref-2',
        role: 'product',
        path: `${prefix}/ref-2.png`,
        contentType: 'image/png',
        sha256: job.references![1]!.sha256,
        description: 'the shoe, side view',
      });
    }
    // The render requests carry them too: a pool needs nothing else.
    await new Promise((r) => setTimeout(r, 300));
    const sent = renderRequestsFor(jobId) as MessageOf<'aiprod.render.local.v1'>[];
    expect(sent.length).toBe(shots.length);
    expect(sent.every((m) => m.spec.references?.length === 3)).toBe(true);
  });

  it('reuses the recorded references on a repeat, fetching nothing again', async () => {
    const jobId = await newJob('t-ref', [{ url: `${base}/product.png?once`, role: 'product' }]);
    await jobs.transition(jobId, 'QUEUED', 'PLANNING');
    const first = await resolveReferences(deps(), (await jobs.getJob(jobId))!, log);
    expect(first).toMatchObject({ ok: true, references: [{ id: 'ref-1', role: 'product', width: 160 }] });
    expect(hits.get('/product.png?once')).toBe(1);
    const again = await resolveReferences(deps(), (await jobs.getJob(jobId))!, log);
    expect(again).toEqual(first);
    expect(hits.get('/product.png?once')).toBe(1);
  });

  it.each([
    ['a 404', '/missing.png', /brief\.referenceImages\[1\]: could not be fetched: HTTP 404/],
    ['an HTML page', '/page.html', /brief\.referenceImages\[1\]: the file is not a PNG, JPEG or WebP image/],
    [
      'a redirect',
      '/redirect',
      /brief\.referenceImages\[1\]: could not be fetched: HTTP 302 \(redirects are not followed\)/,
    ],
  ])('fails the job before any render when a URL answers %s', async (_what, path, reason) => {
    const jobId = await newJob('t-ref', [`${base}/style.jpg`, { url: `${base}${path}`, role: 'product' }]);
    await deliver(deps(), jobId, 't-ref');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.reason).toBe('planning_failed');
    expect(job.error?.message).toMatch(reason);
    expect(job.plan).toBeUndefined();
    expect(await jobs.listShots(jobId)).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(renderRequestsFor(jobId)).toEqual([]);
  });

  it('fails the job on a blocked address: loopback when the deployment does not allow it', async () => {
    const jobId = await newJob('t-ref', [`${base}/style.jpg`]);
    await deliver(deps({ allowLoopbackHttp: false }), jobId, 't-ref');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.message).toMatch(/^brief\.referenceImages\[0\]: could not be fetched: refused: /);
  });

  it("fails the job when the brief names another tenant's asset", async () => {
    const theirs = await uploadAsset('t-other', images['product.png']!);
    const jobId = await newJob('t-ref', [{ assetId: theirs, role: 'product' }]);
    await deliver(deps(), jobId, 't-ref');
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.message).toBe(`brief.referenceImages[0]: asset ${theirs} is not an asset of this tenant`);
  });
});
