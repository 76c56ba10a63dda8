import { getMonthlySpend } from '@aiprod/job-store';
import { requireEmulators, startVeoServer, type VeoServer } from '@aiprod/testing';
import type { RenderDeps } from '../src/app';
import { renderHarness } from './harness';
import { moneyOf, testPolicy, veoTestPool } from './money-kit';

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
