import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  DEFAULT_FALLBACK_POLICY,
  PermanentError,
  type BackendName,
  type FallbackPolicy,
  type RenderRequest,
} from '@aiprod/contracts';
import { runFfmpeg } from '@aiprod/media';
import { requireEmulators, startRunwayServer, waitFor, type RunwayServer } from '@aiprod/testing';
import { parseBackendModels, resolveModels } from '@aiprod/vendor-catalogue';
import { runwayBackend } from '../src/backends/runway';
import { renderHarness } from './harness';

// A Runway (gen4.5) task for a shot with its product image fails: where the fallback chain takes
// the shot depends on what the other pools' models (BACKEND_MODELS) can take.
requireEmulators();
const h = renderHarness('render-reference-routing');
let runway: RunwayServer;
const API_KEY = 'key_test_runway_references_0123';
let product: { path: string; sha256: string };
const png = join(tmpdir(), `reference-routing-${process.pid}.png`);

beforeAll(async () => {
  await h.setUp();
  runway = await startRunwayServer({ apiKey: API_KEY });
  const file = png;
  await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x90', '-frames:v', '1', '-y', file], { timeoutMs: 20_000 });
  const bytes = readFileSync(file);
  const path = 'tenants/t1/jobs/reference-routing/references/ref-1.png';
  await h.storage.putBytes(path, bytes, { contentType: 'image/png' });
  product = { path, sha256: createHash('sha256').update(bytes).digest('hex') };
}, 60_000);
afterAll(async () => {
  await runway?.close();
  await h.tearDown();
  rmSync(png, { force: true });
});

function policy(fallbackTo: BackendName[]): FallbackPolicy {
  const p = structuredClone(DEFAULT_FALLBACK_POLICY);
  for (const b of Object.values(p.backends)) b.backoff = { initialMs: 10, maxMs: 500, multiplier: 2 };
  p.backends.runway.fallbackTo = fallbackTo;
  return p;
}

/** A Runway pool whose one task is refused for safety (a fallback at once), with the other pools' models. */
async function failOnRunway(fallbackTo: BackendName[], backendModels: string) {
  runway.scriptTask({ outcome: { failureCode: 'SAFETY.INPUT.TEXT' } });
  // 8 s: a length wan, Veo and Runway all make, so only the image decides.
  const { jobId, msg } = await h.plannedJob('runway', {
    prompt: 'The bottle on a rock',
    durationSeconds: 8,
    references: [{ id: 'ref-1', role: 'product', contentType: 'image/png', ...product }],
  });
  const backend = runwayBackend({ apiKey: API_KEY, baseUrl: runway.url, model: 'gen4.5', pollIntervalMs: 20 });
  const deps = h.deps(backend, {
    policy: policy(fallbackTo),
    models: resolveModels(parseBackendModels(backendModels)),
  });
  await h.handle(deps, msg);
  const shot = (await h.jobs.getShot(jobId, 's01'))!;
  const events = await h.jobs.listEvents(jobId);
  return { jobId, shot, events };
}

const handedTo = (backend: BackendName, jobId: string) =>
  waitFor(
    () => h.published[`aiprod.render.${backend}.v1`]!.find((m) => m.jobId === jobId) as RenderRequest | undefined,
    { timeoutMs: 10_000, what: `the hand-over to ${backend}` },
  );

describe('render fallback by what the shot needs', () => {
  it('skips a wan t2v replicate pool for a later pool whose model takes the image (veo)', async () => {
    const { jobId, shot, events } = await failOnRunway(
      ['replicate', 'veo', 'local'],
      'replicate=wan-video/wan-2.2-t2v-fast,veo=veo-3.1-fast-generate-001',
    );
    expect(shot.backend).toBe('veo');
    const request = await handedTo('veo', jobId);
    expect(request.spec.references?.map((r) => r.id)).toEqual(['ref-1']);
    const decision = events.find((e) => e.type === 'render.decision')!;
    expect(decision.data).toMatchObject({ backend: 'runway', class: 'safety', action: 'fallback', to: 'veo' });
    expect(String(decision.data.why)).toContain("veo before replicate: it takes the shot's image");
    expect(events.map((e) => e.type)).not.toContain('render.reference_dropped');
  });

  it('goes to replicate when its configured model takes the image (seedance), recording no drop', async () => {
    const { jobId, shot, events } = await failOnRunway(
      ['replicate', 'veo', 'local'],
      'replicate=bytedance/seedance-1-lite',
    );
    expect(shot.backend).toBe('replicate');
    await handedTo('replicate', jobId);
    expect(events.map((e) => e.type)).not.toContain('render.reference_dropped');
  });

  it('when no backend left in the chain takes an image, hands over anyway and records the drop with its reason', async () => {
    const { jobId, shot, events } = await failOnRunway(['replicate', 'local'], 'replicate=wan-video/wan-2.2-t2v-fast');
    expect(shot.backend).toBe('replicate');
    await handedTo('replicate', jobId);
    const dropped = events.filter((e) => e.type === 'render.reference_dropped');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.data).toEqual({
      shotId: 's01',
      attempt: 1,
      from: 'runway',
      to: 'replicate',
      model: 'wan-video/wan-2.2-t2v-fast',
      references: ['ref-1'],
      reason:
        "replicate (wan-video/wan-2.2-t2v-fast) takes no image; no backend left in runway's fallback chain that this deployment runs takes one",
    });
  });
});

describe('a reference that cannot be sent', () => {
  it('a reference missing from storage fails the attempt with its reason before anything is created or reserved', async () => {
    const before = runway.createRequests;
    const { jobId, msg } = await h.plannedJob('runway', {
      prompt: 'The bottle on a rock',
      durationSeconds: 8,
      references: [
        {
          id: 'ref-9',
          role: 'product',
          contentType: 'image/png',
          path: 'tenants/t1/jobs/reference-routing/references/erased.png',
          sha256: product.sha256,
        },
      ],
    });
    const backend = runwayBackend({ apiKey: API_KEY, baseUrl: runway.url, model: 'gen4.5', pollIntervalMs: 20 });
    const error = await h.handle(h.deps(backend, { policy: policy(['replicate']) }), msg).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ reason: 'render_failed' });
    // Recorded as failed, like a budget refusal: not left RENDERING for a stale-attempt sweep to find.
    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.status).toBe('FAILED');
    expect(shot.attempts['1']).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/ref-9 is missing/) });
    expect(shot.attempts['1']!.lease ?? null).toBeNull();
    expect(shot.attempts['1']!.tries).toEqual([]);
    expect(runway.createRequests).toBe(before);
    expect((await h.jobs.getJob(jobId))!.reservedUsd ?? 0).toBe(0);
  });
});
