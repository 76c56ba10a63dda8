import type { IdempotencyCompletion } from './idempotency';
import type { Job } from './types';
import type { JobStore, NewJob } from './job-store';

export interface CreateJobOnceOptions {
  /**
   * The answer the caller will give about the new job, stored on its claimed Idempotency-Key in
   * the job's own commit: one round trip instead of the create's and complete()'s.
   */
  idempotency?: (job: Job) => Promise<IdempotencyCompletion>;
}

export interface CreatedJobOnce {
  job: Job;
  created: boolean;
  /** The key's answer was stored with the job: nothing more is to be written on the key. */
  recorded?: true;
}

const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const NOT_FOUND = 5;

/**
 * JobStore.createJobOnce: creates the job unless a job with this id exists already, which is then
 * returned as it is (`created: false`); with an id derived from the request, a repeat of a create
 * never stores a second job, whatever happened to the first attempt after its write.
 *
 * With `idempotency`, a commit that fails because the job exists stores nothing (the key's answer
 * is left to the caller's usual completion, as for a repeat); one that fails because the claim was
 * lost (another attempt took the key over, or its record is gone) is made again without the
 * answer, so the job is still created and the winner's record untouched, as complete() would.
 */
export async function createJobOnce(
  store: Pick<JobStore, 'createJob' | 'getJob'>,
  input: NewJob,
  options: CreateJobOnceOptions,
): Promise<CreatedJobOnce> {
  const attempts = options.idempotency ? [options.idempotency, undefined] : [undefined];
  for (const completing of attempts) {
    try {
      const job = await store.createJob(input, completing);
      return completing ? { job, created: true, recorded: true } : { job, created: true };
    } catch (e) {
      const code = (e as { code?: number }).code;
      // Only the job's and its event's creates fail with ALREADY_EXISTS; the key's update cannot.
      if (code === ALREADY_EXISTS) break;
      if (!completing || (code !== FAILED_PRECONDITION && code !== NOT_FOUND)) throw e;
    }
  }
  const existing = await store.getJob(input.jobId);
  if (!existing) throw new Error(`job ${input.jobId} exists and then does not`);
  return { job: existing, created: false };
}
