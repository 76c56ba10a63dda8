import { Type, type Static } from '@sinclair/typebox';
import { Backend, Strict } from './schemas';
import type { BackendName } from './catalogue';
import { validate } from './validation';

/** How a vendor failure is classified by the render backends (see services/render/src/backends/backend.ts). */
export const ERROR_CLASSES = [
  'rate_limited',
  'transient',
  'safety',
  'invalid',
  'auth',
  'no_output',
  'timeout',
  'canceled',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

const Action = Type.Union([Type.Literal('retry'), Type.Literal('fallback'), Type.Literal('fail')], {
  description:
    'retry: try this backend again (bounded by attemptsHere); fallback: the next backend of the chain; fail: the shot fails.',
});
export type PolicyAction = Static<typeof Action>;

export const BusyPolicySchema = Strict({
  action: Type.Union([Type.Literal('wait'), Type.Literal('fallback')], {
    description:
      "wait: a task queued behind the vendor's capacity (THROTTLED) waits for it; fallback: after afterSeconds it is " +
      'cancelled (it has not started: not billed) and the shot goes to the next backend of the chain that has room.',
  }),
  afterSeconds: Type.Integer({
    minimum: 0,
    maximum: 7200,
    description: 'How long a task may stay busy before it is moved (fallback only).',
  }),
  maxWaitSeconds: Type.Integer({
    minimum: 0,
    maximum: 86_400,
    description:
      'Busy time beyond this counts toward attemptTimeoutSeconds again: the bound that keeps a wait for room finite.',
  }),
});
export type BusyPolicy = Static<typeof BusyPolicySchema>;

export const BackendPolicySchema = Strict({
  attemptsHere: Type.Integer({
    minimum: 1,
    maximum: 10,
    description: 'Vendor tasks tried on this backend per shot before falling back.',
  }),
  backoff: Strict({
    initialMs: Type.Integer({ minimum: 0, maximum: 600_000 }),
    maxMs: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
    multiplier: Type.Number({ minimum: 1, maximum: 10 }),
  }),
  attemptTimeoutSeconds: Type.Integer({
    minimum: 5,
    maximum: 7200,
    description: 'A vendor task older than this is cancelled and counts as a timeout.',
  }),
  onError: Strict(Object.fromEntries(ERROR_CLASSES.map((c) => [c, Action])) as Record<ErrorClass, typeof Action>),
  fallbackTo: Type.Array(Backend, {
    maxItems: 3,
    uniqueItems: true,
    description: "The chain, in order; filtered by the preset's allowed backends.",
  }),
  circuitBreaker: Strict({
    consecutiveFailures: Type.Integer({ minimum: 1, maximum: 100 }),
    halfOpenAfterSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
  }),
  maxConcurrent: Type.Integer({
    minimum: 1,
    maximum: 64,
    description: "Tasks in flight per worker, matching the vendor's limit.",
  }),
  /** Optional so that policies written before it still parse; `busyPolicyOf` gives the default. */
  onBusy: Type.Optional(BusyPolicySchema),
});
export type BackendPolicy = Static<typeof BackendPolicySchema>;

export const FallbackPolicySchema = Strict({
  version: Type.Literal(1),
  backends: Strict({
    runway: BackendPolicySchema,
    veo: BackendPolicySchema,
    replicate: BackendPolicySchema,
    local: BackendPolicySchema,
  }),
});
export type FallbackPolicy = Static<typeof FallbackPolicySchema>;

const VENDOR_ON_ERROR: Record<ErrorClass, PolicyAction> = {
  rate_limited: 'retry',
  transient: 'retry',
  // A refusal is about the prompt, not the vendor: never the same prompt again here, but another
  // vendor's moderation may accept it.
  safety: 'fallback',
  invalid: 'fallback',
  auth: 'fallback',
  no_output: 'retry',
  timeout: 'fallback',
  canceled: 'fail',
};

/**
 * A vendor that is busy is moved away from after five minutes queued (a shot waiting longer than
 * that is better made elsewhere, and a task that has not started costs nothing to cancel); the
 * local animatic has no one to move to and waits. An hour of busy time at most, then the attempt
 * timeout runs again.
 */
const VENDOR_ON_BUSY: BusyPolicy = { action: 'fallback', afterSeconds: 300, maxWaitSeconds: 3600 };
const LOCAL_ON_BUSY: BusyPolicy = { action: 'wait', afterSeconds: 0, maxWaitSeconds: 3600 };

/** What a backend does when busy: its policy's `onBusy`, or the default for its kind. */
export function busyPolicyOf(policy: FallbackPolicy, backend: BackendName): BusyPolicy {
  return policy.backends[backend].onBusy ?? (backend === 'local' ? LOCAL_ON_BUSY : VENDOR_ON_BUSY);
}

/** The default policy: paid vendors fall back towards cheaper ones and finally the local animatic. */
export const DEFAULT_FALLBACK_POLICY: FallbackPolicy = {
  version: 1,
  backends: {
    runway: {
      attemptsHere: 2,
      backoff: { initialMs: 5_000, maxMs: 60_000, multiplier: 2 },
      attemptTimeoutSeconds: 900,
      onError: VENDOR_ON_ERROR,
      fallbackTo: ['replicate', 'local'],
      circuitBreaker: { consecutiveFailures: 5, halfOpenAfterSeconds: 60 },
      maxConcurrent: 4,
      onBusy: VENDOR_ON_BUSY,
    },
    veo: {
      attemptsHere: 2,
      backoff: { initialMs: 10_000, maxMs: 120_000, multiplier: 2 },
      attemptTimeoutSeconds: 900,
      onError: VENDOR_ON_ERROR,
      fallbackTo: ['runway', 'local'],
      circuitBreaker: { consecutiveFailures: 5, halfOpenAfterSeconds: 60 },
      // veo-3.0 allows 10 requests a minute per project.
      maxConcurrent: 4,
      onBusy: VENDOR_ON_BUSY,
    },
    replicate: {
      attemptsHere: 2,
      backoff: { initialMs: 2_000, maxMs: 60_000, multiplier: 2 },
      attemptTimeoutSeconds: 900,
      onError: VENDOR_ON_ERROR,
      fallbackTo: ['local'],
      circuitBreaker: { consecutiveFailures: 5, halfOpenAfterSeconds: 60 },
      maxConcurrent: 8,
      onBusy: VENDOR_ON_BUSY,
    },
    local: {
      attemptsHere: 2,
      backoff: { initialMs: 500, maxMs: 5_000, multiplier: 2 },
      attemptTimeoutSeconds: 300,
      onError: { ...VENDOR_ON_ERROR, safety: 'fail', invalid: 'fail', auth: 'fail', timeout: 'retry' },
      fallbackTo: [],
      circuitBreaker: { consecutiveFailures: 20, halfOpenAfterSeconds: 10 },
      maxConcurrent: 2,
      onBusy: LOCAL_ON_BUSY,
    },
  },
};

/** Parses a policy given as configuration (JSON); a wrong policy stops the service at start-up. */
export function parseFallbackPolicy(json: string | undefined): FallbackPolicy {
  if (!json) return DEFAULT_FALLBACK_POLICY;
  const checked = validate(FallbackPolicySchema, JSON.parse(json));
  if (!checked.ok)
    throw new Error(`invalid fallback policy: ${checked.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`);
  return checked.value;
}

/** The chain after `backend` that a preset allows, in order. */
export function fallbackChain(
  policy: FallbackPolicy,
  backend: BackendName,
  allowed: readonly BackendName[],
): BackendName[] {
  return policy.backends[backend].fallbackTo.filter((b) => allowed.includes(b) && b !== backend);
}
