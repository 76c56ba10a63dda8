import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBlobStore } from '@aiprod/storage';
import { aBrief, aShotSpec, emulatorProject } from '@aiprod/testing';
import {
  AuditTrail,
  DirectorPlanCache,
  EstimateStore,
  IdempotencyStore,
  MessageLedger,
  TenantStore,
  WebhookStore,
  eraseTenant,
  TenantBusyError,
  recordSpend,
  tenantFootprint,
  type TenantFootprint,
} from '../src';

const env = emulatorProject('tenant-erasure', 'planner');
const { db, jobs } = env;
const dataDir = mkdtempSync(join(tmpdir(), 'tenant-erasure-'));
const storage = new LocalBlobStore({
  rootDir: dataDir,
  publicBaseUrl: 'http://127.0.0.1',
  signingKey: Buffer.alloc(32, 1),
});
afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true });
  await env.close();
});

/** Everything a tenant accumulates through the platform's own stores, keyed by `tenantId`. */
async function populate(tenantId: string) {
  await new TenantStore(db).createTenant({ tenantId, name: tenantId });
  await new TenantStore(db).createApiKey(tenantId, ['admin'], 'test');
  await new WebhookStore(db).setEndpoint(tenantId, 'https://hooks.example.com/x', 'whsec_secret');
  const jobIds: string[] = [];
  for (let i = 0; i < 2; i++) {
    const jobId = `job_${tenantId.replace(/-/g, '_')}_${i}`;
    jobIds.push(jobId);
    await jobs.createJob({ jobId, tenantId, brief: aBrief(), preset: 'social_quick' });
    // Ended: a tenant with a job still running is not erased (see the test below).
    await jobs.transition(jobId, 'QUEUED', 'CANCELED');
    await jobs.appendEvent(jobId, { key: 'note', type: 'job.note', data: {} });
    await db.doc(`jobs/${jobId}/shots/s01`).set({ shotId: 's01', index: 0 });
    await db.doc(`jobs/${jobId}/costs/c1`).set({ usd: 0.5 });
    const clip = await storage.putBytes(
      `tenants/${tenantId}/jobs/${jobId}/shots/s01/attempt-1.mp4`,
      Buffer.from('clip'),
    );
    await storage.putBytes(`tenants/${tenantId}/jobs/${jobId}/outputs/final.mp4`, Buffer.from('cut'));
    // A render-cache entry written under another tenant's name but pointing at this tenant's clip.
    await db.collection('renderCache').doc(`rc_${jobId}`).set({ tenantId: 'someone-else', clipUri: clip.uri });
    await new WebhookStore(db).createDelivery({
      webhookId: `wh_${jobId}`,
      tenantId,
      jobId,
      eventType: 'job.delivered',
      body: '{}',
    });
    await new MessageLedger(db, jobs).recordDeadLetter({
      subscription: 'render',
      topic: 't',
      messageId: `m_${jobId}`,
      jobId,
      data: '{}',
    });
  }
  await storage.putBytes(`tenants/${tenantId}/assets/asset_1.png`, Buffer.from('png'));
  await db.doc(`tenants/${tenantId}/assets/asset_1`).set({ assetId: 'asset_1' });
  await recordSpend(db, tenantId, 1.25, new Date(), { entryId: 'line1' });
  await new IdempotencyStore(db).begin(tenantId, 'key-1', 'hash');
  await new EstimateStore(db).createOnce({
    estimateId: `est_${tenantId}`,
    tenantId,
    brief: aBrief(),
    preset: 'social_quick',
  });
  await new DirectorPlanCache(db).store(`dp_${tenantId}`, { tenantId, director: 'local', plan: { shots: [] } });
  await db.collection('renderCache').doc(`rc_own_${tenantId}`).set({ tenantId, clipUri: 'local://elsewhere/x.mp4' });
  await db.collection('rateLimits').doc(`${tenantId}:${Date.now()}`).set({ count: 1 });
  await db.collection('quotaCounters').doc(`${tenantId}:jobs:${Date.now()}`).set({ count: 1 });
  const audit = new AuditTrail(db, { flushIntervalMs: 60_000 });
  audit.record(tenantId, {
    at: new Date(),
    requestId: 'req1',
    method: 'GET',
    route: '/v1/jobs',
    jobId: null,
    status: 200,
    keyPrefix: 'aiprod_test_x',
    subject: null,
    via: 'api_key',
    scope: 'jobs:read',
  });
  await audit.close();
  return jobIds;
}

const kinds = (f: TenantFootprint) => Object.fromEntries(f.items.map((i) => [i.kind, i.paths.length]));

describe('tenant erasure', () => {
  // One id a prefix of the other: "erase-a:" and "tenants/erase-a/" must not reach "erase-a2".
  const victim = 'erase-a';
  const bystander = 'erase-a2';

  it('lists everything a tenant owns, then erases it and nothing of another tenant', async () => {
    await populate(victim);
    await populate(bystander);
    const before = await tenantFootprint(db, victim, storage);
    expect(kinds(before)).toEqual({
      tenant: 1,
      webhookEndpoint: 1,
      'tenants/{id}/assets': 1,
      'tenants/{id}/audit': 1,
      jobs: 2,
      // Per job: its created event, the note, a shot and a cost line.
      'jobs/*/…': 10,
      apiKeys: 1,
      webhookDeliveries: 2,
      idempotency: 1,
      usage: 1,
      estimates: 1,
      directorPlans: 1,
      renderCache: 3,
      spendEntries: 1,
      rateLimits: 1,
      quotaCounters: 1,
      deadLetters: 2,
      rejectedMessages: 0,
      files: 5,
    });
    const otherBefore = await tenantFootprint(db, bystander, storage);
    expect(otherBefore.total).toBe(before.total);

    const dry = await tenantFootprint(db, victim, storage);
    expect(dry).toEqual(before); // listing changes nothing

    const erased = await eraseTenant(db, storage, victim);
    expect(erased.before).toEqual(before);
    expect(erased.deletedFiles).toBe(5);
    expect(erased.after.total).toBe(0);
    expect(await tenantFootprint(db, victim, storage)).toMatchObject({ total: 0 });
    // Not only by the footprint's own eyes: the tenant's folder is gone from the disk too.
    expect(readdirSync(join(dataDir, 'tenants'))).toEqual([bystander]);
    expect((await db.collection('tenants').doc(victim).listCollections()).length).toBe(0);

    // The other tenant's footprint is exactly what it was, path for path.
    expect(await tenantFootprint(db, bystander, storage)).toEqual(otherBefore);

    // Idempotent: erasing again finds nothing and removes nothing.
    const again = await eraseTenant(db, storage, victim);
    expect(again.before.total).toBe(0);
    expect(again.deletedFiles).toBe(0);
  });

  it('refuses a tenant with a job still running (its vendor tasks would go on billing), erasing nothing', async () => {
    const tenantId = 'erase-busy';
    await jobs.createJob({ jobId: 'job_erase_busy', tenantId, brief: aBrief(), preset: 'social_quick' });
    await new TenantStore(db).createApiKey(tenantId, ['admin'], 'test');
    const before = await tenantFootprint(db, tenantId, storage);
    await expect(eraseTenant(db, storage, tenantId)).rejects.toThrow(TenantBusyError);
    expect(await tenantFootprint(db, tenantId, storage)).toEqual(before);
  });

  it('refuses a tenant whose canceled job still has a shot RENDERING (its vendor task may bill until its pool stops it)', async () => {
    const tenantId = 'erase-stopping';
    const jobId = 'job_erase_stopping';
    await jobs.createJob({ jobId, tenantId, brief: aBrief(), preset: 'social_quick' });
    await jobs.transition(jobId, 'QUEUED', 'PLANNING');
    await jobs.savePlan(
      jobId,
      {
        version: 1,
        director: 'local',
        shotIds: ['s01'],
        width: 1280,
        height: 720,
        fps: 30,
        endCardSeconds: 2,
        estimatedCostUsd: 1,
      },
      [{ spec: { ...aShotSpec(), shotId: 's01', index: 0 }, backend: 'veo' }],
      'RENDERING',
    );
    await jobs.jobs.doc(jobId).collection('shots').doc('s01').update({ status: 'RENDERING' });
    await jobs.transition(jobId, 'RENDERING', 'CANCELED');
    const before = await tenantFootprint(db, tenantId, storage);
    const refused = await eraseTenant(db, storage, tenantId).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TenantBusyError);
    expect((refused as TenantBusyError).jobIds).toEqual([jobId]);
    expect(await tenantFootprint(db, tenantId, storage)).toEqual(before);
    // Its pool closed the attempt: now the tenant can go.
    await jobs.jobs.doc(jobId).collection('shots').doc('s01').update({ status: 'FAILED' });
    expect((await eraseTenant(db, storage, tenantId)).after.total).toBe(0);
  });

  it('waits out the gateways’ key cache, and refuses a job a cached key created meanwhile', async () => {
    const tenantId = 'erase-cached-key';
    await new TenantStore(db).createApiKey(tenantId, ['jobs:write'], 'test');
    const erasing = eraseTenant(db, storage, tenantId, { keyCacheMs: 1_000 }).catch((err: unknown) => err);
    // A gateway that verified the key before it was deleted still accepts it for a while.
    await new Promise((r) => setTimeout(r, 300));
    await jobs.createJob({ jobId: 'job_erase_cached', tenantId, brief: aBrief(), preset: 'social_quick' });
    const refused = await erasing;
    expect(refused).toBeInstanceOf(TenantBusyError);
    expect((refused as TenantBusyError).jobIds).toEqual(['job_erase_cached']);
    expect(await jobs.getJob('job_erase_cached')).not.toBeNull();
  });

  it('refuses an id that could escape its prefix', async () => {
    await expect(tenantFootprint(db, '../x', storage)).rejects.toThrow(/invalid tenant id/);
    await expect(eraseTenant(db, storage, 'a/b')).rejects.toThrow(/invalid tenant id/);
  });
});
