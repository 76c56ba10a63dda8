import type { SendWebhookResult } from './sender';

/**
 * Delay in seconds before attempt n (index n - 1), measured from the previous attempt (attempt 1: from
 * when the message was enqueued). Svix's schedule with three 14 h tails so that it spans about three
 * days: 11 attempts, the last 250,505 s (69 h 35 min 5 s, about 2.9 days) after the first, longer when
 * receivers ask for more with Retry-After.
 */
export const RETRY_SCHEDULE_SECONDS: readonly number[] = [
  0, // 1: immediately
  5, // 2: 5 s
  5 * 60, // 3: 5 min
  30 * 60, // 4: 30 min
  2 * 3600, // 5: 2 h
  5 * 3600, // 6: 5 h
  10 * 3600, // 7: 10 h
  10 * 3600, // 8: 10 h
  14 * 3600, // 9: 14 h
  14 * 3600, // 10: 14 h
  14 * 3600, // 11: 14 h
];
export const MAX_ATTEMPTS = RETRY_SCHEDULE_SECONDS.length;
/** Sum of the schedule: how long after the first attempt the last one is made (250,505 s). */
export const RETRY_SPAN_SECONDS = RETRY_SCHEDULE_SECONDS.reduce((sum, delay) => sum + delay, 0);
/** A receiver's Retry-After is honoured up to this. */
export const MAX_RETRY_AFTER_SECONDS = 24 * 3600;

export type WebhookOutcome = 'delivered' | 'retry' | 'disable' | 'give_up';

/**
 * Delay before attempt `attempt` (1-based; 1 is the first attempt), or null when the schedule has no
 * such attempt (after attempt MAX_ATTEMPTS the message has failed for good).
 */
export function nextAttemptDelaySeconds(attempt: number): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1: ${attempt}`);
  return RETRY_SCHEDULE_SECONDS[attempt - 1] ?? null;
}

/**
 * What to do after one attempt:
 * - 2xx: delivered.
 * - 410 Gone: disable the endpoint (the receiver says it is gone for good).
 * - 413 Payload Too Large: give up on this message (the same body will never fit).
 * - refused by the SSRF guard at send time (other than 'unresolvable'): give up on this message;
 *   retrying a URL that now points into a private network only repeats the refusal.
 * - everything else retries: 429, 5xx, network errors and timeouts (status 0, including DNS failures),
 *   3xx (we never follow redirects), and every other 4xx (400, 401, 403, 404, 422, …): those mostly mean
 *   a misconfigured receiver (wrong path, old secret after a rotation, auth proxy), which its owner can fix
 *   within the three days; Svix and the Standard Webhooks guidance retry them too.
 */
export function classifyWebhookResponse(result: Pick<SendWebhookResult, 'status' | 'blocked'>): WebhookOutcome {
  const { status, blocked } = result;
  if (blocked !== undefined && blocked !== 'unresolvable') return 'give_up';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 410) return 'disable';
  if (status === 413) return 'give_up';
  return 'retry';
}

/**
 * Delay before attempt `attempt`, given `result` of the attempt before it: the scheduled delay, or the
 * receiver's Retry-After when that is longer (capped at MAX_RETRY_AFTER_SECONDS). Null when no further
 * attempt should be made: the outcome is not 'retry', or the schedule is exhausted.
 */
export function delayFor(
  attempt: number,
  result: Pick<SendWebhookResult, 'status' | 'blocked' | 'retryAfterSeconds'>,
): number | null {
  const scheduled = nextAttemptDelaySeconds(attempt);
  if (scheduled === null || classifyWebhookResponse(result) !== 'retry') return null;
  const asked = Math.min(result.retryAfterSeconds ?? 0, MAX_RETRY_AFTER_SECONDS);
  return Math.max(scheduled, asked);
}
