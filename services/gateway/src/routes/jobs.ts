import { createHash, randomBytes } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { Timestamp } from '@google-cloud/firestore';
import { TERMINAL_JOB_STATUSES, defaultPresetFor, type Brief, type JobStatus } from '@aiprod/contracts';
import {
  isErased,
  type ApiKeyScope,
  type AssetStore,
  type IdempotencyCompletion,
  type Job,
  type JobStore,
  type StoredResponse,
} from '@aiprod/job-store';
import type { Log, Publisher } from '@aiprod/pubsub';
import { eraseJobFiles, type BlobStore } from '@aiprod/storage';
import { parseBrief, type BriefOptions } from '../brief';
import { checkBriefAssets } from './assets';
import type { IdempotentRequest } from '../idempotency';
import { JobListQuerySchema } from '../openapi/schemas';
import { decodeCursor, encodeCursor } from '../cursor';
import { HttpProblem, publishOrUnavailable } from '../problem';
import { goneProblem, jobOfCaller, jobOrTombstoneOfCaller, parseQuery, principalName, tenantOf } from '../request';
import { erasedJobView, jobSummaryView, jobView } from '../views';

export interface JobRoutesDeps {
  jobs: JobStore;
  publisher: Publisher<'gateway'>;
  storage: BlobStore;
  /** A brief may name only its tenant's uploaded assets. */
  assets: AssetStore;
  outputUrlTtlSeconds: number;
  /** What parseBrief needs to know of the platform (a translator or not). */
  briefOptions: BriefOptions;
  requireScope: (scope: ApiKeyScope) => RequestHandler;
  /** Idempotency-Key handling for POST /v1/jobs and cancel: after the scope check, before any work. */
  idempotency?: RequestHandler;
  /** Tenant quotas for POST /v1/jobs: after the brief is validated (a bad brief uses no quota). */
  jobQuotas?: RequestHandler;
  log?: Pick<Log, 'warn'>;
}

const newJobId = () => `job_${randomBytes(12).toString('hex')}`;

/**
 * The id of the job a keyed request creates: the same tenant, key and request always name the
 * same job, so a repeat can never store a second one (see
 * docs/decisions/2026-12-idempotent-job-creation.md). Same shape as a random id.
 */
export const jobIdForRequest = (tenantId: string, request: IdempotentRequest) =>
  `job_${createHash('sha256').update(`${tenantId}\n${request.key}\n${request.hash}`).digest('hex').slice(0, 24)}`;
const NON_TERMINAL = (
  ['QUEUED', 'PLANNING', 'AWAITING_APPROVAL', 'RENDERING', 'ASSEMBLING', 'DELIVERED', 'FAILED', 'CANCELED'] as const
).filter((s) => !TERMINAL_JOB_STATUSES.includes(s));

interface Cursor {
  createdAt: Timestamp;
  jobId: string;
  status: JobStatus | null;
}

/** Opaque to clients; bound to the status filter it was made with. Tenant scoping is the query's. */
const jobsCursor = (c: Cursor): string =>
  encodeCursor([c.createdAt.seconds, c.createdAt.nanoseconds, c.jobId, c.status]);

function jobsAfter(text: string, status: JobStatus | null): Cursor {
  const [seconds, nanos, jobId] = decodeCursor(
    text,
    4,
    ([seconds, nanos, jobId, cursorStatus]) =>
      Number.isSafeInteger(seconds) &&
      Number.isInteger(nanos) &&
      (nanos as number) >= 0 &&
      (nanos as number) <= 999_999_999 &&
      typeof jobId === 'string' &&
      /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(jobId) &&
      cursorStatus === status,
  ) as [number, number, string];
  return { createdAt: new Timestamp(seconds, nanos), jobId, status };
}

export function jobRoutes(deps: JobRoutesDeps): Router {
  const router = Router();

  const idempotency = deps.idempotency ? [deps.idempotency] : [];
  // A keyed retry that took its key over from an attempt that had already made the job is
  // answered that job: it is not a new one, so the quotas (which would count it again, or refuse
  // it because of itself) are not asked. Only a takeover pays the extra read.
  const jobQuotas = deps.jobQuotas;
  const quotas: RequestHandler[] = jobQuotas
    ? [
        async (req, res, next) => {
          const keyed = res.locals.idempotentRequest as IdempotentRequest | undefined;
          if (keyed?.takeover && (await deps.jobs.getJob(jobIdForRequest(tenantOf(req), keyed)))) return next();
          return jobQuotas(req, res, next);
        },
      ]
    : [];
  const validBrief: RequestHandler = async (req, res, next) => {
    const brief = parseBrief(req.body, deps.briefOptions);
    await checkBriefAssets(deps.assets, tenantOf(req), brief);
    res.locals.brief = brief;
    next();
  };

  router.post('/v1/jobs', deps.requireScope('jobs:write'), ...idempotency, validBrief, ...quotas, async (req, res) => {
    const brief = res.locals.brief as Brief;
    const tenantId = tenantOf(req);
    const keyed = res.locals.idempotentRequest as IdempotentRequest | undefined;
    let recorded: StoredResponse | undefined;
    // A keyed create stores its answer on the key in the same commit as the job (see
    // docs/decisions/2026-12-gateway-round-trips.md): the answer to a new job is known before it is
    // stored, as it has no shots, events or outputs yet.
    const storeAnswer = async (made: Job): Promise<IdempotencyCompletion> => {
      const location = `/v1/jobs/${made.jobId}`;
      recorded = {
        status: 202,
        headers: { 'content-type': 'application/json; charset=utf-8', location },
        body: JSON.stringify(await jobView(made, [], [], deps.storage, deps.outputUrlTtlSeconds)),
      };
      return { tenantId, key: keyed!.key, lease: keyed!.lease, response: recorded, jobId: made.jobId };
    };
    const { job, created, ...stored } = await deps.jobs.createJobOnce(
      {
        jobId: keyed ? jobIdForRequest(tenantId, keyed) : newJobId(),
        tenantId,
        brief,
        preset: brief.preset ?? defaultPresetFor(brief.durationSeconds),
      },
      keyed ? { idempotency: storeAnswer } : {},
    );
    // At once: the key's record now holds this 202 with the job, whatever happens below.
    if (keyed && stored.recorded && recorded) keyed.recorded = recorded;
    // Cannot happen short of a hash collision; never show one tenant another's job.
    if (job.tenantId !== tenantId) throw new Error(`derived job id ${job.jobId} belongs to another tenant`);
    res.locals.jobId = job.jobId;
    // A keyed retry of a job its owner has since erased names a tombstone: it is gone, not made again.
    if (isErased(job)) throw goneProblem(job);
    // State first, publish second. Once the job is stored the answer is 202 whatever the publish
    // does: answering an error would invite a retry that creates a second job (without a key),
    // while a job left QUEUED is planned by the planner's QUEUED sweep. A repeat that finds the
    // job still QUEUED publishes again (the planner dedupes on the job's state).
    if (created || job.status === 'QUEUED') {
      try {
        await deps.publisher.publish('aiprod.job.requested.v1', { v: 1, jobId: job.jobId, tenantId: job.tenantId });
      } catch (error) {
        deps.log?.warn('job stored but not queued; the QUEUED sweep will plan it', {
          jobId: job.jobId,
          error: (error as Error).message,
        });
      }
    }
    if (keyed?.recorded) {
      // Exactly the answer stored, which retries replay.
      const recorded = keyed.recorded;
      res.status(202).location(recorded.headers.location!).type('application/json').send(recorded.body);
      return;
    }
    const [shots, events] = created
      ? [[], []]
      : await Promise.all([deps.jobs.listShots(job.jobId), deps.jobs.listEvents(job.jobId)]);
    res
      .status(202)
      .location(`/v1/jobs/${job.jobId}`)
      .json(await jobView(job, shots, events, deps.storage, deps.outputUrlTtlSeconds));
  });

  router.get('/v1/jobs', deps.requireScope('jobs:read'), async (req, res) => {
    const query = parseQuery(req, JobListQuerySchema, ['limit']);
    const status = (query.status ?? null) as JobStatus | null;
    const limit = query.limit ?? 20;
    const after = query.cursor ? jobsAfter(query.cursor, status) : undefined;
    const page = await deps.jobs.listJobsForTenant(tenantOf(req), {
      limit,
      ...(status ? { status } : {}),
      ...(after ? { after } : {}),
    });
    const last = page.jobs.at(-1);
    res.json({
      jobs: page.jobs.map(jobSummaryView),
      nextCursor: page.hasMore && last ? jobsCursor({ createdAt: last.createdAt, jobId: last.jobId, status }) : null,
    });
  });

  router.get('/v1/jobs/:id', deps.requireScope('jobs:read'), async (req, res) => {
    const job = await jobOfCaller(req, res, deps.jobs);
    const [shots, events] = await Promise.all([deps.jobs.listShots(job.jobId), deps.jobs.listEvents(job.jobId)]);
    res.json(await jobView(job, shots, events, deps.storage, deps.outputUrlTtlSeconds));
  });

  router.post('/v1/jobs/:id/cancel', deps.requireScope('jobs:write'), ...idempotency, async (req, res) => {
    const job = await jobOfCaller(req, res, deps.jobs);
    const current = await cancelJob(deps, job, principalName(req));
    if (current.status !== 'CANCELED') {
      throw new HttpProblem('conflict', `job ${job.jobId} is ${current.status} and can no longer be canceled`);
    }
    const [shots, events] = await Promise.all([deps.jobs.listShots(job.jobId), deps.jobs.listEvents(job.jobId)]);
    res.json(await jobView(current, shots, events, deps.storage, deps.outputUrlTtlSeconds));
  });

  /**
   * Erasure on request: cancel (a job still running), then the files, then the records, leaving a
   * tombstone. Every step is idempotent, so a repeat (or a retry after a failure halfway) runs them
   * all again and answers the same tombstone; the files go twice, before and after the records, so
   * an upload racing the erasure is caught too (and the retention sweeper runs eraseJobFiles again
   * on young tombstones for uploads later still).
   */
  /** A canceled shot's pool stops its vendor task within its lease (seconds to a minute). */
  const ERASE_RETRY_SECONDS = 30;
  router.delete('/v1/jobs/:id', deps.requireScope('jobs:write'), ...idempotency, async (req, res) => {
    // A share link opens a job for review; erasing it is its owner's decision, not a link holder's.
    if (req.principal?.via === 'review_link') throw new HttpProblem('forbidden', 'a review link cannot erase its job');
    let job = await jobOrTombstoneOfCaller(req, res, deps.jobs);
    const by = principalName(req);
    if (!isErased(job) && !TERMINAL_JOB_STATUSES.includes(job.status)) job = await cancelJob(deps, job, by);
    if (!isErased(job)) {
      // A shot still RENDERING may hold a vendor task that bills until its pool cancels it, found
      // through the shot's record: erasing that record now would lose the cancel and the cost.
      const stopping = (await deps.jobs.listShots(job.jobId)).filter((s) => s.status === 'RENDERING');
      if (stopping.length) {
        throw new HttpProblem(
          'unavailable',
          `job ${job.jobId} is ${job.status}; ${stopping.length} shot(s) are still stopping at their vendors, whose cost is being booked: DELETE again in a moment`,
          { retryAfterSeconds: ERASE_RETRY_SECONDS },
        );
      }
    }
    await eraseJobFiles(deps.storage, job);
    const erased = await deps.jobs.erase(job.jobId, { by });
    if (erased.outcome === 'not_found') throw new HttpProblem('not_found', `no job ${job.jobId}`);
    // Cannot happen after the cancel above (a terminal job never leaves its state): a bug if it does.
    if (erased.outcome === 'not_terminal') throw new Error(`job ${job.jobId} is ${erased.status} after its cancel`);
    await eraseJobFiles(deps.storage, job);
    res.json(erasedJobView(erased.tombstone));
  });

  return router;
}

/**
 * Cancels a job that has not finished and tells the pipeline (render workers see CANCELED and
 * cancel their vendor tasks). Returns the job as it now is: CANCELED, or the terminal state it
 * reached first. Published on a repeat too: if an earlier publish was lost, the repeat delivers
 * it, and the consumers dedupe on the job's state.
 */
async function cancelJob(deps: Pick<JobRoutesDeps, 'jobs' | 'publisher'>, job: Job, by: string): Promise<Job> {
  // Every unfinished state is expected, so a lost race can only mean the job has just finished.
  const moved = await deps.jobs.transition(job.jobId, NON_TERMINAL, 'CANCELED', {
    event: { type: 'job.canceled', data: { by } },
  });
  const current = moved.value ?? job;
  if (current.status === 'CANCELED') {
    await publishOrUnavailable(deps.publisher, 'aiprod.job.finished.v1', {
      v: 1,
      jobId: current.jobId,
      tenantId: current.tenantId,
      status: 'CANCELED',
    });
  }
  return current;
}
