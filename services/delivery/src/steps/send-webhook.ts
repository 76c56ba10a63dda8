import { Timestamp } from '@google-cloud/firestore';
import { WebhookStore, type JobStore, type WebhookDelivery } from '@aiprod/job-store';
import { count } from '@aiprod/observability';
import type { Log } from '@aiprod/pubsub';
import {
  classifyWebhookResponse,
  MAX_RETRY_AFTER_SECONDS,
  nextAttemptDelaySeconds,
  sendWebhook,
  signWebhook,
} from '@aiprod/webhooks';

export interface WebhookDeps {
  jobs: JobStore;
  webhooks: WebhookStore;
  log: Log;
  /** Local mode only: plain http to loopback receivers. */
  allowLoopbackHttp: boolean;
  timeoutMs: number;
  /** Multiplies the retry schedule (1 in production; tests shrink days to seconds). */
  scheduleScale: number;
}

/**
 * One attempt, if the delivery is due and this sender wins the claim. The endpoint and its
 * secrets are read at send time (a rotation or a 410 since the last attempt counts), the SSRF
 * guard runs again inside sendWebhook, and the outcome decides the next attempt.
 */
/** How an attempt left the delivery, as the webhook metric names it. */
export const WEBHOOK_OUTCOME: Record<WebhookDelivery['state'], string> = {
  delivered: 'delivered',
  pending: 'retry',
  failed: 'gave_up',
  disabled: 'disabled',
};

/** How long one attempt holds its delivery: the send's own timeout and room to record the outcome. */
export const attemptLeaseSeconds = (deps: Pick<WebhookDeps, 'timeoutMs'>) => Math.ceil(deps.timeoutMs / 1000) + 30;

/**
 * `claimed`: the delivery as its creator got it, already leased to it (see WebhookStore.createDelivery);
 * without it the attempt claims the delivery first, and does nothing when it is not due or taken.
 */
export async function attemptDelivery(deps: WebhookDeps, webhookId: string, claimed?: WebhookDelivery): Promise<void> {
  const now = Timestamp.now();
  const delivery = claimed ?? (await deps.webhooks.claim(webhookId, now, attemptLeaseSeconds(deps)));
  if (!delivery) return;
  const attempt = delivery.attempts.length + 1;
  const endpoint = await deps.webhooks.getEndpoint(delivery.tenantId);
  if (!endpoint || endpoint.disabledAt) {
    await deps.webhooks.recordAttempt(
      webhookId,
      { attempt, at: now, status: 0, outcome: 'give_up', durationMs: 0, error: 'the endpoint was removed or disabled' },
      { state: 'disabled', nextAttemptAt: null },
    );
    count('webhookDeliveries', { outcome: 'disabled' });
    return;
  }
  const headers = signWebhook({
    id: webhookId,
    timestamp: Math.floor(Date.now() / 1000),
    body: delivery.body,
    secrets: WebhookStore.signingSecrets(endpoint),
  });
  const result = await sendWebhook({
    url: endpoint.url,
    body: delivery.body,
    headers: { ...headers, 'content-type': 'application/json' },
    timeoutMs: deps.timeoutMs,
    allowLoopbackHttp: deps.allowLoopbackHttp,
  });
  const outcome = classifyWebhookResponse(result);
  // The schedule (scaled in tests), or the receiver's Retry-After when it asks for longer.
  const scheduled = outcome === 'retry' ? nextAttemptDelaySeconds(attempt + 1) : null;
  const scaled =
    scheduled === null
      ? null
      : Math.max(scheduled * deps.scheduleScale, Math.min(result.retryAfterSeconds ?? 0, MAX_RETRY_AFTER_SECONDS));
  const state: WebhookDelivery['state'] =
    outcome === 'delivered' ? 'delivered' : outcome === 'disable' ? 'disabled' : scaled === null ? 'failed' : 'pending';
  await deps.webhooks.recordAttempt(
    webhookId,
    {
      attempt,
      at: now,
      status: result.status,
      outcome,
      durationMs: Math.round(result.durationMs),
      ...(result.error ? { error: result.error.slice(0, 300) } : {}),
    },
    { state, nextAttemptAt: scaled === null ? null : Timestamp.fromMillis(Date.now() + scaled * 1000) },
  );
  count('webhookDeliveries', { outcome: WEBHOOK_OUTCOME[state] });
  if (outcome === 'disable')
    await deps.webhooks.disableEndpoint(delivery.tenantId, `HTTP 410 from the endpoint on ${webhookId}`);
  await deps.jobs.appendEvent(delivery.jobId, {
    key: `webhook-${webhookId}-${attempt}`,
    type: 'webhook.attempt',
    data: {
      webhookId,
      attempt,
      status: result.status,
      outcome,
      state,
      ...(result.error ? { error: result.error.slice(0, 200) } : {}),
    },
  });
  deps.log.info('webhook attempt', {
    jobId: delivery.jobId,
    webhookId,
    attempt,
    status: result.status,
    outcome,
    state,
  });
}
