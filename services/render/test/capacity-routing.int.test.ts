import { CircuitState } from 'cockatiel';
import { DEFAULT_FALLBACK_POLICY, type BackendName, type FallbackPolicy, type RenderRequest } from '@aiprod/contracts';
import { CapacityBoard, CapacityReporter } from '@aiprod/job-store';
import {
  requireEmulators,
  startMetricsProbe,
  startRunwayServer,
  waitFor,
  type MetricsProbe,
  type RunwayServer,
} from '@aiprod/testing';
import { localBackend } from '../src/backends/local';
import { runwayBackend } from '../src/backends/runway';
import { renderHarness } from './harness';

requireEmulators();
const h = renderHarness('render-capacity');
let runway: RunwayServer;
let probe: MetricsProbe;
const API_KEY = 'key_test_runway_capacity_0123';
/** The other pools' entries on the board, as their workers would write them. */
const others: CapacityReporter[] = [];

beforeAll(async () => {
  await h.setUp();
  runway = await startRunwayServer({ apiKey: API_KEY });
  probe = await startMetricsProbe('render-capacity-test');
}, 60_000);
afterAll(async () => {
  await Promise.all(others.map((r) => r.stop()));
  await probe?.stop();
  await runway?.close();
  await h.tearDown();
});

const backend = () => runwayBackend({ apiKey: API_KEY, baseUrl: runway.url, pollIntervalMs: 20 });

/** Test-sized backoffs; Runway moves a busy task after 1 s; a breaker that opens on the first counted failure. */
function policy(change: (p: FallbackPolicy) => void = () => undefined): FallbackPolicy {
  const p = structuredClone(DEFAULT_FALLBACK_POLICY);
  for (const b of Object.values(p.backends)) b.backoff = { initialMs: 10, maxMs: 500, multiplier: 2 };
  p.backends.runway.onBusy = { action: 'fallback', afterSeconds: 1, maxWaitSeconds: 60 };
  p.backends.runway.circuitBreaker = { consecutiveFailures: 1, halfOpenAfterSeconds: 60 };
  change(p);
  return p;
}

/** Another pool's worker reporting `inFlight` attempts of `limit` now. */
async function pool(backend: BackendName, inFlight: number, limit: number): Promise<void> {
  const reporter = new CapacityReporter(h.db, {
    backend,
    model: 'default',
    workerId: `${backend}-pool-${others.length}`,
    limit,
    minIntervalMs: 0,
  });
  for (let i = 0; i < inFlight; i++) reporter.begin(`other-${i}`);
  others.push(reporter);
  await reporter.flush();
}

/** This Runway worker's own entry and the board reader, as main.ts wires them. */
function capacity() {
  const reporter = new CapacityReporter(h.db, {
    backend: 'runway',
    model: 'gen4.5',
    workerId: `runway-under-test-${others.length}`,
    limit: 4,
    minIntervalMs: 20,
  });
  others.push(reporter);
  return { board: new CapacityBoard(h.db), reporter };
}

const reroutes = (to: string) =>
  probe.value('aiprod_render_busy_reroutes_total', { from_backend: 'runway', to_backend: to });
const failures = async () =>
  (
    await Promise.all(
      ['transient', 'timeout', 'rate_limited', 'canceled'].map((c) =>
        probe.value('aiprod_render_failures_total', { backend: 'runway', error_class: c }),
      ),
    )
  ).reduce((a, b) => a + (b ?? 0), 0);

describe('capacity-aware routing in a render pool (Runway test server, THROTTLED)', () => {
  it('moves a task THROTTLED past afterSeconds to the first backend of the chain with room: not billed, not a failure, breaker untouched', async () => {
    // The chain from Runway is replicate, local; Replicate is full, the local pool has room.
    await pool('replicate', 2, 2);
    await pool('local', 0, 2);
    runway.scriptTask({ throttled: { ms: 60_000 } });
    const { jobId, msg } = await h.plannedJob(
      'runway',
      { prompt: 'Queued at Runway', durationSeconds: 5 },
      'social_quick',
    );
    const cap = capacity();
    const deps = h.deps(backend(), { policy: policy(), capacity: cap });
    const [reroutedBefore, failuresBefore] = [(await reroutes('local')) ?? 0, await failures()];

    const rendering = h.handle(deps, msg);
    // While the vendor holds it back, this worker's entry says so: Runway has no room.
    await waitFor(async () => ((await cap.board.read('runway')).throttled === 1 ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the throttled task on the board',
    });
    expect((await cap.board.read('runway')).hasRoom).toBe(false);
    await rendering;

    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.backend).toBe('local');
    expect(shot.status).toBe('RENDERING');
    const tries = shot.attempts['1']!.tries!;
    expect(tries).toEqual([
      expect.objectContaining({ backend: 'runway', outcome: 'canceled', code: 'vendor_busy', costUsd: 0 }),
    ]);
    expect(tries[0]!.errorClass).toBeUndefined();
    const taskId = tries[0]!.vendorTaskId!;
    expect(runway.task(taskId)).toMatchObject({ cancelled: true, status: 'CANCELLED' });

    const events = await h.jobs.listEvents(jobId);
    const types = events.map((e) => e.type);
    expect(types).toContain('render.busy');
    expect(types).not.toContain('render.decision');
    expect(types).not.toContain('render.fallback');
    const rerouted = events.find((e) => e.type === 'render.rerouted')!;
    expect(rerouted.data).toMatchObject({ from: 'runway', to: 'local' });
    expect(String(rerouted.data.reason)).toMatch(/local has room/);
    // Not a failure: no failure counted, the breaker (open on one counted failure) still closed.
    expect(deps.breaker.state).toBe(CircuitState.Closed);
    expect(await failures()).toBe(failuresBefore);
    expect(await reroutes('local')).toBe(reroutedBefore + 1);
    // This worker no longer has it in hand.
    expect((await cap.reporter.flush(), await cap.board.read('runway')).throttled).toBe(0);

    // The local pool finishes the shot; Runway, run to its own end, bills nothing for the moved task.
    const request = await waitFor(
      () => h.published['aiprod.render.local.v1']!.find((m) => m.jobId === jobId) as RenderRequest | undefined,
      { timeoutMs: 10_000, what: 'the request on the local topic' },
    );
    await h.handle(h.deps(localBackend({ timeoutMs: 60_000 }), { policy: policy() }), request);
    expect((await h.jobs.getShot(jobId, 's01'))!.status).toBe('RENDERED');
    runway.settle();
    expect(runway.billedTasks.map((t) => t.taskId)).not.toContain(taskId);
    expect((await h.jobs.getJob(jobId))!.costUsd).toBe(0);
    expect((await h.jobs.listCosts(jobId)).map((l) => [l.backend, l.outcome, l.costUsd])).toEqual(
      expect.arrayContaining([
        ['runway', 'canceled', 0],
        ['local', 'succeeded', 0],
      ]),
    );
    await Promise.all(others.splice(0).map((r) => r.stop()));
  }, 60_000);

  it('with no backend of the chain with room it keeps waiting, and renders where it is when the throttle lifts; busy time is not running time', async () => {
    await pool('replicate', 2, 2);
    await pool('local', 2, 2);
    const before = { tasks: runway.tasksCreated, billed: runway.billedTasks.length };
    // Held back longer than the attempt timeout: without the busy rule this would end as a timeout.
    runway.scriptTask({ throttled: { ms: 6_500 } });
    const { jobId, msg } = await h.plannedJob(
      'runway',
      { prompt: 'Waits its turn', durationSeconds: 5 },
      'social_quick',
    );
    const deps = h.deps(backend(), {
      policy: policy((p) => (p.backends.runway.attemptTimeoutSeconds = 5)),
      capacity: capacity(),
    });
    await h.handle(deps, msg);

    const attempt = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(attempt.status).toBe('RENDERED');
    expect(attempt.tries).toEqual([expect.objectContaining({ backend: 'runway', outcome: 'succeeded' })]);
    expect(runway.tasksCreated - before.tasks).toBe(1);
    runway.settle();
    expect(runway.billedTasks.length - before.billed).toBe(1);
    const events = await h.jobs.listEvents(jobId);
    const busy = events.filter((e) => e.type === 'render.busy').map((e) => String(e.data.reason));
    expect(busy).toEqual(expect.arrayContaining([expect.stringMatching(/no backend of the chain has room.*waiting/)]));
    expect(events.map((e) => e.type)).not.toContain('render.rerouted');
    expect(deps.breaker.state).toBe(CircuitState.Closed);
    await Promise.all(others.splice(0).map((r) => r.stop()));
  }, 60_000);

  it('does not cancel a task that left THROTTLED while a backend with room was looked for: it keeps polling and renders where it is', async () => {
    await pool('replicate', 2, 2);
    await pool('local', 0, 2);
    // Held back by Runway's concurrency limit until the board has been read; then it runs at once.
    runway.setConcurrency('gen4.5', 0);
    runway.scriptTask({ pending: { polls: 0 }, running: { polls: 3 } });
    const { jobId, msg } = await h.plannedJob(
      'runway',
      { prompt: 'Starts while we look elsewhere', durationSeconds: 5 },
      'social_quick',
    );
    const cap = capacity();
    // The vendor starts the task while this worker reads the board: the race the final check closes.
    const board = Object.create(cap.board) as CapacityBoard;
    let boardReads = 0;
    board.readAll = async (...args: Parameters<CapacityBoard['readAll']>) => {
      const views = await cap.board.readAll(...args);
      boardReads += 1;
      runway.setConcurrency('gen4.5', undefined);
      return views;
    };
    const cancelsBefore = runway.calls.cancels;
    const deps = h.deps(backend(), { policy: policy(), capacity: { board, reporter: cap.reporter } });
    try {
      await h.handle(deps, msg);
    } finally {
      runway.setConcurrency('gen4.5', undefined);
    }

    expect(boardReads).toBeGreaterThan(0);
    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.backend).toBe('runway');
    expect(shot.attempts['1']!.status).toBe('RENDERED');
    const tries = shot.attempts['1']!.tries!;
    expect(tries).toEqual([expect.objectContaining({ backend: 'runway', outcome: 'succeeded' })]);
    expect(runway.task(tries[0]!.vendorTaskId!)).toMatchObject({ cancelled: false, status: 'SUCCEEDED' });
    expect(runway.calls.cancels).toBe(cancelsBefore);
    const types = (await h.jobs.listEvents(jobId)).map((e) => e.type);
    expect(types).toContain('render.busy');
    expect(types).not.toContain('render.rerouted');
    expect(h.published['aiprod.render.local.v1']!.find((m) => m.jobId === jobId)).toBeUndefined();
    await Promise.all(others.splice(0).map((r) => r.stop()));
  }, 60_000);

  it('busy time survives a hand-back: the worker that resumes a task THROTTLED past the attempt timeout keeps waiting, not a timeout', async () => {
    const before = runway.tasksCreated;
    runway.scriptTask({ throttled: { ms: 4_000 } });
    const { jobId, msg } = await h.plannedJob(
      'runway',
      { prompt: 'Throttled across a restart', durationSeconds: 5 },
      'social_quick',
    );
    // Waits for room (no move); held back twice as long as the attempt may run.
    const p = policy((x) => {
      x.backends.runway.attemptTimeoutSeconds = 2;
      x.backends.runway.onBusy = { action: 'wait', afterSeconds: 0, maxWaitSeconds: 60 };
    });
    const shutdown = new AbortController();
    const first = h.handle(h.deps(backend(), { policy: p, shutdown: shutdown.signal }), msg);
    const submittedAt = await waitFor(
      async () => (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!.submittedAt?.toMillis(),
      { timeoutMs: 10_000, what: 'the stored task' },
    );
    await new Promise((r) => setTimeout(r, submittedAt + 3_000 - Date.now()));
    shutdown.abort();
    await first;
    // The busy time measured so far is stored with the task, as it stood when the worker stopped.
    const handedBack = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(handedBack.busySeconds).toBeGreaterThanOrEqual(2.5);
    expect(Date.now() - submittedAt).toBeGreaterThan(p.backends.runway.attemptTimeoutSeconds * 1000);

    // A fresh process resumes it: the stored busy time moves the deadline, so it waits and renders.
    await h.handle(h.deps(backend(), { policy: p }), msg);
    const attempt = (await h.jobs.getShot(jobId, 's01'))!.attempts['1']!;
    expect(attempt.tries).toEqual([expect.objectContaining({ backend: 'runway', outcome: 'succeeded' })]);
    expect(attempt.status).toBe('RENDERED');
    expect(runway.tasksCreated - before).toBe(1);
  }, 60_000);

  it('bounds the wait: busy time past maxWaitSeconds counts toward the attempt timeout again', async () => {
    runway.scriptTask({ throttled: { ms: 120_000 } });
    const { jobId, msg } = await h.plannedJob(
      'runway',
      { prompt: 'Never gets a slot', durationSeconds: 5 },
      'social_quick',
    );
    const p = policy((x) => {
      x.backends.runway.attemptTimeoutSeconds = 5;
      x.backends.runway.onBusy = { action: 'wait', afterSeconds: 0, maxWaitSeconds: 1 };
    });
    const started = Date.now();
    await h.handle(h.deps(backend(), { policy: p }), msg);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(6_000);
    expect(elapsed).toBeLessThan(20_000);
    const shot = (await h.jobs.getShot(jobId, 's01'))!;
    expect(shot.attempts['1']!.tries).toEqual([
      expect.objectContaining({ backend: 'runway', outcome: 'abandoned', errorClass: 'timeout', costUsd: 0 }),
    ]);
    expect(shot.backend).toBe('replicate');
  }, 60_000);
});
