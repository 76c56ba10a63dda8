import { jobPrefix, type JobRef } from './keys';
import type { BlobStore } from './types';

/**
 * Deletes every file of a job: its whole folder (jobPrefix), so shots, QA evidence, outputs,
 * captions, voice tracks, previews, references and anything a later change stores there go alike.
 * Returns how many objects it deleted. DELETE /v1/jobs/{id} runs it before and after erasing the
 * job's records; the retention sweeper runs it again for tombstones younger than a day, because a
 * worker still running at the erasure (a render upload) may write into the folder afterwards.
 */
export async function eraseJobFiles(storage: BlobStore, job: JobRef): Promise<number> {
  return storage.deletePrefix(jobPrefix(job));
}
