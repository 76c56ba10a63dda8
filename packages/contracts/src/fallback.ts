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
    },
    replicate: {
      attemptsHere: 2,
      backoff: { initialMs: 2_000, maxMs: 60_000, multiplier: 2 },
      attemptTimeoutSeconds: 900,
      onError: VENDOR_ON_ERROR,
      fallbackTo: ['local'],
      circuitBreaker: { consecutiveFailures: 5, halfOpenAfterSeconds: 60 },
      maxConcurrent: 8,
    },
    local: {
      attemptsHere: 2,
      backoff: { initialMs: 500, maxMs: 5_000, multiplier: 2 },
      attemptTimeoutSeconds: 300,
      onError: { ...VENDOR_ON_ERROR, safety: 'fail', invalid: 'fail', auth: 'fail', timeout: 'retry' },
      fallbackTo: [],
      circuitBreaker: { consecutiveFailures: 20, halfOpenAfterSeconds: 10 },
      maxConcurrent: 2,
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
