import type { Job, JobStore } from '@aiprod/job-store';
import type { TopicPublisher } from '@aiprod/pubsub';

/** Fails the job for good and tells the notifier; used for PermanentErrors from any handler. */
export async function failJob(
  deps: { jobs: JobStore; publisher: TopicPublisher<'aiprod.job.finished.v1'> },
  job: { jobId: string; tenantId: string },
  reason: Parameters<JobStore['fail']>[1],
  message: string,
  /** Fails it only if the stored job still meets this (see JobStore.fail). */
  options: { when?: (job: Job) => boolean } = {},
): Promise<void> {
  const result = await deps.jobs.fail(job.jobId, reason, message, options);
  const status = result.value?.status;
  // Re-publish on redelivery too: the first attempt may have died between the write and the publish.
  if (status === 'FAILED') {
    await deps.publisher.publish('aiprod.job.finished.v1', {
      v: 1,
      jobId: job.jobId,
      tenantId: job.tenantId,
      status: 'FAILED',
    });
  }
}
