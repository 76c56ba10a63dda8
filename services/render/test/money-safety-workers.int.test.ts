import { Timestamp } from '@google-cloud/firestore';
import { PermanentError, renderTopicFor } from '@aiprod/contracts';
import { ShotAttempts, type AttemptRef, type QaReport } from '@aiprod/job-store';
import {
  requireEmulators,
  startReplicateServer,
  startRunwayServer,
  startVeoServer,
  waitFor,
  type ReplicateServer,
  type RunwayServer,
  type VeoServer,
} from '@aiprod/testing';
import type { VideoBackend } from '../src/backends/backend';
import { replicateBackend } from '../src/backends/replicate';
import { runwayBackend } from '../src/backends/runway';
import { renderLetterSuperseded, resendStaleAttempts } from '../src/steps/stale-attempts';
import { renderHarness } from './harness';
import { killable, moneyOf, recordClaims, recordPublishes, testPolicy, veoTestPool } from './money-kit';

/**
 * Issue 13, faults 5–9 and 16: several workers, crashes, shutdowns, fallbacks and QA verdicts
 * around one shot must never make the platform pay twice, lose a shot, or fail a job for
 * nothing. Each test counts the vendor's creates and cancels and reads the job's ledger.
 */

requireEmulators();
const h = renderHarness('render-workers');
let runway: RunwayServer;
let replicate: ReplicateServer;
let veo: VeoServer;
const RUNWAY_KEY = 'key_test_runway_0123456789';
const REPLICATE_TOKEN = 'r8_test_token_0123456789';

beforeAll(async () => {
  await h.setUp();
  [runway, replicate, veo] = await Promise.all([
    startRunwayServer({ apiKey: RUNWAY_KEY }),
    startReplicateServer({ apiToken: REPLICATE_TOKEN }),
    startVeoServer(),
  ]);
}, 60_000);
afterAll(async () => {
  await runway?.close();
  await replicate?.close();
  await veo?.close();
  await h.tearDown();
});

const runwayPool = () => runwayBackend({ apiKey: RUNWAY_KEY, baseUrl: runway.url, pollIntervalMs: 20 });
const replicatePool = () =>
  replicateBackend({ apiToken: REPLICATE_TOKEN, baseUrl: replicate.baseUrl, pollIntervalMs: 20 });
const veoPool = () => veoTestPool(veo.url);
const runwayCancels = () => runway.requests.filter((r) => r.op === 'cancel').length;
const replicateCancels = () => replicate.requests.filter((r) => r.op === 'cancel').length;
/** Hands the attempt over the way the policy does (a try recorded, the attempt moved), without publishing. */
const handOverNow = (attempts: ShotAttempts, at: AttemptRef, to: AttemptRef['backend']) =>
  attempts.settleTry(
    at,
    {
      entry: {
        backend: at.backend,
        model: 'test',
        outcome: 'failed',
        errorClass: 'safety',
        costUsd: 0,
        at: Timestamp.now(),
      },
    },
    { kind: 'hand_over', to, spec: (s) => s },
  );

const ref = (jobId: string, backend: AttemptRef['backend'], shotId = 's01'): AttemptRef => ({
  jobId,
  shotId,
  attempt: 1,
  backend,
});
const forJob = (jobId: string) => (m: Record<string, unknown>) => m.jobId === jobId;
const storedTask = (jobId: string) => async () =>
  (await h.jobs.getShot(jobId, 's01'))!.attempts['1']?.vendorTaskId ?? undefined;

describe('money safety with several workers, crashes and shutdowns', () => {
  describe('5. two deliveries of one attempt', () => {
    it('two concurrent deliveries (different message ids) make one task and one charged line', async () => {
      const before = { tasks: runway.tasksCreated, cancels: runwayCancels() };
      runway.scriptTask({ running: { ms: 800 } });
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Delivered twice at once' });
      const one = h.deps(runwayPool(), { policy: testPolicy(), workerId: 'pod-a' });
      const two = h.deps(runwayPool(), { policy: testPolicy(), workerId: 'pod-b' });
      await expect(Promise.all([h.handle(one, msg, 'm-1'), h.handle(two, msg, 'm-2')])).resolves.toEqual([
        undefined,
        undefined,
      ]);

      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot.status).toBe('RENDERED');
      expect(runway.tasksCreated - before.tasks).toBe(1);
      expect(runwayCancels() - before.cancels).toBe(0);
      const money = await moneyOf(h, jobId);
      expect(money.status).toBe('RENDERING');
      expect(money.lines).toEqual([expect.objectContaining({ outcome: 'succeeded', charged: true })]);
      expect(money.costUsd).toBe(money.lines[0]!.costUsd);
      expect(money.costUsd).toBeGreaterThan(0);
      expect(money.reservedUsd).toBe(0);
    });

    it('a redelivery of the same message waits for a live holder instead of paying again', async () => {
      const before = runway.tasksCreated;
      runway.scriptTask({ running: { ms: 1_000 } });
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Redelivered while rendering' });
      const holder = h.deps(runwayPool(), { policy: testPolicy(), workerId: 'pod-a', leaseMs: 2_000 });
      const other = h.deps(runwayPool(), { policy: testPolicy(), workerId: 'pod-b', leaseMs: 2_000 });
      const claims = recordClaims(other);
      const first = h.handle(holder, msg, 'm-1');
      await waitFor(storedTask(jobId), { timeoutMs: 10_000, intervalMs: 20, what: 'the stored task id' });
      const redelivered = Date.now();
      await expect(h.handle(other, msg, 'm-1')).resolves.toBeUndefined();
      const waitedMs = Date.now() - redelivered;
      await expect(first).resolves.toBeUndefined();

      expect(claims[0]).toMatchObject({ kind: 'held', holder: expect.stringMatching(/^pod-a:m-1:/) });
      // The redelivery waits while the holder renews its lease: it sees the shot done, or, on a
      // machine slow enough that the render outlasts the bound (2 TTLs + 1 s), it acks the live
      // holder's attempt after waiting that long. Either way it never claims or pays.
      const last = claims.at(-1)!;
      if (last.kind === 'held') expect(waitedMs).toBeGreaterThanOrEqual(2 * 2_000);
      else expect(last).toMatchObject({ kind: 'done' });
      expect(claims.some((c) => c.kind === 'claimed')).toBe(false);
      expect(runway.tasksCreated - before).toBe(1);
      const money = await moneyOf(h, jobId);
      expect((await h.jobs.getShot(jobId, 's01'))!.status).toBe('RENDERED');
      expect(money.lines).toEqual([expect.objectContaining({ outcome: 'succeeded', charged: true })]);
      expect(money.costUsd).toBe(money.ledgerUsd);
    });

    it('the same message takes over only once the holder’s lease is stale, and the woken holder pays nothing', async () => {
      const before = { tasks: runway.tasksCreated, cancels: runwayCancels() };
      runway.scriptTask({ running: { ms: 2_500 } });
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Holder frozen mid-poll' });
      const frozen = killable(h.deps(runwayPool(), { policy: testPolicy(), workerId: 'pod-a', leaseMs: 1_500 }));
      const other = h.deps(runwayPool(), { policy: testPolicy(), workerId: 'pod-b', leaseMs: 1_500 });
      const claims = recordClaims(other);
      const first = h.handle(frozen.deps, msg, 'm-1');
      let taskId: string;
      let money: Awaited<ReturnType<typeof moneyOf>>;
      try {
        taskId = await waitFor(storedTask(jobId), { timeoutMs: 10_000, intervalMs: 20, what: 'the task id' });
        frozen.kill();
        const lease = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!.lease!;
        expect(lease.holder).toMatch(/^pod-a:m-1:/);

        await h.handle(other, msg, 'm-1');
        expect(claims[0]).toMatchObject({ kind: 'held', holder: expect.stringMatching(/^pod-a:m-1:/) });
        const taken = claims.find((c) => c.kind === 'claimed')!;
        expect(taken).toBeDefined();
        // Lease times are written with this process's clock: the takeover came after the lease ran out.
        expect(taken.atMs).toBeGreaterThanOrEqual(lease.until.toMillis());
        const shot = (await h.jobs.getShot(jobId, 's01'))!;
        expect(shot.status).toBe('RENDERED');
        expect(shot.attempts['1']!.tries).toEqual([
          expect.objectContaining({ outcome: 'succeeded', vendorTaskId: taskId }),
        ]);
        money = await moneyOf(h, jobId);
      } finally {
        // The frozen holder wakes up: it finds the attempt taken and stops, paying and recording nothing.
        await frozen.reap();
      }
      await expect(first).resolves.toBeUndefined();
      expect(runway.tasksCreated - before.tasks).toBe(1);
      expect(runwayCancels() - before.cancels).toBe(0);
      expect(await moneyOf(h, jobId)).toEqual(money);
      expect(money.lines).toEqual([
        expect.objectContaining({ outcome: 'succeeded', charged: true, vendorTaskId: taskId }),
      ]);
      expect(money.costUsd).toBe(money.ledgerUsd);
      expect(money.status).toBe('RENDERING');
    });

    it('a task created while the attempt was handed to another backend is cancelled, and fails nothing', async () => {
      const before = { tasks: runway.tasksCreated, cancels: runwayCancels() };
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Handed over mid-create', durationSeconds: 5 });
      const attempts = new ShotAttempts(h.jobs);
      const inner = runwayPool();
      // Another delivery hands the attempt over while this one's create is on the wire.
      const racing: VideoBackend = {
        ...inner,
        name: inner.name,
        model: inner.model,
        pollIntervalMs: inner.pollIntervalMs,
        submit: async (spec, ctx) => {
          const task = await inner.submit(spec, ctx);
          await handOverNow(attempts, ref(jobId, 'runway'), 'replicate');
          return task;
        },
      };
      await expect(h.handle(h.deps(racing, { policy: testPolicy() }), msg)).resolves.toBeUndefined();

      expect(runway.tasksCreated - before.tasks).toBe(1);
      expect(runwayCancels() - before.cancels).toBe(1);
      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(runway.requests.filter((r) => r.op === 'cancel').at(-1)!.path).toMatch(/\/v1\/tasks\//);
      expect(shot).toMatchObject({ status: 'RENDERING', backend: 'replicate' });
      expect(shot.attempts['1']!.vendorTaskId).toBeUndefined();
      const money = await moneyOf(h, jobId);
      expect(money.status).toBe('RENDERING');
      expect(money.lines).toEqual([
        expect.objectContaining({ backend: 'runway', outcome: 'canceled', charged: false }),
      ]);
      expect(money.costUsd).toBe(0);
      expect(money.reservedUsd).toBe(0);
    });
  });

  describe('6. fallback only to deployed pools', () => {
    it('skips a backend with no pool in this deployment and hands the shot to the next deployed one', async () => {
      const before = runway.tasksCreated;
      runway.scriptTask({ outcome: { failureCode: 'SAFETY.INPUT.TEXT', failure: 'flagged' } });
      // Replicate can make 5 s and the preset allows it: only the deployment rules it out.
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Refused, no replicate pool', durationSeconds: 5 });
      const deps = h.deps(runwayPool(), { policy: testPolicy(), deployedBackends: ['runway', 'local'] });
      const sent = recordPublishes(deps);
      await h.handle(deps, msg);

      expect(sent.map((s) => s.topic)).toEqual([renderTopicFor('local')]);
      await waitFor(() => h.published[renderTopicFor('local')]!.find(forJob(jobId)), {
        timeoutMs: 10_000,
        what: 'the request on the local topic',
      });
      expect(h.published[renderTopicFor('replicate')]!.filter(forJob(jobId))).toEqual([]);
      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot).toMatchObject({ status: 'RENDERING', backend: 'local' });
      expect(runway.tasksCreated - before).toBe(1);
      const money = await moneyOf(h, jobId);
      expect(money.lines).toEqual([expect.objectContaining({ outcome: 'failed', charged: false, costUsd: 0 })]);
      expect(money.costUsd).toBe(0);
    });

    it('fails the shot with a recorded reason when no deployed backend is left in the chain', async () => {
      const before = runway.tasksCreated;
      runway.scriptTask({ outcome: { failureCode: 'SAFETY.INPUT.TEXT', failure: 'flagged' } });
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Refused, nowhere to go', durationSeconds: 5 });
      const deps = h.deps(runwayPool(), { policy: testPolicy(), deployedBackends: ['runway'] });
      const sent = recordPublishes(deps);
      const error = await h.handle(deps, msg).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ reason: 'render_failed' });
      expect((error as Error).message).toMatch(/no backend is left/);
      expect(sent.filter((s) => s.topic.startsWith('aiprod.render.'))).toEqual([]);
      const shot = (await h.jobs.getShot(jobId, 's01'))!;
      expect(shot.status).toBe('FAILED');
      expect(shot.attempts['1']!.error).toMatch(/safety/);
      expect(runway.tasksCreated - before).toBe(1);
      const money = await moneyOf(h, jobId);
      expect(money.lines).toEqual([expect.objectContaining({ outcome: 'failed', charged: false, costUsd: 0 })]);
      expect(money.costUsd).toBe(0);
    });
  });

  it('7. a crash between hand-over and publish: the redelivered request is re-sent to the new owner', async () => {
    const before = runway.tasksCreated;
    const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Crashed after the hand-over', durationSeconds: 5 });
    const attempts = new ShotAttempts(h.jobs);
    expect(await attempts.claim(ref(jobId, 'runway'), 'crashed:m-0:x', 60_000)).toMatchObject({ kind: 'claimed' });
    const moved = await handOverNow(attempts, { ...ref(jobId, 'runway'), holder: 'crashed:m-0:x' }, 'replicate');
    expect(moved).toMatchObject({ backend: 'replicate' });
    // The worker died here: nothing was published to Replicate.

    const deps = h.deps(runwayPool(), { policy: testPolicy() });
    const sent = recordPublishes(deps);
    await expect(h.handle(deps, msg)).resolves.toBeUndefined();

    expect(sent).toEqual([
      {
        topic: renderTopicFor('replicate'),
        message: expect.objectContaining({ jobId, shotId: 's01', attempt: 1, spec: moved!.spec }),
      },
    ]);
    await waitFor(() => h.published[renderTopicFor('replicate')]!.find(forJob(jobId)), {
      timeoutMs: 10_000,
      what: 'the request on the replicate topic',
    });
    expect(runway.tasksCreated - before).toBe(0);
    const money = await moneyOf(h, jobId);
    expect(money.status).toBe('RENDERING');
    expect(money.lines).toEqual([]);
    expect(money.costUsd).toBe(0);
  });

  it('8. SIGTERM during a long render hands the request back with its task, and the next worker resumes it', async () => {
    const before = { created: replicate.predictionsCreated, cancels: replicateCancels() };
    replicate.scriptPrediction({ processing: { ms: 2_000 } });
    const { jobId, msg } = await h.plannedJob('replicate', { prompt: 'Deployed mid-render', durationSeconds: 5 });
    const sigterm = new AbortController();
    const first = h.handle(h.deps(replicatePool(), { policy: testPolicy(), shutdown: sigterm.signal }), msg);
    const taskId = await waitFor(storedTask(jobId), { timeoutMs: 10_000, intervalMs: 20, what: 'the prediction id' });
    sigterm.abort();

    // Acked (no throw), not nacked: a nack would spend one of the subscription's delivery attempts.
    await expect(first).resolves.toBeUndefined();
    const handedBack = await waitFor(() => h.published[renderTopicFor('replicate')]!.find(forJob(jobId)), {
      timeoutMs: 10_000,
      what: 'the handed-back request',
    });
    expect(handedBack).toMatchObject({ shotId: 's01', attempt: 1 });
    const kept = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(kept).toMatchObject({ status: 'RENDERING', vendorTaskId: taskId });
    expect(kept.lease ?? null).toBeNull();
    expect(replicate.prediction(taskId)!.status).not.toMatch(/canceled|aborted/);
    expect((await moneyOf(h, jobId)).lines).toEqual([]);

    // A fresh worker (new process, new client) takes the handed-back request.
    await h.handle(h.deps(replicatePool(), { policy: testPolicy() }), msg);
    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.status).toBe('RENDERED');
    expect(shot.attempts['1']!.tries).toEqual([
      expect.objectContaining({ outcome: 'succeeded', vendorTaskId: taskId }),
    ]);
    expect(replicate.predictionsCreated - before.created).toBe(1);
    expect(replicateCancels() - before.cancels).toBe(0);
    const money = await moneyOf(h, jobId);
    expect(money.lines).toEqual([
      expect.objectContaining({ backend: 'replicate', outcome: 'succeeded', charged: true, vendorTaskId: taskId }),
    ]);
    expect(money.costUsd).toBeGreaterThan(0);
    expect(money.costUsd).toBe(money.ledgerUsd);
    expect(money.reservedUsd).toBe(0);
  });

  it('9. a clip QA rejected is never reused; one QA passed is, by an identical shot of another job', async () => {
    const spec = { prompt: 'A lighthouse beam over a stormy sea', seed: 21 };
    const creates = () => runway.tasksCreated;
    const start = creates();
    const attempts = new ShotAttempts(h.jobs);
    const deps = h.deps(runwayPool(), { policy: testPolicy() });
    const verdict = (v: QaReport['verdict']): QaReport => ({
      attempt: 1,
      verdict: v,
      checks: [],
      evidence: [],
      judge: null,
      timings: { technicalMs: 0, semanticMs: 0 },
      at: Timestamp.now(),
    });

    const rejected = await h.plannedJob('runway', spec);
    await h.handle(deps, rejected.msg);
    expect((await h.jobs.getShot(rejected.jobId, 's01'))!.status).toBe('RENDERED');
    expect(
      await attempts.reject(rejected.jobId, 's01', 1, verdict('reject'), (s) => s, 'on-screen text unreadable'),
    ).toMatchObject({ status: 'REJECTED' });
    expect(creates() - start).toBe(1);

    const fresh = await h.plannedJob('runway', spec);
    await h.handle(deps, fresh.msg);
    expect(creates() - start).toBe(2);
    const freshMoney = await moneyOf(h, fresh.jobId);
    expect(freshMoney.lines).toEqual([expect.objectContaining({ outcome: 'succeeded', charged: true })]);
    expect(freshMoney.costUsd).toBeGreaterThan(0);
    expect((await h.jobs.listEvents(fresh.jobId)).map((e) => e.type)).not.toContain('render.cache_hit');

    await attempts.pass(fresh.jobId, 's01', 1, verdict('pass'));
    const reused = await h.plannedJob('runway', spec);
    await h.handle(deps, reused.msg);
    expect(creates() - start).toBe(2);
    const shot = (await h.jobs.getShot(reused.jobId, 's01'))!;
    expect(shot.status).toBe('RENDERED');
    expect(shot.attempts['1']!.tries).toEqual([expect.objectContaining({ outcome: 'cache_hit', costUsd: 0 })]);
    const reusedMoney = await moneyOf(h, reused.jobId);
    expect(reusedMoney.lines).toEqual([expect.objectContaining({ outcome: 'cache_hit', costUsd: 0 })]);
    expect(reusedMoney.costUsd).toBe(0);
    expect((await h.jobs.listEvents(reused.jobId)).map((e) => e.type)).toContain('render.cache_hit');
  });

  it('17. a crash after a failed, charged create’s ledger line: the next create gets a line of its own', async () => {
    const prompt = 'Veo, two answers cut';
    // Vertex accepts both creates but their answers come back cut: two operations that bill, two names lost.
    veo.enqueueCreate({ malformed: true });
    veo.enqueueCreate({ malformed: true });
    const spendLines = h.spend.length;
    const { jobId, msg } = await h.plannedJob('veo', { prompt });
    const first = h.deps(veoPool(), { policy: testPolicy(), workerId: 'pod-a' });
    // The process dies after the try's ledger line was written and before the try itself was.
    const attempts = first.attempts;
    const dying = Object.create(attempts) as ShotAttempts;
    dying.settleTry = () => Promise.reject(new Error('the process died before the try was stored'));
    first.attempts = dying;
    await expect(h.handle(first, msg, 'm-1')).rejects.toThrow(/died before the try/);
    const crashed = await moneyOf(h, jobId);
    expect(crashed.lines).toEqual([expect.objectContaining({ backend: 'veo', outcome: 'failed', charged: true })]);
    expect((await h.jobs.getShot(jobId, 's01'))!.attempts['1']).toMatchObject({
      tries: [],
      submitting: expect.anything(),
    });

    // Pub/Sub redelivers the message to a restarted worker: a second create, cut too, then a clip.
    await expect(
      h.handle(h.deps(veoPool(), { policy: testPolicy(), workerId: 'pod-b' }), msg, 'm-1'),
    ).resolves.toBeUndefined();

    expect((await h.jobs.getShot(jobId, 's01'))!.status).toBe('RENDERED');
    const ours = new Set(veo.operations.filter((o) => o.prompt.includes(prompt)).map((o) => o.name));
    expect(ours.size).toBe(3);
    const billed = veo.billedTasks.filter((t) => ours.has(t.taskId));
    const billedUsd = Math.round(billed.reduce((s, t) => s + t.usd, 0) * 1e6) / 1e6;
    expect(billed).toHaveLength(3);
    const money = await moneyOf(h, jobId);
    const failed = money.lines.filter((l) => l.outcome === 'failed');
    expect(failed).toEqual([
      expect.objectContaining({ charged: true, costUsd: billed[0]!.usd }),
      expect.objectContaining({ charged: true, costUsd: billed[1]!.usd }),
    ]);
    expect(new Set(failed.map((l) => l.key)).size).toBe(2);
    expect(money.lines.filter((l) => l.outcome === 'succeeded')).toHaveLength(1);
    expect(money.ledgerUsd).toBe(billedUsd);
    expect(money.costUsd).toBe(money.ledgerUsd);
    expect(money.reservedUsd).toBe(0);
    // The tenant's month counts each create once too.
    const month = h.spend.slice(spendLines).reduce((s, l) => s + l.usd, 0);
    expect(month).toBeCloseTo(billedUsd, 6);
  });

  describe('16. a dead worker’s shot resumes within a bound', () => {
    it('a worker killed mid-poll: the redelivered message claims after the lease TTL and finishes the same Veo operation', async () => {
      veo.enqueueCreate({ operation: { pollsUntilDone: 30 } });
      const creates = veo.counts.predictLongRunning;
      const { jobId, msg } = await h.plannedJob('veo', { prompt: 'Veo, worker killed' });
      const killed = killable(h.deps(veoPool(), { policy: testPolicy(), workerId: 'pod-a', leaseMs: 1_500 }));
      const zombie = h.handle(killed.deps, msg, 'm-1');
      const operation = await waitFor(storedTask(jobId), { timeoutMs: 10_000, intervalMs: 20, what: 'the operation' });
      killed.kill();

      try {
        // Pub/Sub redelivers the same message to a restarted worker: a new backend that never saw the task.
        const restarted = h.deps(veoPool(), { policy: testPolicy(), workerId: 'pod-b', leaseMs: 1_500 });
        const claims = recordClaims(restarted);
        await expect(h.handle(restarted, msg, 'm-1')).resolves.toBeUndefined();

        expect(claims.map((c) => c.kind)).toContain('claimed');
        const shot = (await h.jobs.getShot(jobId, 's01'))!;
        expect(shot.status).toBe('RENDERED');
        expect(shot.attempts['1']!.tries).toEqual([
          expect.objectContaining({ outcome: 'succeeded', vendorTaskId: operation }),
        ]);
        expect(veo.counts.predictLongRunning - creates).toBe(1);
        const money = await moneyOf(h, jobId);
        // Measured from the clip: the restarted worker never knew the length it asked for.
        expect(money.lines).toEqual([
          expect.objectContaining({ outcome: 'succeeded', charged: true, seconds: 6, vendorTaskId: operation }),
        ]);
        expect(money.costUsd).toBeGreaterThan(0);
        expect(money.costUsd).toBe(money.ledgerUsd);
        expect(money.reservedUsd).toBe(0);
      } finally {
        await killed.reap();
        await zombie;
      }
      expect(veo.counts.predictLongRunning - creates).toBe(1);
    });

    it('the stale-lease sweep re-sends an attempt whose lease ran out, once, and leaves a held one alone', async () => {
      const deps = h.deps(runwayPool(), { policy: testPolicy(), leaseMs: 1_000 });
      const sent = recordPublishes(deps);
      const dead = await h.plannedJob('runway', { prompt: 'Held by a dead worker' });
      const alive = await h.plannedJob('runway', { prompt: 'Held by a live worker' });
      const attempts = new ShotAttempts(h.jobs);
      expect(await attempts.claim(ref(dead.jobId, 'runway'), 'dead:m-1', 1)).toMatchObject({ kind: 'claimed' });
      expect(await attempts.claim(ref(alive.jobId, 'runway'), 'alive:m-2', 60_000)).toMatchObject({
        kind: 'claimed',
      });
      // Both shots have not moved for a lease TTL; only the dead worker's lease has run out.
      await waitFor(
        async () => {
          const shots = [await h.jobs.getShot(dead.jobId, 's01'), await h.jobs.getShot(alive.jobId, 's01')];
          return shots.every((s) => Date.now() - s!.updatedAt.toMillis() > 1_000) || undefined;
        },
        { timeoutMs: 10_000, what: 'a lease TTL without a write' },
      );

      await resendStaleAttempts(deps);
      await resendStaleAttempts(deps);
      const toJob = (jobId: string) => sent.filter((s) => s.message.jobId === jobId);
      expect(toJob(dead.jobId)).toEqual([
        {
          topic: renderTopicFor('runway'),
          message: expect.objectContaining({ jobId: dead.jobId, shotId: 's01', attempt: 1 }),
        },
      ]);
      expect(toJob(alive.jobId)).toEqual([]);
      expect((await h.jobs.listEvents(dead.jobId)).map((e) => e.type)).toContain('render.resumed');
      expect((await h.jobs.listEvents(alive.jobId)).map((e) => e.type)).not.toContain('render.resumed');
    });

    it('the sweep re-sends a shot whose request died with its worker before any claim, only while the job renders', async () => {
      const deps = h.deps(runwayPool(), { policy: testPolicy(), leaseMs: 300 });
      const sent = recordPublishes(deps);
      const lost = await h.plannedJob('runway', { prompt: 'Request lost with its worker' });
      const over = await h.plannedJob('runway', { prompt: 'Request of a cancelled job' });
      await h.jobs.transition(over.jobId, 'RENDERING', 'CANCELED');
      // Neither shot was ever claimed (PENDING); let three lease TTLs pass without a write.
      await new Promise((r) => setTimeout(r, 1_000));

      await resendStaleAttempts(deps);
      await resendStaleAttempts(deps);
      const toJob = (jobId: string) => sent.filter((s) => s.message.jobId === jobId);
      expect(toJob(lost.jobId)).toEqual([
        { topic: renderTopicFor('runway'), message: expect.objectContaining({ shotId: 's01', attempt: 1 }) },
      ]);
      expect(toJob(over.jobId)).toEqual([]);
      // The re-sent request renders it: one create.
      const before = runway.tasksCreated;
      await h.handle(deps, toJob(lost.jobId)[0]!.message);
      expect((await h.jobs.getShot(lost.jobId, 's01'))!.status).toBe('RENDERED');
      expect(runway.tasksCreated - before).toBe(1);
    });

    it('a dead worker’s dead-lettered message fails nothing while another delivery renders the shot', async () => {
      const deps = h.deps(runwayPool(), { policy: testPolicy() });
      const { jobId, msg } = await h.plannedJob('runway', { prompt: 'Dead letter of a dead worker' });
      const letter = { data: JSON.stringify(msg) };
      const attempts = new ShotAttempts(h.jobs);
      // Nobody holds it (the holder died and its lease ran out): the letter matters.
      expect(await attempts.claim(ref(jobId, 'runway'), 'dead:m-1:x', 1)).toMatchObject({ kind: 'claimed' });
      await new Promise((r) => setTimeout(r, 20));
      expect(await renderLetterSuperseded(deps, letter)).toBeNull();
      // A live delivery took it over: the letter is moot.
      expect(await attempts.claim(ref(jobId, 'runway'), 'live:m-2:y', 60_000)).toMatchObject({ kind: 'claimed' });
      expect(await renderLetterSuperseded(deps, letter)).toMatch(/another delivery is rendering/);
      // Another attempt is current (QA asked for a retake): moot too; a body that is not a request is not.
      expect(await renderLetterSuperseded(deps, { data: JSON.stringify({ ...msg, attempt: 0 }) })).toMatch(/attempt 1/);
      expect(await renderLetterSuperseded(deps, { data: 'not json' })).toBeNull();
    });
  });
});
