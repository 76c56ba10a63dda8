/**
 * Every event type a tenant's endpoint receives, as the payload's `type`. `job.awaiting_approval`
 * comes once per plan version, when its free preview is ready and the job waits for approval; the
 * others once per job, when it reaches that terminal status.
 */
export const WEBHOOK_EVENT_TYPES = ['job.awaiting_approval', 'job.delivered', 'job.failed', 'job.canceled'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** `data` of a `job.awaiting_approval` event. */
export interface JobAwaitingApprovalData {
  jobId: string;
  status: 'AWAITING_APPROVAL';
  /** The plan version the preview shows; approve it with `If-Match: "<planVersion>"`. */
  planVersion: number;
  metadata?: Record<string, string>;
  estimate: { totalUsd: number; currency: string };
  /** A signed link to the preview MP4, valid until `expiresAt` (the approval window). */
  preview: { url: string; expiresAt: string; durationSeconds?: number };
  links: { job: string; plan: string };
}
