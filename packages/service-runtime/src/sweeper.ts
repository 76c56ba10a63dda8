import { Timestamp } from '@google-cloud/firestore';
import type { JobStatus, ServiceName, SweptBy } from '@aiprod/contracts';
import type { Job, JobStore } from '@aiprod/job-store';
import type { Log, TopicPublisher } from '@aiprod/pubsub';
import { failJob } from './fail-job';

export interface SweepPolicy {
  /** Re-runs the state's step (idempotently). Absent: the state fails as soon as it is overdue. */
  nudge?: (job: Job) => Promise<void>;
  /** How many overdue nudges before the job fails with `deadline_exceeded`. */
  maxSweeps: number;
}

/**
 * A service's sweep policies: exactly the job states SWEEPERS gives it, each with a policy.
 * Naming another service's state, or leaving one of its own out, fails to compile (the `never`
 * half also catches it for a service that sweeps nothing, whose own half is an empty type).
 */
export type SweepPolicies<S extends ServiceName> = { readonly [K in SweptBy<S>]: SweepPolicy } & {
  readonly [K in Exclude<JobStatus, SweptBy<S>>]?: never;
};

export interface Sweeper {
  /** One pass (tests call it directly; the timer calls it on its interval). */
  sweepOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * No job is ever stuck silently: every non-terminal state has a deadline, and each service
 * sweeps the states it owns. An overdue job is claimed in a transaction (so several instances
 * never act twice), nudged by re-running its step, and failed with `deadline_exceeded` once it
 * has been nudged `maxSweeps` times without moving on.
 */
export function startSweeper(options: {
  jobs: JobStore;
  /** Failing an overdue job announces it on job.finished. */
  publisher: TopicPublisher<'aiprod.job.finished.v1'>;
  log: Log;
  policies: Partial<Record<JobStatus, SweepPolicy>>;
  intervalMs: number;
}): Sweeper {
  const { jobs, log, policies } = options;
  const owned = (Object.keys(policies) as JobStatus[]).filter((status) => policies[status]);
  let running: Promise<number> | undefined;
  let stopped = false;

  const sweep = async (): Promise<number> => {
    const now = Timestamp.now();
    // Only the states this service owns, asked of Firestore: see JobStore.overdueJobs.
    const overdue = await jobs.overdueJobs(owned, now);
    let acted = 0;
    for (const candidate of overdue) {
      if (stopped) break;
      const policy = policies[candidate.status];
      if (!policy) continue;
      const job = await jobs.claimOverdue(candidate.jobId, candidate.status, now);
      if (!job) continue;
      acted += 1;
      const sweeps = job.sweeps ?? 1;
      try {
        if (!policy.nudge || sweeps > policy.maxSweeps) {
          log.warn('job overdue; failing it', { jobId: job.jobId, status: job.status, sweeps });
          await failJob(
            options,
            job,
            'deadline_exceeded',
            `the job stayed ${job.status} past its deadline (${sweeps - 1} nudges)`,
          );
        } else {
          log.info('job overdue; nudging it', { jobId: job.jobId, status: job.status, sweeps });
          await policy.nudge(job);
        }
      } catch (error) {
        // The claim pushed the deadline out, so the next pass will look at this job again.
        log.error('sweeping a job failed', { jobId: job.jobId, error });
      }
    }
    return acted;
  };

  const sweepOnce = () => {
    running ??= sweep().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => {
    sweepOnce().catch((error: unknown) => log.error('sweep failed', { error }));
  }, options.intervalMs);
  timer.unref();

  return {
    sweepOnce,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
