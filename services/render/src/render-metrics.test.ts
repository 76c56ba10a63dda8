import { BrokenCircuitError } from 'cockatiel';
import type { Firestore } from '@google-cloud/firestore';
import type { TenantStore } from '@aiprod/job-store';
import { memoryLog, startMetricsProbe, type MetricsProbe } from '@aiprod/testing';
import { BackendFailure, type VideoBackend } from './backends/backend';
import { reportBreakerState, reportSpendAgainstCap, timedBackend } from './render-metrics';
import { backendBreaker } from './steps/policy';

let probe: MetricsProbe;
beforeAll(async () => {
  probe = await startMetricsProbe('render-test');
});
afterAll(() => probe.stop());

/** A backend whose submit answers as told; only what the wrapper touches is real. */
function scriptedBackend(submit: VideoBackend['submit']): VideoBackend {
  return {
    name: 'runway',
    model: 'gen4_turbo',
    pollIntervalMs: 10,
    submit,
    poll: () => Promise.reject(new Error('not used')),
    fetchResult: () => Promise.reject(new Error('not used')),
    cancel: () => Promise.reject(new Error('not used')),
    classify: (error) =>
      error instanceof BackendFailure
        ? error.detail
        : { class: 'timeout', code: 'x', message: String(error), charged: false },
  } as VideoBackend;
}

const latencyCount = (outcome: string) =>
  probe.value('aiprod_vendor_request_duration_seconds_count', { backend: 'runway', operation: 'submit', outcome });

describe('timedBackend', () => {
  it('times each call by outcome: ok, or the error class the backend gives it, and passes results and errors through', async () => {
    const [ok, rateLimited] = [await latencyCount('ok'), await latencyCount('rate_limited')];
    const sent = { model: 'gen4_turbo', prompt: 'p', references: [] };
    let answer: ReturnType<VideoBackend['submit']> = Promise.resolve({ taskId: 't1', sent });
    const backend = timedBackend(scriptedBackend(() => answer));
    expect(await backend.submit({} as never, {} as never)).toEqual({ taskId: 't1', sent });
    const refusal = new BackendFailure({ class: 'rate_limited', code: '429', message: 'slow down', charged: false });
    answer = Promise.reject(refusal);
    await expect(backend.submit({} as never, {} as never)).rejects.toBe(refusal);
    expect(await latencyCount('ok')).toBe(ok + 1);
    expect(await latencyCount('rate_limited')).toBe(rateLimited + 1);
    // Everything the wrapper does not time is the backend's own.
    expect(backend.name).toBe('runway');
    expect(backend.pollIntervalMs).toBe(10);
  });
});

describe('reportBreakerState', () => {
  it('follows a real breaker: 0 closed, 1 once it opens', async () => {
    const breaker = backendBreaker({
      maxAttempts: 3,
      backoff: { initialMs: 1, maxMs: 1, multiplier: 1 },
      onError: {},
      circuitBreaker: { consecutiveFailures: 2, halfOpenAfterSeconds: 60 },
    } as never);
    reportBreakerState(breaker, 'veo');
    const state = () => probe.value('aiprod_circuit_breaker_state', { backend: 'veo' });
    expect(await state()).toBe(0);
    const failure = new BackendFailure({ class: 'transient', code: '503', message: 'down', charged: false });
    for (let i = 0; i < 2; i++) await breaker.execute(() => Promise.reject(failure)).catch(() => undefined);
    await expect(breaker.execute(() => Promise.resolve(1))).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(await state()).toBe(1);
  });
});

describe('reportSpendAgainstCap', () => {
  it('reports spend over the cap, and a failed read is logged, never thrown (the spend is already booked)', async () => {
    const { log, lines } = memoryLog();
    const usage = { get: async () => ({ exists: true, get: () => 30 }) };
    const db = { collection: () => ({ doc: () => usage }) } as unknown as Firestore;
    const capped = { getTenant: async () => ({ monthlySpendCapUsd: 40 }) } as unknown as TenantStore;
    await reportSpendAgainstCap(db, capped, 'acme', log);
    expect(await probe.value('aiprod_tenant_spend_cap_ratio', { tenant: 'acme' })).toBe(0.75);

    const broken = { getTenant: () => Promise.reject(new Error('unavailable')) } as unknown as TenantStore;
    await expect(reportSpendAgainstCap(db, broken, 'acme', log)).resolves.toBeUndefined();
    expect(lines.some((l) => l.message === 'could not report spend against the cap')).toBe(true);
  });
});
