import { Timestamp } from '@google-cloud/firestore';
import type { ShotSpec } from '@aiprod/contracts';
import { aBrief, emulatorProject } from '@aiprod/testing';
import {
  COST_LINE_BILLING_FIELDS,
  DirectorPlanCache,
  IdempotencyStore,
  TOMBSTONE_FIELDS,
  briefDigest,
  isErased,
  type Job,
} from '../src';

const env = emulatorProject('erasure', 'planner');
const { db, jobs: store } = env;
afterAll(() => env.close());

const spec = (i: number, prompt: string): ShotSpec => ({
  shotId: `s0${i}`,
  index: i,
  purpose: 'product',
  durationSeconds: 4,
  prompt,
  camera: 'static',
  palette: ['#000000', '#FFFFFF'],
  width: 320,
  height: 180,
  fps: 30,
});
const plan = {
  director: 'gemini:test',
  shotIds: ['s01', 's02'],
  width: 320,
  height: 180,
  fps: 30,
  endCardSeconds: 2,
  estimatedCostUsd: 1,
};

let n = 0;
/** A job with everything erasure must reach: shots with a cached clip, events, a reservation, a
 *  ledger line with creative fields, a render-cache entry, an idempotency record, a webhook
 *  delivery and a director plan of its brief. */
async function fullJob(tenantId: string, product = 'Trail shoe') {
  const jobId = `job_erase${++n}_${Date.now()}`;
  const brief = aBrief({ product });
  await store.createJob({ jobId, tenantId, brief, preset: 'social_quick' });
  await store.transition(jobId, 'QUEUED', 'PLANNING');
  await store.savePlan(
    jobId,
    plan,
    [1, 2].map((i) => ({ spec: spec(i, `a secret launch shot ${i} of ${product}`), backend: 'local' as const })),
    'RENDERING',
  );
  const cacheKey = `cache-${jobId}`;
  await db
    .collection('jobs')
    .doc(jobId)
    .collection('shots')
    .doc('s01')
    .update({
      'attempts.1': {
        attempt: 1,
        backend: 'local',
        status: 'PASSED',
        startedAt: Timestamp.now(),
        cache: { key: cacheKey, ttlSeconds: 3600, model: 'local', sizeBytes: 10 },
      },
    });
  await db
    .collection('renderCache')
    .doc(cacheKey)
    .set({ tenantId, clipUri: `local://tenants/${tenantId}/jobs/${jobId}/x.mp4` });
  await store.reserveSpend(jobId, 'held-1', 0.5, undefined);
  await store.addCost(jobId, 'line-1', 0.25, {
    shotId: 's01',
    attempt: 1,
    backend: 'local',
    model: 'local-v1',
    outcome: 'failed',
    seconds: 4,
    charged: true,
    errorClass: 'safety',
    message: 'the vendor refused: a secret launch shot',
    sent: { prompt: 'a secret launch shot' },
  });
  const idem = new IdempotencyStore(db);
  const begun = await idem.begin(tenantId, `create-${jobId}`, 'h');
  if (begun.kind !== 'started') throw new Error('idempotency claim failed');
  // As the gateway completes it: with the job the answer is about.
  await idem.complete(
    tenantId,
    `create-${jobId}`,
    begun.lease,
    { status: 202, body: JSON.stringify({ id: jobId, brief }), headers: { location: `/v1/jobs/${jobId}` } },
    jobId,
  );
  await db
    .collection('webhookDeliveries')
    .doc(`wh-${jobId}`)
    .set({ webhookId: `wh-${jobId}`, tenantId, jobId, body: JSON.stringify({ brief }) });
  await new DirectorPlanCache(db).store(`dp-${jobId}`, { tenantId, brief, director: 'gemini:test', plan: { p: 1 } });
  // A dead-lettered render request (its body holds the shot's prompt) and a rejected message.
  await db
    .collection('deadLetters')
    .doc(`dl-${jobId}`)
    .set({ jobId, topic: 'aiprod.render.local.v1', data: { spec: { prompt: 'a secret launch shot' } } });
  await db.collection('rejectedMessages').doc(`rm-${jobId}`).set({ jobId, topic: 'aiprod.render.local.v1' });
  return { jobId, tenantId, brief, cacheKey, idemKey: `create-${jobId}` };
}

type Full = Awaited<ReturnType<typeof fullJob>>;

/** Everything stored about a job, to compare before and after another job's erasure. */
async function snapshotOf(j: Full) {
  const jobRef = db.collection('jobs').doc(j.jobId);
  const sub = async (name: string) =>
    (await jobRef.collection(name).get()).docs
      .map((d) => ({ id: d.id, ...d.data() }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    job: (await jobRef.get()).data(),
    shots: await sub('shots'),
    events: (await sub('events')).length,
    costs: await sub('costs'),
    reservations: await sub('reservations'),
    renderCache: (await db.collection('renderCache').doc(j.cacheKey).get()).exists,
    webhook: (await db.collection('webhookDeliveries').doc(`wh-${j.jobId}`).get()).exists,
    director: (await db.collection('directorPlans').doc(`dp-${j.jobId}`).get()).exists,
    deadLetter: (await db.collection('deadLetters').doc(`dl-${j.jobId}`).get()).exists,
    rejected: (await db.collection('rejectedMessages').doc(`rm-${j.jobId}`).get()).exists,
    idempotency: (await db.collection('idempotency').where('tenantId', '==', j.tenantId).get()).docs
      .filter((d) => String(d.get('key')) === j.idemKey)
      .map((d) => d.id),
  };
}

describe('JobStore.erase', () => {
  it('refuses a job still running, and answers not_found for none', async () => {
    const j = await fullJob('t-run');
    expect(await store.erase(j.jobId, { by: 'key:abc' })).toEqual({ outcome: 'not_terminal', status: 'RENDERING' });
    expect((await store.getJob(j.jobId))?.brief).toEqual(j.brief);
    expect(await store.erase('job_nope', { by: 'key:abc' })).toEqual({ outcome: 'not_found' });
  });

  it('leaves a tombstone, erases every creative record, keeps billing; other jobs untouched; idempotent', async () => {
    const target = await fullJob('t-a', 'Secret shoe');
    const sibling = await fullJob('t-a', 'Other shoe'); // same tenant
    const foreign = await fullJob('t-b', 'Secret shoe'); // another tenant, same product
    const siblingBefore = await snapshotOf(sibling);
    const foreignBefore = await snapshotOf(foreign);
    expect(siblingBefore.idempotency).toHaveLength(1);

    await store.fail(target.jobId, 'render_failed', 'the vendor refused: a secret launch shot');
    const at = new Date('2026-12-07T10:00:00Z');
    const first = await store.erase(target.jobId, { by: 'key:abc', at });
    expect(first.outcome).toBe('erased');

    const stored = (await db.collection('jobs').doc(target.jobId).get()).data()!;
    expect(Object.keys(stored).sort()).toEqual([...TOMBSTONE_FIELDS].sort());
    expect(stored).toMatchObject({
      jobId: target.jobId,
      tenantId: 't-a',
      preset: 'social_quick',
      status: 'FAILED',
      costUsd: 0.25,
      erasedBy: 'key:abc',
    });
    expect((stored.erasedAt as Timestamp).toDate()).toEqual(at);
    expect(isErased(stored as Job)).toBe(true);
    expect(JSON.stringify(stored)).not.toMatch(/secret|shoe/i);

    const after = await snapshotOf(target);
    expect(after.shots).toEqual([]);
    expect(after.events).toBe(0);
    expect(after.reservations).toEqual([]);
    expect(after.renderCache).toBe(false);
    expect(after.webhook).toBe(false);
    expect(after.director).toBe(false);
    expect({ deadLetter: after.deadLetter, rejected: after.rejected }).toEqual({ deadLetter: false, rejected: false });
    expect(after.idempotency).toEqual([]);
    expect(after.costs).toHaveLength(1);
    const line = after.costs[0]!;
    expect(
      Object.keys(line)
        .filter((k) => k !== 'id')
        .every((k) => (COST_LINE_BILLING_FIELDS as readonly string[]).includes(k)),
    ).toBe(true);
    expect(line).toMatchObject({ costUsd: 0.25, backend: 'local', model: 'local-v1', outcome: 'failed', attempt: 1 });
    expect(line).not.toHaveProperty('message');
    expect(line).not.toHaveProperty('sent');

    expect(await snapshotOf(sibling)).toEqual(siblingBefore);
    expect(await snapshotOf(foreign)).toEqual(foreignBefore);

    // A late worker writes after the erasure; erasing again sweeps it and returns the same tombstone.
    await store.appendEvent(target.jobId, { key: 'late', type: 'shot.rendered', data: { prompt: 'secret' } });
    await db
      .collection('jobs')
      .doc(target.jobId)
      .collection('costs')
      .doc('late-line')
      .set({ costUsd: 0, at: Timestamp.now(), message: 'secret' });
    const again = await store.erase(target.jobId, { by: 'key:other', at: new Date() });
    expect(again).toEqual({
      outcome: 'already_erased',
      tombstone: first.outcome === 'erased' ? first.tombstone : null,
    });
    expect((await snapshotOf(target)).events).toBe(0);
    expect((await snapshotOf(target)).costs.find((c) => c.id === 'late-line')).not.toHaveProperty('message');
    expect((await db.collection('jobs').doc(target.jobId).get()).data()).toEqual(stored);
  });

  it('stores the brief digest on a director plan, scoped by tenant', () => {
    const brief = aBrief();
    expect(briefDigest('t1', brief)).toBe(briefDigest('t1', { ...brief }));
    expect(briefDigest('t1', brief)).not.toBe(briefDigest('t2', brief));
  });
});
