import { probe } from '@aiprod/media';
import { requireEmulators, waitFor } from '@aiprod/testing';
import { localBackend } from '../src/backends/local';
import { renderHarness } from './harness';

requireEmulators();
const h = renderHarness('render-local');
beforeAll(() => h.setUp(), 60_000);
afterAll(() => h.tearDown());

describe('the local render pool', () => {
  it('renders, stores the clip under the attempt key, writes a free ledger line and publishes shot.rendered', async () => {
    const { jobId, msg } = await h.plannedJob('local');
    await h.handle(h.deps(localBackend({ timeoutMs: 60_000 })), msg);

    const shot = await h.jobs.getShot(jobId, 's01');
    const attempt = shot!.attempts['1']!;
    expect(shot!.status).toBe('RENDERED');
    // The layout written out, not rebuilt with the function under test: stored clips must stay findable.
    expect(attempt.clipUri).toBe(h.storage.uri(`tenants/t1/jobs/${jobId}/shots/s01/attempt-1.mp4`));
    expect(attempt.tries).toEqual([expect.objectContaining({ backend: 'local', outcome: 'succeeded', costUsd: 0 })]);
    const media = await h.storage.withLocalFile(h.storage.keyFromUri(attempt.clipUri!), (p) => probe(p));
    expect(media.video).toMatchObject({ width: 1280, height: 720 });
    expect(media.durationSeconds).toBeCloseTo(6, 1);

    const ledger = await h.jobs.listCosts(jobId);
    expect(ledger).toEqual([
      expect.objectContaining({ backend: 'local', outcome: 'succeeded', costUsd: 0, shotId: 's01' }),
    ]);
    await waitFor(() => h.published['aiprod.shot.rendered.v1']!.find((m) => m.jobId === jobId), {
      timeoutMs: 10_000,
      what: 'shot.rendered',
    });
  });

  it('reuses a clip QA passed for the same shot in another job of the same tenant, and records the hit', async () => {
    const first = await h.plannedJob('local', { prompt: 'A lighthouse at night', seed: 11 });
    await h.handle(h.deps(localBackend({ timeoutMs: 60_000 })), first.msg);
    await h.jobs.passShot(first.jobId, 's01', 1, undefined);
    const second = await h.plannedJob('local', { prompt: 'A lighthouse at night', seed: 11 });
    await h.handle(h.deps(localBackend({ timeoutMs: 60_000 })), second.msg);

    const shot = await h.jobs.getShot(second.jobId, 's01');
    expect(shot!.status).toBe('RENDERED');
    expect(shot!.attempts['1']!.tries).toEqual([expect.objectContaining({ outcome: 'cache_hit', costUsd: 0 })]);
    const events = await h.jobs.listEvents(second.jobId);
    expect(events.map((e) => e.type)).toContain('render.cache_hit');
    // A retake (new seed) is a different picture: no hit.
    const retake = await h.plannedJob('local', { prompt: 'A lighthouse at night', seed: 12 });
    await h.handle(h.deps(localBackend({ timeoutMs: 60_000 })), retake.msg);
    expect((await h.jobs.getShot(retake.jobId, 's01'))!.attempts['1']!.tries![0]!.outcome).toBe('succeeded');
  });

  it('a redelivered request for a rendered attempt only re-publishes, and a canceled job is skipped', async () => {
    const { jobId, msg } = await h.plannedJob('local', { prompt: 'Redelivery' });
    const deps = h.deps(localBackend({ timeoutMs: 60_000 }));
    await h.handle(deps, msg);
    await h.handle(deps, msg);
    expect((await h.jobs.listCosts(jobId)).length).toBe(1);
    await waitFor(
      () => (h.published['aiprod.shot.rendered.v1']!.filter((m) => m.jobId === jobId).length >= 2 ? true : undefined),
      { timeoutMs: 10_000, what: 'two shot.rendered' },
    );

    const canceled = await h.plannedJob('local', { prompt: 'Canceled' });
    await h.jobs.transition(canceled.jobId, 'RENDERING', 'CANCELED');
    await h.handle(deps, canceled.msg);
    expect((await h.jobs.getShot(canceled.jobId, 's01'))!.status).toBe('PENDING');
  });
});
