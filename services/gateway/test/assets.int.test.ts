import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { problemTypeUri, type ShotReference } from '@aiprod/contracts';
import { recordJobReferences, type JobReference } from '@aiprod/job-store';
import { runFfmpeg } from '@aiprod/media';
import { tenantAssetKey } from '@aiprod/storage';
import { aPng } from '@aiprod/testing';
import type { PlanViewBody } from '../src/openapi/plan-schemas';
import { ASSET_MAX_BYTES } from '../src/routes/assets';
import { BRIEF, plannedJob, startHarness, type Harness } from './harness';
import { SpecChecker } from './spec-checker';

let h: Harness;
const spec = new SpecChecker();
/** Two seconds of a tone as MP3, made by ffmpeg: a music track a client could upload. */
let mp3 = Buffer.alloc(0);

beforeAll(async () => {
  h = await startHarness('gateway-assets');
  const dir = await mkdtemp(join(tmpdir(), 'gateway-assets-'));
  try {
    const file = join(dir, 'bed.mp3');
    await runFfmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'libmp3lame', '-y', file], {
      timeoutMs: 20_000,
    });
    mp3 = await readFile(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 30_000);
afterAll(async () => {
  await h?.close();
});

async function upload(bytes: Buffer, contentType: string, key = h.keys.readWrite) {
  const res = await request(h.app)
    .post('/v1/assets')
    .set('Authorization', `Bearer ${key}`)
    .set('Content-Type', contentType)
    .send(bytes);
  spec.check('post', '/v1/assets', res);
  return res;
}
async function call(method: 'get' | 'post' | 'patch', url: string, key: string, body?: unknown, ifMatch?: string) {
  let r = request(h.app)[method](url).set('Authorization', `Bearer ${key}`);
  if (ifMatch) r = r.set('If-Match', ifMatch);
  const res = await (body !== undefined ? r.send(body as object) : r);
  spec.check(method, url, res);
  return res;
}
const problemOf = (res: request.Response) => {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.body as { type: string; detail: string; errors?: { field: string; rule: string; message: string }[] };
};

describe('POST /v1/assets', () => {
  it('stores a PNG under the tenant and answers 201 with what it read from the bytes', async () => {
    const png = aPng(48, 30);
    const res = await upload(png, 'image/png');
    expect(res.status).toBe(201);
    const body = res.body as { assetId: string; contentType: string; width: number; height: number; sizeBytes: number };
    expect(body).toMatchObject({ contentType: 'image/png', width: 48, height: 30, sizeBytes: png.length });
    expect(body.assetId).toMatch(/^asset_[0-9a-f]{24}$/);
    expect(res.headers.location).toBe(`/v1/assets/${body.assetId}`);
    expect(await h.storage.stat(tenantAssetKey(h.tenantA, body.assetId))).toEqual({ sizeBytes: png.length });

    const read = await call('get', `/v1/assets/${body.assetId}`, h.keys.read);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
    // Another tenant's asset reads exactly like a missing one.
    const crossed = await call('get', `/v1/assets/${body.assetId}`, h.keys.other);
    expect(crossed.status).toBe(404);
    expect(problemOf(crossed).type).toBe(problemTypeUri('not_found'));
  });

  it('refuses bytes that are not the declared image (422), whatever the header says', async () => {
    const html = await upload(Buffer.from('<!doctype html><p>a PNG, honest</p>'), 'image/png');
    expect(html.status).toBe(422);
    expect(problemOf(html).type).toBe(problemTypeUri('unprocessable'));
    expect(problemOf(html).errors).toEqual([expect.objectContaining({ field: '/body', rule: 'fileFormat' })]);
    // A real PNG declared as a JPEG is refused as well: what is stored is what it says it is.
    const mislabelled = await upload(aPng(8, 8), 'image/jpeg');
    expect(mislabelled.status).toBe(422);
    expect(problemOf(mislabelled).errors![0]!.message).toBe('is a image/png file, not image/jpeg');
  });

  it('refuses a type that is not PNG, JPEG or WebP (415) and a body over 10 MB (413)', async () => {
    for (const type of ['image/gif', 'application/json', 'text/plain']) {
      const res = await upload(Buffer.from('GIF89a'), type);
      expect(res.status).toBe(415);
      expect(problemOf(res).type).toBe(problemTypeUri('unsupported_media_type'));
    }
    const big = Buffer.concat([aPng(16, 16), Buffer.alloc(ASSET_MAX_BYTES)]);
    const res = await upload(big, 'image/png');
    expect(res.status).toBe(413);
    expect(problemOf(res).detail).toBe('the image is larger than 10 MB');
  });

  it('stores an audio file (audio/mpeg) and answers 201 without width or height', async () => {
    const res = await upload(mp3, 'audio/mpeg');
    expect(res.status).toBe(201);
    const body = res.body as Record<string, unknown>;
    expect(body).toMatchObject({ contentType: 'audio/mpeg', sizeBytes: mp3.length });
    expect(body).not.toHaveProperty('width');
    expect(body).not.toHaveProperty('height');
    expect(await h.storage.stat(tenantAssetKey(h.tenantA, body.assetId as string))).toEqual({ sizeBytes: mp3.length });
    const read = await call('get', `/v1/assets/${body.assetId as string}`, h.keys.read);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
  });

  it('needs jobs:write', async () => {
    const res = await upload(aPng(8, 8), 'image/png', h.keys.read);
    expect(res.status).toBe(403);
  });
});

describe('a brief naming assets', () => {
  let mine = '';
  let theirs = '';
  beforeAll(async () => {
    mine = ((await upload(aPng(20, 20), 'image/png')).body as { assetId: string }).assetId;
    theirs = ((await upload(aPng(20, 20), 'image/png', h.keys.other)).body as { assetId: string }).assetId;
  });

  const withReferences = (referenceImages: unknown[]) => ({ ...BRIEF, referenceImages });

  it("is refused (422, naming the field) when an asset is not the tenant's, on POST /v1/jobs and estimates", async () => {
    const brief = withReferences([
      'https://img.example.com/look.jpg',
      { assetId: mine, role: 'product' },
      { assetId: theirs, role: 'brand' },
    ]);
    for (const url of ['/v1/jobs', '/v1/estimates']) {
      const res = await call('post', url, h.keys.readWrite, brief);
      expect(res.status).toBe(422);
      expect(problemOf(res).type).toBe(problemTypeUri('unprocessable'));
      expect(problemOf(res).errors).toEqual([
        { field: '/referenceImages/2/assetId', rule: 'ownedAsset', message: expect.stringContaining('not an asset') },
      ]);
    }
    const ids = (await h.jobs.listJobsForTenant(h.tenantA, { limit: 100 })).jobs.map((j) => j.brief.referenceImages);
    expect(ids.some((refs) => JSON.stringify(refs ?? []).includes(theirs))).toBe(false);
  });

  it('is accepted with its own assets and bare URLs (the original form), and stored as sent', async () => {
    const references = [
      'https://img.example.com/look.jpg',
      { assetId: mine, role: 'product', description: 'the shoe, side view' },
      { url: 'https://img.example.com/logo.png', role: 'brand' },
    ];
    const res = await call('post', '/v1/jobs', h.keys.readWrite, withReferences(references));
    expect(res.status).toBe(202);
    const job = await h.jobs.getJob((res.body as { id: string }).id);
    expect(job!.brief.referenceImages).toEqual(references);
  });

  it.each([
    [
      'both url and assetId',
      { url: 'https://img.example.com/a.png', assetId: 'asset_000000000000000000000000', role: 'style' },
    ],
    ['neither', { role: 'product' }],
    ['an unknown role', { url: 'https://img.example.com/a.png', role: 'mood' }],
    [
      'a description over 120 characters',
      { url: 'https://img.example.com/a.png', role: 'style', description: 'x'.repeat(121) },
    ],
    ['a malformed asset id', { assetId: '../../tenant-b/assets/x', role: 'product' }],
  ])('is not valid with %s (400)', async (_what, reference) => {
    const res = await call('post', '/v1/jobs', h.keys.readWrite, withReferences([reference]));
    expect(res.status).toBe(400);
    expect(problemOf(res).errors!.some((e) => e.field.startsWith('/referenceImages/0'))).toBe(true);
  });

  it('is refused (422 assetKind, naming the field) when an image is named as music or an audio file as a reference', async () => {
    const audio = ((await upload(mp3, 'audio/mpeg')).body as { assetId: string }).assetId;
    const asMusic = await call('post', '/v1/jobs', h.keys.readWrite, { ...BRIEF, music: { assetId: mine } });
    expect(asMusic.status).toBe(422);
    expect(problemOf(asMusic).errors).toEqual([
      { field: '/music/assetId', rule: 'assetKind', message: expect.stringContaining('image/png') },
    ]);
    const asImage = await call(
      'post',
      '/v1/estimates',
      h.keys.readWrite,
      withReferences([{ assetId: audio, role: 'product' }]),
    );
    expect(asImage.status).toBe(422);
    expect(problemOf(asImage).errors).toEqual([
      { field: '/referenceImages/0/assetId', rule: 'assetKind', message: expect.stringContaining('audio/mpeg') },
    ]);
    // Each in its place, the same two assets are accepted.
    const right = await call('post', '/v1/jobs', h.keys.readWrite, {
      ...withReferences([{ assetId: mine, role: 'product' }]),
      music: { assetId: audio },
    });
    expect(right.status).toBe(202);
  });

  it('is refused with more than five images', async () => {
    const res = await call(
      'post',
      '/v1/jobs',
      h.keys.readWrite,
      withReferences(Array(6).fill({ assetId: mine, role: 'style' })),
    );
    expect(res.status).toBe(400);
  });
});

describe('the plan view and edits', () => {
  it('shows the stored references and keeps them on every shot across an edit, which cannot change them', async () => {
    const id = await plannedJob(h, { enabledBackends: ['local'] });
    // What the planner stores (services/planner resolve-references): the job's list, copies on each shot.
    const stored: JobReference = {
      id: 'ref-1',
      role: 'product',
      path: `tenants/${h.tenantA}/jobs/${id}/references/ref-1.png`,
      contentType: 'image/png',
      sizeBytes: 99,
      sha256: 'a'.repeat(64),
      width: 20,
      height: 20,
      source: { kind: 'asset', assetId: 'asset_000000000000000000000001' },
    };
    const carried: ShotReference = {
      id: 'ref-1',
      role: 'product',
      path: stored.path,
      contentType: 'image/png',
      sha256: stored.sha256,
    };
    // recordJobReferences writes only while PLANNING; this job is past it, so write as the planner would have.
    expect((await recordJobReferences(h.db, id, [stored])).changed).toBe(false);
    await h.db
      .collection('jobs')
      .doc(id)
      .update({ references: [stored] });
    for (const shot of await h.jobs.listShots(id)) {
      await h.db
        .collection('jobs')
        .doc(id)
        .collection('shots')
        .doc(shot.shotId)
        .update({ 'spec.references': [carried] });
    }

    const plan = (await call('get', `/v1/jobs/${id}/plan`, h.keys.read)).body as PlanViewBody;
    expect(plan.references).toEqual([
      {
        id: 'ref-1',
        role: 'product',
        source: 'asset',
        contentType: 'image/png',
        width: 20,
        height: 20,
        sizeBytes: 99,
        sha256: stored.sha256,
        description: null,
      },
    ]);
    expect(plan.shots.every((s) => s.references.join() === 'ref-1')).toBe(true);

    const refused = await call(
      'patch',
      `/v1/jobs/${id}/plan`,
      h.keys.readWrite,
      {
        shots: [{ id: plan.shots[0]!.id, references: [] }],
      },
      '"1"',
    );
    expect(refused.status).toBe(400);

    const edited = await call(
      'patch',
      `/v1/jobs/${id}/plan`,
      h.keys.readWrite,
      {
        shots: [{ id: plan.shots[0]!.id, prompt: 'The shoe on a wet track at night' }],
      },
      '"1"',
    );
    expect(edited.status).toBe(200);
    expect((edited.body as PlanViewBody).version).toBe(2);
    for (const shot of await h.jobs.listShots(id)) expect(shot.spec.references).toEqual([carried]);
  });
});

describe('the OpenAPI document against this run', () => {
  it('documented every status and body the asset routes answered with', () => {
    expect(spec.failures).toEqual([]);
  });
});
