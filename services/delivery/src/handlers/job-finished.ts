import { defineHandler } from '@aiprod/pubsub';
import type { DeliveryDeps } from '../app';

/**
 * The notifier. Signed client webhooks are not built yet; until they are, the timeline says
 * plainly that no notification was sent rather than pretending one was.
 */
export const jobFinishedHandler = (deps: DeliveryDeps) =>
  defineHandler('aiprod.job.finished.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      ctx.log.warn('finished message for an unknown job', { jobId: msg.jobId });
      return;
    }
    await deps.jobs.appendEvent(job.jobId, {
      key: `notify-${msg.status}`,
      type: 'notification.skipped',
      data: { status: msg.status, reason: 'no webhook endpoint is configured for this tenant' },
    });
  });
