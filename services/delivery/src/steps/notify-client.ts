import type { Job, WebhookDelivery } from '@aiprod/job-store';
import { redactInternalNames } from '@aiprod/webhooks';
import { attemptDelivery, attemptLeaseSeconds, type WebhookDeps } from './send-webhook';

const EVENT_TYPES = { DELIVERED: 'job.delivered', FAILED: 'job.failed', CANCELED: 'job.canceled' } as const;

/** The payload: what happened and the outputs' facts. No signed links: they would expire during retries. */
export function webhookBody(job: Job, status: keyof typeof EVENT_TYPES): string {
  return JSON.stringify({
    type: EVENT_TYPES[status],
    timestamp: new Date().toISOString(),
    data: {
      jobId: job.jobId,
      status,
      ...(job.brief.metadata ? { metadata: job.brief.metadata } : {}),
      outputs: (job.outputs ?? []).map((o) => ({
        variant: o.variant,
        durationSeconds: o.durationSeconds,
        width: o.width,
        height: o.height,
        sizeBytes: o.sizeBytes,
        sha256: o.sha256,
      })),
      ...(job.error ? { error: { reason: job.error.reason, message: redactInternalNames(job.error.message) } } : {}),
      links: { job: `/v1/jobs/${job.jobId}` },
    },
  });
}

/** One webhook id per job outcome, so repeated notifications never produce a second one. */
export const webhookIdFor = (jobId: string, status: string) => `msg_${jobId}_${status.toLowerCase()}`;

/** Records the delivery (once) and makes its first attempt; null when the tenant has no live endpoint. */
export async function enqueueJobWebhook(
  deps: WebhookDeps,
  job: Job,
  status: keyof typeof EVENT_TYPES,
): Promise<WebhookDelivery | null> {
  const endpoint = await deps.webhooks.getEndpoint(job.tenantId);
  if (!endpoint || endpoint.disabledAt) return null;
  const { delivery, claimed } = await deps.webhooks.createDelivery(
    {
      webhookId: webhookIdFor(job.jobId, status),
      tenantId: job.tenantId,
      jobId: job.jobId,
      eventType: EVENT_TYPES[status],
      body: webhookBody(job, status),
    },
    { leaseSeconds: attemptLeaseSeconds(deps) },
  );
  await attemptDelivery(deps, delivery.webhookId, claimed ? delivery : undefined);
  return delivery;
}

/**
 * Tells the client a job finished: a signed webhook to the tenant's endpoint (recorded once, first
 * attempt now, retries by the dispatcher), or a note on the timeline that no endpoint is configured.
 */
export async function notifyClient(deps: WebhookDeps, job: Job, status: keyof typeof EVENT_TYPES): Promise<void> {
  const delivery = await enqueueJobWebhook(deps, job, status);
  if (!delivery) {
    await deps.jobs.appendEvent(job.jobId, {
      key: `notify-${status}`,
      type: 'notification.skipped',
      data: { status, reason: 'no webhook endpoint is configured for this tenant' },
    });
  }
}
