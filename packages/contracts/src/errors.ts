/**
 * The three error kinds. A handler throws PermanentError for bad data or a refusal that no
 * retry can fix (acked, recorded on the job); RetryableError for a transient condition (nacked,
 * retried with backoff); anything else is a bug and is retried like a transient error until
 * the message dead-letters.
 */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  constructor(
    readonly reason: FailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Stable reasons recorded on a failed job (`job.error.reason`). */
export const FAILURE_REASONS = [
  'invalid_message',
  'dead_lettered',
  'planning_failed',
  /** The plan's estimate is above the brief's budgetCapUsd even on the cheapest backends allowed. */
  'budget_exceeded',
  'render_failed',
  'qa_failed',
  'assembly_failed',
  'deadline_exceeded',
  'internal',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export const isPermanent = (e: unknown): e is PermanentError => e instanceof PermanentError;

/** Problem types (RFC 9457) the gateway answers with; the `type` URI is stable. */
export const PROBLEM_TYPES = {
  validation: { status: 400, title: 'The request is not valid.' },
  unauthenticated: { status: 401, title: 'Authentication is required.' },
  forbidden: { status: 403, title: 'Access to this resource is not allowed.' },
  not_found: { status: 404, title: 'No such resource.' },
  conflict: { status: 409, title: 'The resource is in a state that does not allow this.' },
  gone: {
    status: 410,
    title: 'The resource existed and has been deleted (erased at its owner’s request, or under its retention).',
  },
  precondition_failed: {
    status: 412,
    title: 'The resource has changed since the version the request names (If-Match).',
  },
  precondition_required: { status: 428, title: 'This request must name the version it acts on (If-Match).' },
  payload_too_large: { status: 413, title: 'The request body is too large.' },
  unsupported_media_type: { status: 415, title: "The body's media type is not one this operation accepts." },
  unprocessable: {
    status: 422,
    title: 'The request is well-formed, but what it sends or names cannot be used.',
  },
  range_not_satisfiable: { status: 416, title: 'The requested byte range is outside the file.' },
  idempotency_conflict: { status: 409, title: 'A request with this Idempotency-Key is still being processed.' },
  idempotency_mismatch: {
    status: 422,
    title: 'This Idempotency-Key was already used with a different request.',
  },
  estimate_failed: { status: 422, title: 'The brief could not be planned, so it has no estimate.' },
  rate_limited: { status: 429, title: 'Too many requests.' },
  quota_exceeded: { status: 429, title: 'A quota of the tenant is used up.' },
  unavailable: { status: 503, title: 'The service is temporarily unavailable.' },
  internal: { status: 500, title: 'An internal error occurred.' },
} as const;
export type ProblemKind = keyof typeof PROBLEM_TYPES;
/** The slug of a problem type in its URI: `not_found` → `not-found`. */
export const problemTypeSlug = (kind: ProblemKind) => kind.replace(/_/g, '-');
/**
 * The stable `type` of a problem: a relative reference (RFC 9457 allows one) that resolves against
 * the answering gateway to its page explaining the problem, `/problems/<slug>`, on every
 * deployment alike (an absolute URI would name a host that serves no such page).
 */
export const problemTypeUri = (kind: ProblemKind) => `/problems/${problemTypeSlug(kind)}`;
