import type { Job } from '@aiprod/job-store';
import { planVersionOf } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { MAX_SIGNED_URL_SECONDS } from '@aiprod/storage';
import type { JobAwaitingApprovalData } from '@aiprod/webhooks';
import type { DeliveryDeps } from '../app';
import { attemptDelivery, attemptLeaseSeconds } from './send-webhook';

/** One webhook id per plan version: a redelivered preview never sends a second event for it. */
export const awaitingApprovalWebhookId = (jobId: string, planVersion: number) =>
  `msg_${jobId}_awaiting_approval_v${planVersion}`;

/** The payload. Unlike the terminal events it carries a signed link: the preview is the point of it,
 *  and the link lasts as long as the approval window (up to 7 days), past the retry schedule's ~3. */
export function awaitingApprovalBody(job: Job, planVersion: number, preview: JobAwaitingApprovalData['preview']) {
  const data: JobAwaitingApprovalData = {
    jobId: job.jobId,
    status: 'AWAITING_APPROVAL',
    planVersion,
    ...(job.brief.metadata ? { metadata: job.brief.metadata } : {}),
    estimate: {
      totalUsd: job.plan?.estimate?.totalUsd ?? job.plan?.estimatedCostUsd ?? 0,
      currency: job.plan?.estimate?.currency ?? 'USD',
    },
    preview,
    links: { job: `/v1/jobs/${job.jobId}`, plan: `/v1/jobs/${job.jobId}/plan` },
  };
  return JSON.stringify({ type: 'job.awaiting_approval', timestamp: new Date().toISOString(), data });
}

/**
 * Tells the client a job waits for their approval, once its preview is ready: a signed webhook,
 * recorded once per plan version (first attempt now, retries by the dispatcher). Nothing is sent
 * unless the job still waits, and the ready preview is of its current plan version.
 */
export async function notifyAwaitingApproval(deps: DeliveryDeps, job: Job, log: Log): Promise<void> {
  const preview = job.preview;
  const planVersion = planVersionOf(job);
  if (job.status !== 'AWAITING_APPROVAL' || preview?.status !== 'READY' || !preview.uri) return;
  if (preview.planVersion !== planVersion) return;
  const endpoint = await deps.webhooks.getEndpoint(job.tenantId);
  if (!endpoint || endpoint.disabledAt) {
    log.info('no webhook endpoint: the preview is in the plan only', { planVersion });
    return;
  }
  const windowSeconds = job.deadlineAt ? Math.floor((job.deadlineAt.toMillis() - Date.now()) / 1000) : 0;
  const expiresInSeconds = Math.min(MAX_SIGNED_URL_SECONDS, Math.max(3600, windowSeconds));
  const url = await deps.storage.signedUrl(deps.storage.keyFromUri(preview.uri), { expiresInSeconds });
  const link = {
    url,
    expiresAt: new Date(Date.now() + expiresInSeconds * 1000).toISOString(),
    ...(preview.durationSeconds !== undefined ? { durationSeconds: preview.durationSeconds } : {}),
  };
  const { delivery, claimed } = await deps.webhooks.createDelivery(
    {
      webhookId: awaitingApprovalWebhookId(job.jobId, planVersion),
      tenantId: job.tenantId,
      jobId: job.jobId,
      eventType: 'job.awaiting_approval',
      body: awaitingApprovalBody(job, planVersion, link),
    },
    { leaseSeconds: attemptLeaseSeconds(deps) },
  );
  await attemptDelivery(deps, delivery.webhookId, claimed ? delivery : undefined);
}
