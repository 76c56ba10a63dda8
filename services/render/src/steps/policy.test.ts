import { DEFAULT_FALLBACK_POLICY, busyPolicyOf, parseFallbackPolicy, type FallbackPolicy } from '@aiprod/contracts';
import { BrokenCircuitError } from 'cockatiel';
import { BackendFailure, type BackendError } from '../backends/backend';
import { backendBreaker, circuitOpenError, decide } from './policy';

const error = (cls: BackendError['class'], extra: Partial<BackendError> = {}): BackendError => ({
  class: cls,
  code: cls.toUpperCase(),
  message: cls,
  charged: false,
  ...extra,
});
const all = ['local', 'runway', 'veo', 'replicate'] as const;

describe('the fallback decision', () => {
  it('retries a transient failure here with a backoff, within attemptsHere', () => {
    const d = decide({
      policy: DEFAULT_FALLBACK_POLICY,
      backend: 'runway',
      error: error('transient'),
      triesHere: 1,
      tried: ['runway'],
      allowed: all,
    });
    expect(d.action).toBe('retry');
    expect(d.delayMs).toBeGreaterThan(0);
    expect(d.delayMs).toBeLessThanOrEqual(DEFAULT_FALLBACK_POLICY.backends.runway.backoff.maxMs);
  });

  it("waits at least the vendor's Retry-After on a rate limit", () => {
    const d = decide({
      policy: DEFAULT_FALLBACK_POLICY,
      backend: 'replicate',
      error: error('rate_limited', { retryAfterMs: 7_000 }),
      triesHere: 1,
      tried: ['replicate'],
      allowed: all,
    });
    expect(d).toMatchObject({ action: 'retry' });
    expect(d.delayMs).toBeGreaterThanOrEqual(7_000);
  });

  it('falls back along the chain once the tries here are spent', () => {
    const d = decide({
      policy: DEFAULT_FALLBACK_POLICY,
      backend: 'runway',
      error: error('transient'),
      triesHere: 2,
      tried: ['runway'],
      allowed: all,
    });
    expect(d).toMatchObject({ action: 'fallback', to: 'replicate' });
    expect(d.why).toMatch(/after 2 of 2 tries here/);
  });

  it('never retries a safety refusal on the same backend, and skips backends already tried', () => {
    const d = decide({
      policy: DEFAULT_FALLBACK_POLICY,
      backend: 'veo',
      error: error('safety'),
      triesHere: 1,
      tried: ['runway', 'veo'],
      allowed: all,
    });
    expect(d).toMatchObject({ action: 'fallback', to: 'local' });
  });

  it("respects the preset's allowed backends and fails when the chain is empty", () => {
    const d = decide({
      policy: DEFAULT_FALLBACK_POLICY,
      backend: 'veo',
      error: error('safety'),
      triesHere: 1,
      tried: ['veo'],
      allowed: ['veo', 'runway'],
    });
    expect(d).toMatchObject({ action: 'fallback', to: 'runway' });
    const none = decide({
      policy: DEFAULT_FALLBACK_POLICY,
      backend: 'veo',
      error: error('safety'),
      triesHere: 1,
      tried: ['veo', 'runway'],
      allowed: ['veo', 'runway'],
    });
    expect(none.action).toBe('fail');
    expect(none.why).toMatch(/no backend is left/);
  });

  it('fails at once where the policy says fail', () => {
    const policy: FallbackPolicy = structuredClone(DEFAULT_FALLBACK_POLICY);
    policy.backends.runway.onError.safety = 'fail';
    expect(
      decide({ policy, backend: 'runway', error: error('safety'), triesHere: 1, tried: ['runway'], allowed: all })
        .action,
    ).toBe('fail');
  });

  it('falls back at once when the circuit is open, even for a class that would retry', () => {
    const open = circuitOpenError('runway', new BrokenCircuitError());
    expect(
      decide({
        policy: DEFAULT_FALLBACK_POLICY,
        backend: 'runway',
        error: open,
        triesHere: 1,
        tried: ['runway'],
        allowed: all,
      }),
    ).toMatchObject({ action: 'fallback', to: 'replicate' });
  });
});

describe('the circuit breaker', () => {
  it('opens after the configured consecutive vendor failures and ignores refusals', async () => {
    const breaker = backendBreaker({
      ...DEFAULT_FALLBACK_POLICY.backends.runway,
      circuitBreaker: { consecutiveFailures: 3, halfOpenAfterSeconds: 60 },
    });
    const fail = (cls: BackendError['class']) => breaker.execute(() => Promise.reject(new BackendFailure(error(cls))));
    for (let i = 0; i < 5; i++) await expect(fail('safety')).rejects.toBeInstanceOf(BackendFailure);
    for (let i = 0; i < 3; i++) await expect(fail('transient')).rejects.toBeInstanceOf(BackendFailure);
    await expect(breaker.execute(() => Promise.resolve('ok'))).rejects.toBeInstanceOf(BrokenCircuitError);
  });
});

describe('the busy policy (onBusy)', () => {
  it('is validated, and defaults by kind when a policy written before it leaves it out', () => {
    const older = structuredClone(DEFAULT_FALLBACK_POLICY) as FallbackPolicy;
    for (const b of Object.values(older.backends)) delete b.onBusy;
    const parsed = parseFallbackPolicy(JSON.stringify(older));
    expect(busyPolicyOf(parsed, 'runway')).toEqual({ action: 'fallback', afterSeconds: 300, maxWaitSeconds: 3600 });
    expect(busyPolicyOf(parsed, 'local')).toMatchObject({ action: 'wait' });

    const set = structuredClone(DEFAULT_FALLBACK_POLICY) as FallbackPolicy;
    set.backends.veo.onBusy = { action: 'wait', afterSeconds: 0, maxWaitSeconds: 600 };
    expect(busyPolicyOf(parseFallbackPolicy(JSON.stringify(set)), 'veo')).toEqual(set.backends.veo.onBusy);

    const wrong = structuredClone(DEFAULT_FALLBACK_POLICY);
    const runway = wrong.backends.runway as unknown as { onBusy: Record<string, unknown> };
    runway.onBusy = { action: 'retry', afterSeconds: 10, maxWaitSeconds: 60 };
    expect(() => parseFallbackPolicy(JSON.stringify(wrong))).toThrow(/invalid fallback policy: .*onBusy/);
    runway.onBusy = { action: 'fallback', afterSeconds: -1, maxWaitSeconds: 60 };
    expect(() => parseFallbackPolicy(JSON.stringify(wrong))).toThrow(/invalid fallback policy: .*afterSeconds/);
  });
});
