import { renderTopicFor } from '@aiprod/contracts';
import { getMonthlySpend, ShotAttempts, type AttemptRef } from '@aiprod/job-store';
import { requireEmulators, startVeoServer, waitFor, type VeoServer } from '@aiprod/testing';
import type { RenderDeps } from '../src/app';
import { renderHarness } from './harness';
import { expectedCost, reservationKey } from '../src/steps/spend';
import { resendStaleAttempts } from '../src/steps/stale-attempts';
import { moneyOf, recordPublishes, testPolicy, veoTestPool } from './money-kit';

/**
 * Findings of a review of the render pool's money path, each played through the real emulators
 * and the vendors' protocol test servers: a crash between the job's ledger and the tenant's month,
 * a create cut off in a job that then ended, and a run of "task gone" answers for a live task.
 */

requireEmulators();
const h = renderHarness('render-review');
let veo: VeoServer;

beforeAll(async () => {
  await h.setUp();
  veo = await startVeoServer();
}, 60_000);
afterAll(async () => {
  await veo?.close();
  await h.tearDown();
});

const veoPool = () => veoTestPool(veo.url);

/** The tenant's month refuses the next write once, as a crash between the two writes would leave it. */
function monthFailsOnce(deps: RenderDeps): RenderDeps {
  const record = deps.recordSpend;
  let failed = false;
  deps.recordSpend = (...args) => {
    if (failed) return record(...args);
    failed = true;
    return Promise.reject(new Error('the process died before the month was written'));
  };
  return deps;
}

describe('a crash between the job’s ledger line and the tenant’s month', () => {
  it('a charged create with no task id: the redelivery adds it to the month, once', async () => {
    const prompt = 'Veo, month written after a crash';
    // Vertex accepts the create but its answer comes back cut: an operation that bills, its name lost.
    veo.enqueueCreate({ malformed: true });
    const month = await getMonthlySpend(h.db, 't1');
    const { jobId, msg } = await h.plannedJob('veo', { prompt });
    const first = monthFailsOnce(h.deps(veoPool(), { policy: testPolicy(), workerId: 'pod-a' }));
    await expect(h.handle(first, msg, 'm-1')).rejects.toThrow(/before the month was written/);
    const crashed = await moneyOf(h, jobId);
    expect(crashed.lines).toEqual([expect.objectContaining({ outcome: 'failed', charged: true })]);
    expect(crashed.reservedUsd).toBe(0);

    // Pub/Sub redelivers the message to a restarted worker, and once more after it finished.
    const restarted = h.deps(veoPool(), { policy: testPolicy(), workerId: 'pod-b' });
    await h.handle(restarted, msg, 'm-1');
    await h.handle(restarted, msg, 'm-1');

    expect((await h.jobs.getShot(jobId, 's01'))!.status).toBe('RENDERED');
    const ours = new Set(veo.operations.filter((o) => o.prompt === prompt).map((o) => o.name));
    const billed = veo.billedTasks.filter((t) => ours.has(t.taskId));
    expect(billed).toHaveLength(2);
    const billedUsd = Math.round(billed.reduce((s, t) => s + t.usd, 0) * 1e6) / 1e6;
    const money = await moneyOf(h, jobId);
    expect(money.ledgerUsd).toBe(billedUsd);
    expect(money.costUsd).toBe(billedUsd);
    expect((await getMonthlySpend(h.db, 't1')) - month).toBeCloseTo(billedUsd, 6);
  });
});

describe('a create cut off by a crash in a job that then finished', () => {
  it.each(['FAILED', 'DELIVERED'] as const)(
    'the job %s: the sweep re-sends it and the create is booked as unconfirmed, at the expected price',
    async (end) => {
      const deps = h.deps(veoPool(), { policy: testPolicy(), leaseMs: 300 });
      const sent = recordPublishes(deps);
      const { jobId, msg } = await h.plannedJob('veo', { prompt: `Veo, cut off, then the job is ${end}` });
      const expected = expectedCost(deps, msg);
      expect(expected).toBeGreaterThan(0);
      // A worker reserved the create's spend, marked it, sent it, and died before any answer.
      const ref: AttemptRef = { jobId, shotId: 's01', attempt: 1, backend: 'veo', holder: 'dead:m-1:x' };
      expect(await new ShotAttempts(h.jobs).claim(ref, ref.holder!, 300)).toMatchObject({ kind: 'claimed' });
      const reservation = reservationKey(msg, 'veo', 0);
      expect(await h.jobs.reserveSpend(jobId, reservation, expected, undefined)).toEqual({ ok: true });
      expect(await new ShotAttempts(h.jobs).beginSubmit(ref, reservation)).not.toBeNull();
      // The job ends without this shot (another shot failed it; or, for DELIVERED, an operator forced it).
      if (end === 'FAILED') await h.jobs.fail(jobId, 'render_failed', 'another shot could not be rendered');
      else await h.jobs.jobs.doc(jobId).update({ status: 'DELIVERED' });
      const month = await getMonthlySpend(h.db, 't1');
      await waitFor(
        async () => Date.now() - (await h.jobs.getShot(jobId, 's01'))!.updatedAt.toMillis() > 300 || undefined,
        { timeoutMs: 5_000, what: 'a lease TTL without a write' },
      );

      await resendStaleAttempts(deps);
      const resent = sent.filter((s) => s.message.jobId === jobId);
      expect(resent).toEqual([{ topic: renderTopicFor('veo'), message: expect.objectContaining({ shotId: 's01' }) }]);
      await h.handle(deps, resent[0]!.message);
      // Redelivered again: nothing twice.
      await h.handle(deps, resent[0]!.message);

      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot.status).toBe('FAILED');
      expect(shot.attempts['1']!.tries).toEqual([
        expect.objectContaining({ outcome: 'unconfirmed', costUsd: expected }),
      ]);
      const money = await moneyOf(h, jobId);
      expect(money.status).toBe(end);
      expect(money.lines).toEqual([expect.objectContaining({ outcome: 'unconfirmed', charged: true })]);
      expect(money.costUsd).toBe(expected);
      expect(money.reservedUsd).toBe(0);
      expect((await getMonthlySpend(h.db, 't1')) - month).toBeCloseTo(expected, 6);
      // Nothing was created at the vendor by the booking.
      expect(veo.operations.filter((o) => o.prompt.includes(`then the job is ${end}`))).toEqual([]);
    },
  );
});
