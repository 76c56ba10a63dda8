import { Timestamp } from '@google-cloud/firestore';
import { renderTopicFor } from '@aiprod/contracts';
import { getMonthlySpend, ShotAttempts, type AttemptRef } from '@aiprod/job-store';
import {
  requireEmulators,
  startReplicateServer,
  startRunwayServer,
  startVeoServer,
  waitFor,
  type VeoServer,
} from '@aiprod/testing';
import type { VideoBackend } from '../src/backends/backend';
import { replicateBackend } from '../src/backends/replicate';
import { runwayBackend } from '../src/backends/runway';
import { GONE_CONFIRMATIONS } from '../src/steps/vendor-call';
import type { RenderDeps } from '../src/app';
import { renderHarness } from './harness';
import { expectedCost, reservationKey, resumeMonthOfCreate, settleSpend, tryEntry } from '../src/steps/spend';
import { resendStaleAttempts } from '../src/steps/stale-attempts';
import { countingCancels, moneyOf, recordPublishes, testPolicy, veoTestPool } from './money-kit';

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
    // The shot's prompt opens the prompt as sent (the adapter adds the camera move and palette).
    const ours = new Set(veo.operations.filter((o) => o.prompt.startsWith(prompt)).map((o) => o.name));
    const billed = veo.billedTasks.filter((t) => ours.has(t.taskId));
    expect(billed).toHaveLength(2);
    const billedUsd = Math.round(billed.reduce((s, t) => s + t.usd, 0) * 1e6) / 1e6;
    const money = await moneyOf(h, jobId);
    expect(money.ledgerUsd).toBe(billedUsd);
    expect(money.costUsd).toBe(billedUsd);
    expect((await getMonthlySpend(h.db, 't1')) - month).toBeCloseTo(billedUsd, 6);
  });

  it('a line whose id the ledger stores sanitised is found again on resume, and the month books it once', async () => {
    const { msg } = await h.plannedJob('veo', { prompt: 'Veo, a line id the ledger rewrites' });
    // The ledger keeps line ids in a narrower alphabet than document ids: a space and a plus are rewritten.
    const odd = { ...msg, shotId: 's01 take+2' };
    const deps = monthFailsOnce(h.deps(veoPool(), { policy: testPolicy(), workerId: 'pod-a' }));
    const createMarkedAt = Timestamp.now();
    const entry = tryEntry(deps, 'unconfirmed', expectedCost(deps, odd));
    expect(entry.costUsd).toBeGreaterThan(0);
    const month = await getMonthlySpend(h.db, 't1');
    await expect(settleSpend(deps, odd, entry, { seconds: 8, charged: true, createMarkedAt })).rejects.toThrow(
      /before the month was written/,
    );
    expect(await getMonthlySpend(h.db, 't1')).toBeCloseTo(month, 6);

    await resumeMonthOfCreate(deps, odd, createMarkedAt);
    await resumeMonthOfCreate(deps, odd, createMarkedAt);
    expect((await getMonthlySpend(h.db, 't1')) - month).toBeCloseTo(entry.costUsd, 6);
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

describe('a canceled job’s shot left RENDERING without a task by a worker that died', () => {
  it('the sweep re-sends it, the worker closes the attempt, and nothing is created or booked', async () => {
    // Nothing was sent to the vendor (no task, no create in flight): before, the sweep skipped
    // such a shot for good, so it stayed RENDERING and DELETE of the job answered 503 forever.
    const deps = h.deps(veoPool(), { policy: testPolicy(), leaseMs: 300 });
    const sent = recordPublishes(deps);
    const { jobId } = await h.plannedJob('veo', { prompt: 'Veo, claimed, then the job is canceled' });
    const ref: AttemptRef = { jobId, shotId: 's01', attempt: 1, backend: 'veo', holder: 'dead:m-1:x' };
    expect(await new ShotAttempts(h.jobs).claim(ref, ref.holder!, 300)).toMatchObject({ kind: 'claimed' });
    await h.jobs.transition(jobId, 'RENDERING', 'CANCELED');
    expect((await h.jobs.getShot(jobId, 's01'))!.status).toBe('RENDERING');
    await waitFor(
      async () => Date.now() - (await h.jobs.getShot(jobId, 's01'))!.updatedAt.toMillis() > 300 || undefined,
      { timeoutMs: 5_000, what: 'a lease TTL without a write' },
    );

    await resendStaleAttempts(deps);
    const resent = sent.filter((s) => s.message.jobId === jobId);
    expect(resent).toEqual([{ topic: renderTopicFor('veo'), message: expect.objectContaining({ shotId: 's01' }) }]);
    await h.handle(deps, resent[0]!.message);

    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.status).toBe('FAILED');
    expect(shot.attempts['1']!.tries ?? []).toEqual([]);
    const money = await moneyOf(h, jobId);
    expect(money.status).toBe('CANCELED');
    expect(money.lines).toEqual([]);
    expect(money.reservedUsd).toBe(0);
    expect(veo.operations.filter((o) => o.prompt.includes('then the job is canceled'))).toEqual([]);
    // Settled: the next sweeps leave it alone.
    await new Promise((r) => setTimeout(r, 400));
    await resendStaleAttempts(deps);
    expect(sent.filter((s) => s.message.jobId === jobId)).toHaveLength(1);
  });
});

/**
 * A backend whose vendor answers "task gone" (HTTP 404) to the four polls after the first one, for
 * a task it in fact runs: one more than GONE_CONFIRMATIONS, so the fourth reaches the poll that
 * reads the task's bill before the cancel. Every later poll gets the task's real status.
 */
function goneFourTimesAfterFirstPoll(inner: VideoBackend, gone: () => void): VideoBackend {
  let polls = 0;
  return {
    ...inner,
    name: inner.name,
    model: inner.model,
    pollIntervalMs: inner.pollIntervalMs,
    poll: async (taskId, signal) => {
      const state = await inner.poll(taskId, signal);
      if (++polls === 1) gone();
      return state;
    },
  };
}

const usd = (n: number) => Math.round(n * 1e6) / 1e6;

describe('a live task answered "gone" four times in a row is abandoned, and booked as its vendor bills it', () => {
  const RUNWAY_KEY = 'key_test_runway_0123456789';
  const REPLICATE_TOKEN = 'r8_test_token_0123456789';

  it('Runway: the task is cancelled (DELETE) and costs nothing, on the ledger as on Runway’s bill', async () => {
    // Four "gone" answers: the three that give the task up, and the one its bill is read from.
    expect(GONE_CONFIRMATIONS).toBe(3);
    const runway = await startRunwayServer({ apiKey: RUNWAY_KEY });
    try {
      runway.scriptTask({ running: { ms: 60_000 } });
      const inner = runwayBackend({ apiKey: RUNWAY_KEY, baseUrl: runway.url, pollIntervalMs: 20 });
      const backend = goneFourTimesAfterFirstPoll(inner, () =>
        runway.fail('poll', { status: 404, message: 'Task not found' }, 4),
      );
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Runway, live but gone four times' });
      await h.handle(h.deps(backend, { policy: testPolicy() }), msg);

      expect(runway.tasksCreated).toBe(1);
      const line = (await moneyOf(h, jobId)).lines[0]!;
      const taskId = line.vendorTaskId as string;
      expect(runway.requests.filter((r) => r.op === 'cancel').map((r) => r.path)).toEqual([`/v1/tasks/${taskId}`]);
      expect(runway.task(taskId)).toMatchObject({ status: 'CANCELLED', cancelled: true });
      // What Runway bills once every task has run its course: a cancelled task, nothing.
      runway.settle();
      expect(line).toMatchObject({ backend: 'runway', outcome: 'failed', charged: false, costUsd: 0 });
      expect(runway.billedUsd).toBe(0);
      expect((await moneyOf(h, jobId)).costUsd).toBe(0);
    } finally {
      await runway.close();
    }
  });

  it('Replicate: the prediction is cancelled while processing and booked for the compute time Replicate bills', async () => {
    const replicate = await startReplicateServer({ apiToken: REPLICATE_TOKEN });
    try {
      replicate.scriptPrediction({ starting: { polls: 0 }, processing: { ms: 60_000 } });
      const inner = replicateBackend({ apiToken: REPLICATE_TOKEN, baseUrl: replicate.baseUrl, pollIntervalMs: 20 });
      const backend = goneFourTimesAfterFirstPoll(inner, () =>
        replicate.fail('poll', { status: 404, message: 'The requested resource could not be found.' }, 4),
      );
      const { jobId, msg } = await h.plannedJob('replicate', {
        prompt: 'Replicate, live but gone four times',
        durationSeconds: 5,
      });
      await h.handle(h.deps(backend, { policy: testPolicy() }), msg);

      const money = await moneyOf(h, jobId);
      const line = money.lines[0]!;
      expect(replicate.requests.filter((r) => r.op === 'cancel')).toHaveLength(1);
      replicate.settle();
      const billed = replicate.billedTasks.filter((t) => t.taskId === line.vendorTaskId);
      expect(billed).toEqual([expect.objectContaining({ why: 'canceled while processing' })]);
      expect(line).toMatchObject({ backend: 'replicate', outcome: 'failed', charged: true });
      expect(line.costUsd).toBeGreaterThan(0);
      expect(usd(line.costUsd)).toBe(usd(billed[0]!.usd));
      expect(money.costUsd).toBe(money.ledgerUsd);
    } finally {
      await replicate.close();
    }
  });

  it('Veo: no cancel exists; the operation, finished meanwhile, is booked whole as Vertex bills it, and paid again', async () => {
    veo.enqueueCreate({ operation: { pollsUntilDone: 1 } });
    const creates = veo.counts.predictLongRunning;
    const counted = countingCancels(veoPool());
    const backend = goneFourTimesAfterFirstPoll(counted.backend, () => {
      for (let i = 0; i < 4; i++) veo.enqueuePoll({ status: 404, message: 'Operation not found.' });
    });
    const { jobId, msg } = await h.plannedJob('veo', { prompt: 'Veo, live but gone four times' });
    await h.handle(h.deps(backend, { policy: testPolicy() }), msg);

    // The abandoned operation had in fact finished (the poll that confirms its bill read it done),
    // yet it counts as a failed try: the policy retried here and a second operation was paid for.
    expect(veo.counts.predictLongRunning - creates).toBe(2);
    const [first, second] = veo.operations.slice(-2).map((o) => o.name) as [string, string];
    expect(counted.cancelled).toEqual([first]);
    const money = await moneyOf(h, jobId);
    expect(money.lines).toEqual([
      expect.objectContaining({ backend: 'veo', outcome: 'failed', charged: true, vendorTaskId: first }),
      expect.objectContaining({ backend: 'veo', outcome: 'succeeded', charged: true, vendorTaskId: second }),
    ]);
    // Each booked as Vertex bills it: the whole clip, whether or not we kept it.
    const billed = veo.billedTasks.filter((t) => t.taskId === first || t.taskId === second);
    expect(billed).toHaveLength(2);
    expect(money.ledgerUsd).toBe(usd(billed[0]!.usd + billed[1]!.usd));
    expect(money.costUsd).toBe(money.ledgerUsd);
  });
});
