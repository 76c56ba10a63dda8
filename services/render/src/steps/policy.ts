import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
  type IBackoff,
} from 'cockatiel';
import {
  fallbackChain,
  type BackendName,
  type BackendPolicy,
  type FallbackPolicy,
  type PolicyAction,
} from '@aiprod/contracts';
import { BackendFailure, type BackendError, type ErrorClass } from '../backends/backend';

/** Failures that say the vendor itself is unwell (as opposed to this prompt being refused). */
const VENDOR_HEALTH_CLASSES: readonly ErrorClass[] = ['transient', 'rate_limited', 'timeout', 'auth'];

/** One breaker per backend per process: after N vendor failures in a row, calls fail fast until half-open. */
export function backendBreaker(policy: BackendPolicy): CircuitBreakerPolicy {
  return circuitBreaker(
    handleWhen((e) => e instanceof BackendFailure && VENDOR_HEALTH_CLASSES.includes(e.detail.class)),
    {
      halfOpenAfter: policy.circuitBreaker.halfOpenAfterSeconds * 1000,
      breaker: new ConsecutiveBreaker(policy.circuitBreaker.consecutiveFailures),
    },
  );
}

export const CIRCUIT_OPEN_CODE = 'circuit_open';

/** A breaker that is open is reported like a vendor outage, so the policy can fall back at once. */
export function circuitOpenError(backend: BackendName, error: BrokenCircuitError): BackendError {
  return {
    class: 'transient',
    code: CIRCUIT_OPEN_CODE,
    message: `${backend} is failing repeatedly; its circuit breaker is open (${error.message})`,
    charged: false,
  };
}

export interface Decision {
  action: PolicyAction;
  /** The next backend when falling back. */
  to?: BackendName;
  /** Wait before retrying here. */
  delayMs?: number;
  why: string;
}

/**
 * What to do after a failed vendor task: the policy's action for the error class, bounded by the
 * attempts allowed here, then the first backend of the chain this attempt has not tried yet.
 */
export function decide(input: {
  policy: FallbackPolicy;
  backend: BackendName;
  error: BackendError;
  /** Vendor tasks this attempt has already run on this backend, the failed one included. */
  triesHere: number;
  /** Backends this attempt has already used. */
  tried: readonly BackendName[];
  allowed: readonly BackendName[];
  /**
   * Of the chain's backends left, which to try first (in chain order); the chain's first left one
   * when none of them is preferred. Default: no preference.
   */
  prefer?: (left: readonly BackendName[]) => readonly BackendName[];
}): Decision {
  const here = input.policy.backends[input.backend];
  let action = here.onError[input.error.class];
  let why = `${input.error.class} (${input.error.code}) → ${action}`;
  if (input.error.code === CIRCUIT_OPEN_CODE && action === 'retry') {
    action = 'fallback';
    why = `circuit open → fallback`;
  }
  if (action === 'retry' && input.triesHere >= here.attemptsHere) {
    action = 'fallback';
    why = `${input.error.class} (${input.error.code}) after ${input.triesHere} of ${here.attemptsHere} tries here → fallback`;
  }
  if (action === 'retry') {
    const delayMs = Math.max(backoffDelay(here, input.triesHere), input.error.retryAfterMs ?? 0);
    return { action, delayMs: Math.min(delayMs, here.backoff.maxMs || delayMs), why };
  }
  if (action === 'fallback') {
    const left = fallbackChain(input.policy, input.backend, input.allowed).filter((b) => !input.tried.includes(b));
    const preferred = input.prefer ? input.prefer(left) : left;
    const to = preferred[0] ?? left[0];
    if (to && to !== left[0]) return { action, to, why: `${why} (${to} before ${left[0]}: it takes the shot's image)` };
    if (to) return { action, to, why };
    return { action: 'fail', why: `${why}, but no backend is left in the chain` };
  }
  return { action, why };
}

/** Exponential backoff with jitter from cockatiel: the delay before try `tries + 1`. */
export function backoffDelay(policy: BackendPolicy, tries: number): number {
  let backoff: IBackoff<unknown> | undefined = new ExponentialBackoff({
    initialDelay: policy.backoff.initialMs,
    maxDelay: policy.backoff.maxMs,
    exponent: policy.backoff.multiplier,
  }).next();
  for (let i = 1; i < tries && backoff; i++) backoff = backoff.next(undefined);
  return backoff?.duration ?? policy.backoff.maxMs;
}
