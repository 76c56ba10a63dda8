import request from 'supertest';
import { Timestamp } from '@google-cloud/firestore';
import { COST_LINE_BILLING_FIELDS, IdempotencyStore, TOMBSTONE_FIELDS, type JobStore } from '@aiprod/job-store';
import {
  eraseJobFiles,
  jobPrefix,
  jobReferenceKey,
  previewKey,
  qaEvidencePrefix,
  shotClipKey,
  tenantPrefix,
  voiceTrackKey,
} from '@aiprod/storage';
import { idempotent } from '../src/idempotency';
import { jobIn, startHarness, type Harness } from './harness';

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

let h: Harness;
beforeAll(async () => {
  h = await startHarness('gateway-erase', {
    deps: ({ db }) => ({ idempotency: idempotent(new IdempotencyStore(db)) }),
  });
});
afterAll(() => h.close());

/** Files in every folder the pipeline writes under a job, and the records of a rendered job. */
async function populate(tenantId: string, jobId: string): Promise<void> {
  const job = { tenantId, jobId };
  const attempt = { ...job, shotId: 's01', attempt: 1 };
  await h.storage.putBytes(shotClipKey(attempt), Buffer.from('clip'));
  await h.storage.putBytes(`${qaEvidencePrefix(attempt)}/frame-1.jpg`, Buffer.from('frame'));
  await h.storage.putBytes(previewKey({ ...job, planVersion: 1 }), Buffer.from('preview'));
  await h.storage.putBytes(jobReferenceKey(job, 'ref-1', 'png'), Buffer.from('png'));
  await h.storage.putBytes(voiceTrackKey(job, 'en'), Buffer.from('wav'));
  const jobRef = h.db.collection('jobs').doc(jobId);
  await jobRef
    .collection('shots')
    .doc('s01')
    .set({ jobId, shotId: 's01', index: 1, spec: { prompt: 'a secret launch shot' }, status: 'PASSED' });
  await h.jobs.appendEvent(jobId, {
    key: 'shot-s01',
    type: 'shot.rendering',
    data: { prompt: 'a secret launch shot' },
  });
  await h.jobs.addCost(jobId, 'line-1', 0.4, {
    shotId: 's01',
    attempt: 1,
    backend: 'runway',
    model: 'gen4_turbo',
    outcome: 'succeeded',
    seconds: 5,
    charged: true,
    message: 'vendor text about a secret launch shot',
    sent: { prompt: 'a secret launch shot' },
  });
}

/** What a job has stored (files and records), for comparing before and after another's erasure. */
async function everythingOf(jobId: string, tenantId: string) {
  const jobRef = h.db.collection('jobs').doc(jobId);
  const docs = async (name: string) =>
    (await jobRef.collection(name).get()).docs
      .map((d) => ({ id: d.id, ...d.data() }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    files: (await h.storage.list(jobPrefix({ tenantId, jobId }))).map((o) => ({ key: o.key, size: o.sizeBytes })),
    job: (await jobRef.get()).data(),
    shots: await docs('shots'),
    events: await docs('events'),
    costs: await docs('costs'),
  };
}

const jobRoutes = (jobId: string) =>
  [
    ['get', `/v1/jobs/${jobId}`],
    ['get', `/v1/jobs/${jobId}/outputs`],
    ['get', `/v1/jobs/${jobId}/plan`],
    ['get', `/v1/jobs/${jobId}/events`],
    ['patch', `/v1/jobs/${jobId}/plan`],
    ['post', `/v1/jobs/${jobId}/plan/changes`],
    ['post', `/v1/jobs/${jobId}/approve`],
    ['post', `/v1/jobs/${jobId}/cancel`],
    ['post', `/v1/jobs/${jobId}/review-link`],
  ] as const;

describe('DELETE /v1/jobs/{id}', () => {
  it('erases a delivered job: no file, no creative field; 410 everywhere after; repeat answers the same', async () => {
    const jobId = await jobIn(h, 'DELIVERED');
    await populate(h.tenantA, jobId);
    const sibling = await jobIn(h, 'DELIVERED');
    await populate(h.tenantA, sibling);
    const foreign = await jobIn(h, 'DELIVERED', h.tenantB);
    await populate(h.tenantB, foreign);
    const siblingBefore = await everythingOf(sibling, h.tenantA);
    const foreignBefore = await everythingOf(foreign, h.tenantB);
    expect(siblingBefore.files).toHaveLength(6);
    expect(foreignBefore.files).toHaveLength(6);
    expect(await h.storage.list(jobPrefix({ tenantId: h.tenantA, jobId }))).toHaveLength(6);

    // A share link made before the erasure: it cannot erase, and reads 410 after.
    const link = await request(h.app).post(`/v1/jobs/${jobId}/review-link`).set(bearer(h.keys.readWrite)).send({});
    expect(link.status).toBe(201);
    const token = new URLSearchParams(new URL(link.body.url as string).hash.slice(1)).get('t')!;
    expect((await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(token))).status).toBe(403);
    // Another tenant's job is as missing as any other.
    expect((await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.other))).status).toBe(404);
    expect((await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.read))).status).toBe(403);

    const erased = await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.write));
    expect(erased.status).toBe(200);
    expect(Object.keys(erased.body as object).sort()).toEqual(
      ['costUsd', 'createdAt', 'erasedAt', 'id', 'preset', 'status', 'updatedAt'].sort(),
    );
    expect(erased.body).toMatchObject({ id: jobId, status: 'DELIVERED', costUsd: 0.4 });

    // Storage: nothing left under the job's folder.
    expect(await h.storage.list(jobPrefix({ tenantId: h.tenantA, jobId }))).toEqual([]);
    // Firestore: the tombstone's exact fields, no shot, no event, billing-only ledger lines.
    const after = await everythingOf(jobId, h.tenantA);
    expect(Object.keys(after.job!).sort()).toEqual([...TOMBSTONE_FIELDS].sort());
    expect(after.job).toMatchObject({ status: 'DELIVERED', erasedBy: expect.stringMatching(/^key:/) });
    expect(after.shots).toEqual([]);
    expect(after.events).toEqual([]);
    expect(after.costs).toHaveLength(1);
    for (const line of after.costs) {
      for (const field of Object.keys(line).filter((k) => k !== 'id')) {
        expect(COST_LINE_BILLING_FIELDS as readonly string[]).toContain(field);
      }
    }
    expect(after.costs[0]).toMatchObject({
      costUsd: 0.4,
      backend: 'runway',
      model: 'gen4_turbo',
      outcome: 'succeeded',
    });
    expect(JSON.stringify(after)).not.toMatch(/secret/);

    // Every route of the job answers 410 problem+json, for a key and for the share link.
    for (const [method, path] of jobRoutes(jobId)) {
      const res = await request(h.app)[method](path).set(bearer(h.keys.admin)).set('If-Match', '"1"').send({});
      expect({ method, path, status: res.status, type: res.type }).toEqual({
        method,
        path,
        status: 410,
        type: 'application/problem+json',
      });
      expect(res.body).toMatchObject({ type: '/problems/gone', status: 410, erasedAt: erased.body.erasedAt });
    }
    expect((await request(h.app).get(`/v1/jobs/${jobId}`).set(bearer(token))).status).toBe(410);
    // The ledger stays readable for the tenant's invoice, with its billing fields only.
    const costs = await request(h.app).get(`/v1/jobs/${jobId}/costs`).set(bearer(h.keys.read));
    expect(costs.status).toBe(200);
    expect((costs.body as { lines: unknown[] }).lines).toHaveLength(1);
    expect(JSON.stringify(costs.body)).not.toMatch(/secret/);
    expect((await request(h.app).get('/problems/gone')).status).toBe(200);
    // Another tenant still learns nothing: 404, not 410.
    expect((await request(h.app).get(`/v1/jobs/${jobId}`).set(bearer(h.keys.other))).status).toBe(404);

    // The list shows the tombstone, without its product.
    const list = await request(h.app).get('/v1/jobs?limit=100').set(bearer(h.keys.read));
    const row = (list.body.jobs as Record<string, unknown>[]).find((j) => j.id === jobId);
    expect(row).toEqual(erased.body);

    // A late upload (a worker still running) is swept by a repeat, which answers the same.
    await h.storage.putBytes(
      shotClipKey({ tenantId: h.tenantA, jobId, shotId: 's02', attempt: 1 }),
      Buffer.from('late'),
    );
    const again = await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.write));
    expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: erased.body });
    expect(await h.storage.list(jobPrefix({ tenantId: h.tenantA, jobId }))).toEqual([]);
    // The exported step the retention sweeper calls does the same.
    await h.storage.putBytes(voiceTrackKey({ tenantId: h.tenantA, jobId }, 'de'), Buffer.from('late'));
    expect(await eraseJobFiles(h.storage, { tenantId: h.tenantA, jobId })).toBe(1);

    // The same tenant's other job and another tenant's job are untouched.
    expect(await everythingOf(sibling, h.tenantA)).toEqual(siblingBefore);
    expect(await everythingOf(foreign, h.tenantB)).toEqual(foreignBefore);
    expect((await h.storage.list(tenantPrefix(h.tenantB))).length).toBeGreaterThanOrEqual(6);
  });

  it('cancels a rendering job first (the render pools are told), then erases it', async () => {
    const jobId = await jobIn(h, 'RENDERING');
    await populate(h.tenantA, jobId);
    const res = await request(h.app)
      .delete(`/v1/jobs/${jobId}`)
      .set(bearer(h.keys.write))
      .set('Idempotency-Key', `erase-${jobId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: jobId, status: 'CANCELED' });
    expect(await h.storage.list(jobPrefix({ tenantId: h.tenantA, jobId }))).toEqual([]);
    const stored = (await h.db.collection('jobs').doc(jobId).get()).data()!;
    expect(Object.keys(stored).sort()).toEqual([...TOMBSTONE_FIELDS].sort());
    expect(stored.status).toBe('CANCELED');
    // The cancel went out as it does for POST /cancel.
    await waitFor(() =>
      h.published('aiprod.job.finished.v1').some((m) => m.jobId === jobId && m.status === 'CANCELED'),
    );
    // A keyed repeat replays the first answer.
    const replay = await request(h.app)
      .delete(`/v1/jobs/${jobId}`)
      .set(bearer(h.keys.write))
      .set('Idempotency-Key', `erase-${jobId}`);
    expect({ status: replay.status, body: replay.body, replayed: replay.get('Idempotent-Replayed') }).toEqual({
      status: 200,
      body: res.body,
      replayed: 'true',
    });
  });

  it('waits for a canceled shot to stop at its vendor before erasing its record (503, Retry-After), then erases', async () => {
    const jobId = await jobIn(h, 'RENDERING');
    await populate(h.tenantA, jobId);
    const shot = h.db.collection('jobs').doc(jobId).collection('shots').doc('s01');
    // A vendor task still running: only this record lets its pool cancel it and book its cost.
    await shot.update({ status: 'RENDERING' });
    const first = await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.write));
    expect(first.status).toBe(503);
    expect(first.get('Retry-After')).toBe('30');
    expect((first.body as { detail: string }).detail).toMatch(/still stopping at their vendors/);
    // Canceled, not erased: the record and its files are all still there.
    const stored = (await h.db.collection('jobs').doc(jobId).get()).data()!;
    expect(stored).toMatchObject({ status: 'CANCELED', brief: expect.any(Object) });
    expect((await shot.get()).exists).toBe(true);
    expect((await h.storage.list(jobPrefix({ tenantId: h.tenantA, jobId }))).length).toBeGreaterThan(0);
    // The pool stopped it; now the erasure goes through.
    await shot.update({ status: 'FAILED' });
    const second = await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.write));
    expect(second.status).toBe(200);
    expect((await shot.get()).exists).toBe(false);
  });

  it('answers 404 for a job that never was', async () => {
    const res = await request(h.app).delete('/v1/jobs/job_never_was').set(bearer(h.keys.write));
    expect(res.status).toBe(404);
  });

  it('keeps a tombstone that a worker wrote to after the erasure free of creative fields on a repeat', async () => {
    const jobId = await jobIn(h, 'FAILED');
    expect((await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.write))).status).toBe(200);
    const jobs: JobStore = h.jobs;
    await jobs.appendEvent(jobId, { key: 'late', type: 'shot.rendered', data: { prompt: 'secret' } });
    await h.db
      .collection('jobs')
      .doc(jobId)
      .collection('costs')
      .doc('late')
      .set({ costUsd: 0, at: Timestamp.now(), sent: { prompt: 'secret' } });
    expect((await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.write))).status).toBe(200);
    const after = await everythingOf(jobId, h.tenantA);
    expect(after.events).toEqual([]);
    expect(JSON.stringify(after)).not.toMatch(/secret/);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a keyed create retried after its job was erased', () => {
  it('answers 410 Gone, not the tombstone as a new job', async () => {
    const key = `create-then-erase-${Date.now()}`;
    const brief = {
      product: 'Aurora',
      brand: { name: 'Aurora' },
      keyMessage: 'Meet Aurora',
      durationSeconds: 15,
      aspectRatios: ['16:9'],
    };
    const created = await request(h.app)
      .post('/v1/jobs')
      .set(bearer(h.keys.write))
      .set('Idempotency-Key', key)
      .send(brief);
    expect(created.status).toBe(202);
    const jobId = (created.body as { id: string }).id;
    await h.jobs.transition(jobId, ['QUEUED', 'PLANNING'], 'FAILED');
    expect((await request(h.app).delete(`/v1/jobs/${jobId}`).set(bearer(h.keys.write))).status).toBe(200);
    const retried = await request(h.app)
      .post('/v1/jobs')
      .set(bearer(h.keys.write))
      .set('Idempotency-Key', key)
      .send(brief);
    expect(retried.status).toBe(410);
    expect((retried.body as { erasedAt: string | null }).erasedAt).toEqual(expect.any(String));
  });
});
