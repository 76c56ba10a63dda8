import {
  classifyWebhookResponse,
  delayFor,
  MAX_ATTEMPTS,
  MAX_RETRY_AFTER_SECONDS,
  nextAttemptDelaySeconds,
  RETRY_SPAN_SECONDS,
} from './index';

describe('retry schedule', () => {
  it('is immediate, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 14 h, 14 h, then exhausted', () => {
    const delays = Array.from({ length: MAX_ATTEMPTS + 2 }, (_, i) => nextAttemptDelaySeconds(i + 1));
    const h = 3600;
    expect(delays).toEqual([0, 5, 300, 1800, 2 * h, 5 * h, 10 * h, 10 * h, 14 * h, 14 * h, 14 * h, null, null]);
    expect(MAX_ATTEMPTS).toBe(11);
    expect(RETRY_SPAN_SECONDS).toBe(250_505); // 69 h 35 min 5 s: about three days
    expect(RETRY_SPAN_SECONDS / 86_400).toBeCloseTo(2.9, 1);
  });

  it('refuses nonsense attempt numbers', () => {
    for (const attempt of [0, -1, 1.5, Number.NaN]) expect(() => nextAttemptDelaySeconds(attempt)).toThrow(RangeError);
  });
});

describe('classifyWebhookResponse', () => {
  it.each([
    [200, 'delivered'],
    [201, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [410, 'disable'],
    [413, 'give_up'],
    [0, 'retry'],
    [301, 'retry'],
    [302, 'retry'],
    [400, 'retry'],
    [401, 'retry'],
    [403, 'retry'],
    [404, 'retry'],
    [408, 'retry'],
    [422, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
  ] as const)('%i → %s', (status, outcome) => {
    expect(classifyWebhookResponse({ status })).toBe(outcome);
  });

  it('gives up on URLs the SSRF guard refuses at send time, but retries DNS failures', () => {
    expect(classifyWebhookResponse({ status: 0, blocked: 'private_address' })).toBe('give_up');
    expect(classifyWebhookResponse({ status: 0, blocked: 'https_required' })).toBe('give_up');
    expect(classifyWebhookResponse({ status: 0, blocked: 'unresolvable' })).toBe('retry');
  });
});

describe('delayFor', () => {
  it('uses the schedule, or a longer Retry-After capped at 24 h', () => {
    expect(delayFor(2, { status: 503 })).toBe(5);
    expect(delayFor(2, { status: 503, retryAfterSeconds: 60 })).toBe(60);
    expect(delayFor(5, { status: 429, retryAfterSeconds: 60 })).toBe(7200);
    expect(delayFor(3, { status: 429, retryAfterSeconds: 10 * 86_400 })).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(delayFor(11, { status: 0 })).toBe(14 * 3600);
  });

  it('is null when no further attempt should be made', () => {
    expect(delayFor(MAX_ATTEMPTS + 1, { status: 500 })).toBeNull();
    expect(delayFor(2, { status: 200 })).toBeNull();
    expect(delayFor(2, { status: 410, retryAfterSeconds: 60 })).toBeNull();
    expect(delayFor(2, { status: 413 })).toBeNull();
    expect(delayFor(2, { status: 0, blocked: 'metadata_host' })).toBeNull();
  });
});
