import { PermanentError } from '@aiprod/contracts';
import { getMonthlySpend, type Shot } from '@aiprod/job-store';
import {
  requireEmulators,
  startRunwayServer,
  startVeoServer,
  waitFor,
  type RunwayServer,
  type VeoServer,
} from '@aiprod/testing';
import { runwayBackend } from '../src/backends/runway';
import { GONE_CONFIRMATIONS } from '../src/steps/vendor-call';
import { renderHarness } from './harness';
import { countingCancels, moneyOf, recordPublishes, testPolicy, veoTestPool } from './money-kit';

/**
 * Issue 13, faults 1–4 and 10, and 17 (a vendor's passing "task gone" answer): vendor faults must
 * never make the platform pay twice for a shot, lose track of what it paid, or keep paying for a
 * job that has ended. Each test counts the creates and cancels the vendor's test server saw and
 * reads the job's ledger and totals.
 */

requireEmulators();
const h = renderHarness('render-money');
let runway: RunwayServer;
let veo: VeoServer;
const RUNWAY_KEY = 'key_test_runway_0123456789';

beforeAll(async () => {
  await h.setUp();
  runway = await startRunwayServer({ apiKey: RUNWAY_KEY });
  veo = await startVeoServer();
}, 60_000);
afterAll(async () => {
  await runway?.close();
  await veo?.close();
  await h.tearDown();
});

const runwayPool = () => runwayBackend({ apiKey: RUNWAY_KEY, baseUrl: runway.url, pollIntervalMs: 20 });
const veoPool = () => veoTestPool(veo.url);
const runwayCancels = () => runway.requests.filter((r) => r.op === 'cancel').length;
const monthSpend = () => getMonthlySpend(h.db, 't1');
const eventsOf = async (jobId: string) => h.jobs.listEvents(jobId);

/** A Runway task polled through its faults: it ran once, was billed once, and nothing stays reserved. */
async function expectPolledThrough(jobId: string, shot: Shot, taskId: string): Promise<void> {
  expect(runway.task(taskId)).toMatchObject({ status: 'SUCCEEDED', cancelled: false });
  expect(shot.attempts['1']!.tries).toEqual([
    expect.objectContaining({ backend: 'runway', outcome: 'succeeded', vendorTaskId: taskId }),
  ]);
  const money = await moneyOf(h, jobId);
  expect(money.lines).toEqual([expect.objectContaining({ outcome: 'succeeded', charged: true, vendorTaskId: taskId })]);
  expect(money.lines[0]!.costUsd).toBeGreaterThan(0);
  expect(money.costUsd).toBe(money.ledgerUsd);
  expect(money.reservedUsd).toBe(0);
  expect((await eventsOf(jobId)).map((e) => e.type)).toContain('render.poll_retry');
}

describe('money safety under vendor faults', () => {
  describe('1. Veo spend is recorded', () => {
    it('a successful Veo shot writes a charged ledger line and adds it to the tenant’s month', async () => {
      const creates = veo.counts.predictLongRunning;
      const spent = await monthSpend();
      const spendLines = h.spend.length;
      const { backend, cancelled } = countingCancels(veoPool());
      const { jobId, msg } = await h.plannedJob('veo', { prompt: 'Veo, recorded' });
      await h.handle(h.deps(backend, { policy: testPolicy() }), msg);

      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot.status).toBe('RENDERED');
      expect(veo.counts.predictLongRunning - creates).toBe(1);
      expect(cancelled).toEqual([]);
      const money = await moneyOf(h, jobId);
      expect(money.lines).toEqual([
        expect.objectContaining({ backend: 'veo', outcome: 'succeeded', charged: true, seconds: 6 }),
      ]);
      const cost = money.lines[0]!.costUsd;
      expect(cost).toBeGreaterThan(0);
      expect(money.ledgerUsd).toBe(cost);
      expect(money.costUsd).toBe(cost);
      expect(money.reservedUsd).toBe(0);
      expect(h.spend.slice(spendLines)).toEqual([{ tenantId: 't1', usd: cost }]);
      expect((await monthSpend()) - spent).toBeCloseTo(cost, 6);
    });

    it('a Veo task abandoned at the attempt timeout is cancelled, billed, and never submitted again on redelivery', async () => {
      veo.enqueueCreate({ operation: { pollsUntilDone: 1_000_000 } });
      const creates = veo.counts.predictLongRunning;
      const spendLines = h.spend.length;
      const { backend, cancelled } = countingCancels(veoPool());
      const deps = h.deps(backend, { policy: testPolicy((p) => (p.backends.veo.attemptTimeoutSeconds = 1)) });
      const { jobId, msg } = await h.plannedJob('veo', { prompt: 'Veo, abandoned' });
      await h.handle(deps, msg);

      const operation = veo.operations.at(-1)!.name;
      expect(veo.counts.predictLongRunning - creates).toBe(1);
      expect(cancelled).toEqual([operation]);
      const money = await moneyOf(h, jobId);
      expect(money.lines).toEqual([
        expect.objectContaining({ backend: 'veo', outcome: 'abandoned', charged: true, vendorTaskId: operation }),
      ]);
      const cost = money.lines[0]!.costUsd;
      expect(cost).toBeGreaterThan(0);
      expect(money.costUsd).toBe(cost);
      expect(money.reservedUsd).toBe(0);
      expect(money.status).not.toBe('FAILED');
      expect(h.spend.slice(spendLines)).toEqual([{ tenantId: 't1', usd: cost }]);
      // The attempt moved on (fallback) and forgot the task only after its cost was recorded.
      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot.attempts['1']!.vendorTaskId).toBeUndefined();
      expect(shot.attempts['1']!.tries).toEqual([
        expect.objectContaining({ backend: 'veo', outcome: 'abandoned', vendorTaskId: operation, costUsd: cost }),
      ]);

      // The same message again (a redelivery): no new paid operation, nothing billed twice.
      await h.handle(deps, msg);
      expect(veo.counts.predictLongRunning - creates).toBe(1);
      expect(cancelled).toEqual([operation]);
      const again = await moneyOf(h, jobId);
      expect(again.lines).toHaveLength(1);
      expect(again.costUsd).toBe(cost);
      expect(h.spend.slice(spendLines)).toHaveLength(1);
    });
  });

  it('2. poll 503s in a row are polled through: one create, no cancel, one charged line', async () => {
    const before = { tasks: runway.tasksCreated, cancels: runwayCancels(), polls: runway.requests.length };
    runway.fail('poll', { status: 503 }, 4);
    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Polled through 503s' });
    await h.handle(h.deps(runwayPool(), { policy: testPolicy() }), msg);

    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.status).toBe('RENDERED');
    expect(runway.tasksCreated - before.tasks).toBe(1);
    expect(runwayCancels() - before.cancels).toBe(0);
    const taskId = shot.attempts['1']!.vendorTaskId!;
    // The 503s were answered to polls of this very task, which was then polled to its end.
    await expectPolledThrough(jobId, shot, taskId);
  });

  it('3. a Veo poll slower than our poll timeout is polled again, never read as a cancellation', async () => {
    const creates = veo.counts.predictLongRunning;
    const polls = veo.counts.fetchPredictOperation;
    // Two poll answers held back far longer than the caller waits for one.
    // (Our timeout leaves room for a loaded machine: the Veo backend also measures the clip in the poll.)
    veo.enqueuePoll({ delayMs: 4_000 });
    veo.enqueuePoll({ delayMs: 4_000 });
    const { backend, cancelled } = countingCancels(veoPool());
    const { jobId, msg } = await h.plannedJob('veo', { prompt: 'Veo, slow to answer' });
    await h.handle(h.deps(backend, { policy: testPolicy(), timeouts: { pollMs: 1_500 } }), msg);

    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.status).toBe('RENDERED');
    expect(veo.counts.predictLongRunning - creates).toBe(1);
    expect(veo.counts.fetchPredictOperation - polls).toBeGreaterThanOrEqual(3);
    expect(cancelled).toEqual([]);
    expect(shot.attempts['1']!.tries).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
    const money = await moneyOf(h, jobId);
    expect(money.status).toBe('RENDERING');
    expect(money.lines).toEqual([expect.objectContaining({ outcome: 'succeeded', charged: true })]);
    expect(money.costUsd).toBe(money.ledgerUsd);
    expect(money.costUsd).toBeGreaterThan(0);
    const decisions = (await eventsOf(jobId)).filter((e) => e.type === 'render.decision');
    expect(decisions).toEqual([]);
  });

  describe('4. a job that ends stops all spending', () => {
    it('a job cancelled during a retry backoff submits nothing more', async () => {
      const before = { creates: runway.createRequests, tasks: runway.tasksCreated, cancels: runwayCancels() };
      // The first create is refused; the vendor asks for 2 s, which the loop sleeps through.
      runway.fail('create', { status: 429, retryAfterSeconds: 2 });
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Cancelled while backing off' });
      const policy = testPolicy((p) => (p.backends.runway.backoff = { initialMs: 2_000, maxMs: 3_000, multiplier: 2 }));
      const rendering = h.handle(h.deps(runwayPool(), { policy }), msg);
      await waitFor(
        async () => (await eventsOf(jobId)).find((e) => e.type === 'render.decision' && e.data.action === 'retry'),
        { timeoutMs: 10_000, intervalMs: 20, what: 'the retry decision' },
      );
      await h.jobs.transition(jobId, 'RENDERING', 'CANCELED');
      await expect(rendering).resolves.toBeUndefined();

      expect(runway.createRequests - before.creates).toBe(1);
      expect(runway.tasksCreated - before.tasks).toBe(0);
      expect(runwayCancels() - before.cancels).toBe(0);
      const money = await moneyOf(h, jobId);
      expect(money.status).toBe('CANCELED');
      // The attempt is closed, so no sweep sends it anywhere again.
      expect((await h.jobs.getShot(jobId, 's01'))!.status).toBe('FAILED');
      expect(money.lines).toEqual([expect.objectContaining({ outcome: 'failed', charged: false, costUsd: 0 })]);
      expect(money.costUsd).toBe(0);
      expect(money.reservedUsd).toBe(0);
    });

    it('one shot failing the job cancels the other shot’s running task and creates nothing more', async () => {
      const before = { tasks: runway.tasksCreated, cancels: runwayCancels() };
      const policy = testPolicy((p) => (p.backends.runway.onError.safety = 'fail'));
      const deps = h.deps(runwayPool(), { policy, timeouts: { jobCheckMs: 100 } });
      const { jobId, msgs } = await h.plannedJob('runway', { prompt: 'Two shots, one refused' }, 'brand_campaign', {
        shots: 2,
      });
      const [first, second] = msgs as [(typeof msgs)[0], (typeof msgs)[0]];

      runway.scriptTask({ running: { ms: 30_000 } });
      const rendering = h.handle(deps, second);
      const running = await waitFor(async () => (await h.jobs.getShot(jobId, 's02'))!.attempts['1']?.vendorTaskId, {
        timeoutMs: 10_000,
        what: 'the running task of s02',
      });

      runway.scriptTask({ outcome: { failureCode: 'SAFETY.INPUT.TEXT', failure: 'flagged by moderation' } });
      const error = await h.handle(deps, first).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ reason: 'render_failed' });
      // What the consumer does with a PermanentError: the job fails.
      await h.jobs.fail(jobId, 'render_failed', (error as Error).message);

      await expect(rendering).resolves.toBeUndefined();
      expect(runway.task(running)).toMatchObject({ cancelled: true });
      expect(runway.tasksCreated - before.tasks).toBe(2);
      expect(runwayCancels() - before.cancels).toBe(1);
      const money = await moneyOf(h, jobId);
      expect(money.status).toBe('FAILED');
      expect(money.lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ shotId: 's01', outcome: 'failed', charged: false }),
          expect.objectContaining({ shotId: 's02', outcome: 'canceled', vendorTaskId: running }),
        ]),
      );
      expect(money.lines).toHaveLength(2);
      // Runway bills succeeded tasks only.
      expect(money.ledgerUsd).toBe(0);
      expect(money.costUsd).toBe(0);
      expect(money.reservedUsd).toBe(0);
      expect((await h.jobs.getShot(jobId, 's02'))!.attempts['1']!.vendorTaskId).toBeUndefined();

      // A late redelivery of the cancelled shot's request creates nothing either.
      await h.handle(deps, second);
      expect(runway.tasksCreated - before.tasks).toBe(2);
      expect(runwayCancels() - before.cancels).toBe(1);
      expect((await moneyOf(h, jobId)).lines).toHaveLength(2);
    });

    it('a Veo task of a cancelled job is recorded as charged (Veo cannot be stopped)', async () => {
      veo.enqueueCreate({ operation: { pollsUntilDone: 1_000_000 } });
      const creates = veo.counts.predictLongRunning;
      const spendLines = h.spend.length;
      const { backend, cancelled } = countingCancels(veoPool());
      const deps = h.deps(backend, { policy: testPolicy(), timeouts: { jobCheckMs: 100 } });
      const { jobId, msg } = await h.plannedJob('veo', { prompt: 'Veo, cancelled by the client' });
      const rendering = h.handle(deps, msg);
      const operation = await waitFor(async () => (await h.jobs.getShot(jobId, 's01'))!.attempts['1']?.vendorTaskId, {
        timeoutMs: 10_000,
        what: 'the Veo operation',
      });
      await h.jobs.transition(jobId, 'RENDERING', 'CANCELED');
      await expect(rendering).resolves.toBeUndefined();

      expect(veo.counts.predictLongRunning - creates).toBe(1);
      expect(cancelled).toEqual([operation]);
      const money = await moneyOf(h, jobId);
      expect(money.lines).toEqual([
        expect.objectContaining({ outcome: 'canceled', charged: true, seconds: 6, vendorTaskId: operation }),
      ]);
      const cost = money.lines[0]!.costUsd;
      expect(cost).toBeGreaterThan(0);
      expect(money.costUsd).toBe(cost);
      expect(money.reservedUsd).toBe(0);
      expect(h.spend.slice(spendLines)).toEqual([{ tenantId: 't1', usd: cost }]);
    });
  });

  it('10. a budget cap below two tries stops the retry before it is submitted', async () => {
    const before = { creates: runway.createRequests, tasks: runway.tasksCreated };
    const backend = runwayPool();
    const probe = await h.plannedJob('runway', { prompt: 'Price probe' });
    const perTry = h.deps(backend).price('runway', backend.model, probe.msg.spec, { outputSeconds: 6 });
    expect(perTry).toBeGreaterThan(0);
    const cap = Math.round(perTry * 1.5 * 100) / 100;

    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Over budget' }, 'brand_campaign', {
      budgetCapUsd: cap,
    });
    // Every state the job document goes through: spent + reserved must never pass the cap.
    const committed: number[] = [];
    const stop = h.db
      .collection('jobs')
      .doc(jobId)
      .onSnapshot((snap) => committed.push(Number(snap.get('costUsd') ?? 0) + Number(snap.get('reservedUsd') ?? 0)));
    try {
      // The first task fails after running, and Runway keeps the credits: a charged failure, retried here.
      runway.scriptTask({ outcome: { failureCode: 'INTERNAL', failure: 'the GPU went away', credits: 60 } });
      const error = await h.handle(h.deps(backend, { policy: testPolicy() }), msg).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ reason: 'budget_exceeded' });
      expect(runway.createRequests - before.creates).toBe(1);
      expect(runway.tasksCreated - before.tasks).toBe(1);
      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot.status).toBe('FAILED');
      expect(shot.attempts['1']!.error).toMatch(/budget/);
      const money = await moneyOf(h, jobId);
      expect(money.lines).toEqual([expect.objectContaining({ outcome: 'failed', charged: true, costUsd: perTry })]);
      expect(money.costUsd).toBe(perTry);
      expect(money.reservedUsd).toBe(0);
      expect(money.costUsd).toBeLessThanOrEqual(cap);
      expect(Math.max(...committed)).toBeGreaterThanOrEqual(perTry - 1e-9);
      expect(Math.max(...committed)).toBeLessThanOrEqual(cap + 1e-9);
    } finally {
      stop();
    }
  });

  describe('17. a poll answer that the task is gone is confirmed before the task is given up', () => {
    it('one 404 on a Runway poll (a task not yet readable after its create) is polled through: one create, no cancel', async () => {
      const before = { creates: runway.createRequests, tasks: runway.tasksCreated, cancels: runwayCancels() };
      // What Runway answers for a task it does not know, in its documented error shape, once.
      runway.fail('poll', { status: 404, message: 'Task not found' });
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Not found once, then running' });
      await h.handle(h.deps(runwayPool(), { policy: testPolicy() }), msg);

      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot.status).toBe('RENDERED');
      expect(runway.createRequests - before.creates).toBe(1);
      expect(runway.tasksCreated - before.tasks).toBe(1);
      expect(runwayCancels() - before.cancels).toBe(0);
      const taskId = shot.attempts['1']!.vendorTaskId!;
      // The 404 was the answer to a poll of this very task, which was then polled to its end.
      const polls = runway.requests.filter((r) => r.op === 'poll' && r.path === `/v1/tasks/${taskId}`);
      expect(polls.length).toBeGreaterThanOrEqual(2);
      await expectPolledThrough(jobId, shot, taskId);
    });

    it('one 404 on a Veo poll does not abandon the operation (billed whole) and pay for a second one', async () => {
      const creates = veo.counts.predictLongRunning;
      const spendLines = h.spend.length;
      // Vertex's NOT_FOUND for an operation, once; the operation itself is done at the next poll.
      veo.enqueuePoll({ status: 404, message: 'Operation not found.' });
      const { backend, cancelled } = countingCancels(veoPool());
      const { jobId, msg } = await h.plannedJob('veo', { prompt: 'Veo, not found once' });
      await h.handle(h.deps(backend, { policy: testPolicy() }), msg);

      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot.status).toBe('RENDERED');
      expect(veo.counts.predictLongRunning - creates).toBe(1);
      expect(cancelled).toEqual([]);
      const operation = veo.operations.at(-1)!.name;
      const money = await moneyOf(h, jobId);
      expect(money.lines).toEqual([
        expect.objectContaining({ backend: 'veo', outcome: 'succeeded', charged: true, vendorTaskId: operation }),
      ]);
      const cost = money.lines[0]!.costUsd;
      expect(cost).toBeGreaterThan(0);
      expect(money.costUsd).toBe(cost);
      expect(money.reservedUsd).toBe(0);
      expect(h.spend.slice(spendLines)).toEqual([{ tenantId: 't1', usd: cost }]);
    });

    it('a Runway task that stays gone is still cancelled, settled once and handed to the next backend', async () => {
      // Its own server, so the 404s it has left when the test ends are thrown away with it.
      const vanished = await startRunwayServer({ apiKey: RUNWAY_KEY });
      try {
        vanished.fail('poll', { status: 404, message: 'Task not found' }, 50);
        const deps = h.deps(runwayBackend({ apiKey: RUNWAY_KEY, baseUrl: vanished.url, pollIntervalMs: 20 }), {
          policy: testPolicy(),
        });
        const sent = recordPublishes(deps);
        const { jobId, msg } = await h.plannedJob('runway', { prompt: 'A task Runway no longer knows' });
        await h.handle(deps, msg);

        expect(vanished.tasksCreated).toBe(1);
        const shot = (await h.jobs.getShot(jobId, 's01'))!;
        const [tried] = shot.attempts['1']!.tries!;
        const taskId = tried!.vendorTaskId!;
        const cancels = vanished.requests.filter((r) => r.op === 'cancel');
        expect(cancels.map((r) => r.path)).toEqual([`/v1/tasks/${taskId}`]);
        // Given up only after the gone answer was confirmed, and only then cancelled (the log is
        // in the order the requests arrived).
        const pollsBeforeCancel = vanished.requests
          .slice(0, vanished.requests.indexOf(cancels[0]!))
          .filter((r) => r.op === 'poll' && r.path === `/v1/tasks/${taskId}`);
        expect(pollsBeforeCancel.length).toBeGreaterThanOrEqual(GONE_CONFIRMATIONS);
        expect(shot.attempts['1']!.tries).toEqual([
          expect.objectContaining({ backend: 'runway', outcome: 'failed', errorClass: 'invalid', costUsd: 0 }),
        ]);
        expect(shot.attempts['1']!.vendorTaskId).toBeUndefined();
        // Runway's chain is replicate, local; replicate cannot make a 6 s shot.
        expect(shot.backend).toBe('local');
        expect(sent.map((s) => s.topic)).toEqual(['aiprod.render.local.v1']);
        const money = await moneyOf(h, jobId);
        expect(money.lines).toEqual([
          expect.objectContaining({ backend: 'runway', outcome: 'failed', charged: false, vendorTaskId: taskId }),
        ]);
        expect(money.costUsd).toBe(0);
        expect(money.reservedUsd).toBe(0);
      } finally {
        await vanished.close();
      }
    });
  });

  it('18. a render request of a job its client has not approved claims nothing and creates no vendor task', async () => {
    const creates = runway.tasksCreated;
    const deps = h.deps(runwayPool(), { policy: testPolicy() });
    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Not approved yet' }, 'brand_campaign', {
      status: 'AWAITING_APPROVAL',
    });
    // A replayed or stray request (the planner publishes none before the approval).
    await h.handle(deps, msg);

    expect(runway.tasksCreated - creates).toBe(0);
    expect(await h.jobs.getShot(jobId, 's01')).toMatchObject({ status: 'PENDING', attempt: 1, attempts: {} });
    expect((await h.jobs.getJob(jobId))!.status).toBe('AWAITING_APPROVAL');
    expect((await moneyOf(h, jobId)).lines).toEqual([]);

    // Approved, the same request renders: the refusal is the job's state, not the message.
    await h.jobs.transition(jobId, 'AWAITING_APPROVAL', 'RENDERING', {
      event: { type: 'job.approved', data: { approver: 'client' } },
    });
    await h.handle(deps, msg);
    expect(runway.tasksCreated - creates).toBe(1);
    expect((await h.jobs.getShot(jobId, 's01'))!.status).toBe('RENDERED');
  });
});
