import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Router, type RequestHandler, type Response } from 'express';
import { defaultPresetFor, type Brief } from '@aiprod/contracts';
import type { ApiKeyScope, EstimateRecord, EstimateStore } from '@aiprod/job-store';
import type { Log, Publisher } from '@aiprod/pubsub';
import { parseBrief, type BriefOptions } from '../brief';
import type { IdempotentRequest } from '../idempotency';
import { HttpProblem } from '../problem';
import { tenantOf } from '../request';

export interface EstimateRoutesDeps {
  requireScope: (scope: ApiKeyScope) => RequestHandler;
  estimates: EstimateStore;
  publisher: Publisher<'gateway'>;
  /** How long POST /v1/estimates waits for the planner's answer before answering 202. */
  waitMs: number;
  /** What parseBrief needs to know of the platform (a translator or not). */
  briefOptions: BriefOptions;
  /** Idempotency-Key handling, as for POST /v1/jobs. */
  idempotency?: RequestHandler;
  /** The tenant's daily estimate quota: after validation (a bad brief uses none) and idempotency (a replay uses none). */
  estimateQuotas?: RequestHandler;
  log?: Pick<Log, 'warn'>;
}

/** What a client polling a pending estimate is told to wait; the planner usually answers in seconds. */
const RETRY_AFTER_SECONDS = 2;
/** Between reads of a pending record: quick at first (the local director answers in milliseconds), then gentler. */
const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 500;
/**
 * A record still PENDING this long after it was written will not be answered: the planner answers
 * in seconds, its own retries of a failing director end within about 12 minutes (5 deliveries of
 * up to 3 Gemini attempts of 45 s, plus backoff) and then answer FAILED, as a dead letter does.
 * Past it the planner is down or the request was lost, and GET answers FAILED rather than 202 for
 * the record's whole day (docs/decisions/2026-12-estimates-through-the-planner.md).
 */
export const PENDING_ESTIMATE_BOUND_MS = 15 * 60_000;
/** What a client asked to repeat a request whose estimate could not be requested is told to wait. */
const UNPUBLISHED_RETRY_AFTER_SECONDS = 5;

const newEstimateId = () => `est_${randomBytes(12).toString('hex')}`;
/** A keyed request always names the same estimate, so its retry reads the first one's answer. */
const estimateIdForRequest = (tenantId: string, request: IdempotentRequest) =>
  `est_${createHash('sha256').update(`${tenantId}\n${request.key}\n${request.hash}`).digest('hex').slice(0, 24)}`;

/**
 * Reads the record until the planner has answered or `waitMs` has passed. Bounded polling rather
 * than a snapshot listener: one short read at a time, nothing left open when the client goes away.
 */
async function awaitAnswer(
  estimates: EstimateStore,
  estimateId: string,
  waitMs: number,
  signal: AbortSignal,
): Promise<EstimateRecord | null> {
  const deadline = Date.now() + waitMs;
  let pause = POLL_FIRST_MS;
  for (;;) {
    const record = await estimates.get(estimateId);
    if (!record || record.status !== 'PENDING') return record;
    const left = deadline - Date.now();
    if (left <= 0 || signal.aborted) return record;
    await sleep(Math.min(pause, left));
    pause = Math.min(pause * 2, POLL_MAX_MS);
  }
}

function answer(res: Response, record: EstimateRecord): void {
  if (record.status === 'READY') {
    res.json(record.estimate);
    return;
  }
  if (record.status === 'FAILED') {
    throw new HttpProblem('estimate_failed', record.reason ?? 'the brief could not be planned');
  }
  res
    .status(202)
    .location(`/v1/estimates/${record.estimateId}`)
    .setHeader('Retry-After', String(RETRY_AFTER_SECONDS))
    .json({ estimateId: record.estimateId, status: 'PENDING' });
}

/**
 * POST /v1/estimates: prices a brief with the planner's own planning path (the director a job
 * would get, docs/decisions/2026-12-estimates-through-the-planner.md), without creating a job or
 * spending anything. Same validation as POST /v1/jobs; needs jobs:read (it changes nothing a
 * client owns). The gateway waits a bounded time for the planner's answer: 200 with the estimate,
 * 422 when the brief cannot be planned, or 202 with the estimate's URL to poll.
 */
export function estimateRoutes(deps: EstimateRoutesDeps): Router {
  const router = Router();
  const idempotency = deps.idempotency ? [deps.idempotency] : [];

  const quotas = deps.estimateQuotas ? [deps.estimateQuotas] : [];
  const validBrief: RequestHandler = (req, res, next) => {
    res.locals.brief = parseBrief(req.body, deps.briefOptions);
    next();
  };

  router.post(
    '/v1/estimates',
    deps.requireScope('jobs:read'),
    ...idempotency,
    validBrief,
    ...quotas,
    async (req, res) => {
      const brief = res.locals.brief as Brief;
      const tenantId = tenantOf(req);
      const keyed = res.locals.idempotentRequest as IdempotentRequest | undefined;
      const record = await deps.estimates.createOnce({
        estimateId: keyed ? estimateIdForRequest(tenantId, keyed) : newEstimateId(),
        tenantId,
        brief,
        // The preset the job made from this brief would get.
        preset: brief.preset ?? defaultPresetFor(brief.durationSeconds),
      });
      if (record.tenantId !== tenantId)
        throw new Error(`derived estimate id ${record.estimateId} belongs to another tenant`);
      if (record.status === 'PENDING') {
        try {
          await deps.publisher.publish('aiprod.estimate.requested.v1', { v: 1, jobId: record.estimateId, tenantId });
        } catch (error) {
          deps.log?.warn('estimate stored but not requested', {
            estimateId: record.estimateId,
            error: (error as Error).message,
          });
          // Nobody would ever answer this record, and without a key the client could not find it
          // again: it goes, and the client is told to repeat the request (a 503 releases an
          // Idempotency-Key, so a keyed repeat runs again and publishes). Not withdrawn only when
          // the planner answered meanwhile (the publish went through after all): that answer is given.
          const withdrawn = await deps.estimates.withdraw(record.estimateId).catch(() => true);
          if (withdrawn) {
            throw new HttpProblem('unavailable', 'the estimate could not be requested yet; repeat the request', {
              retryAfterSeconds: UNPUBLISHED_RETRY_AFTER_SECONDS,
            });
          }
        }
      }
      const aborted = new AbortController();
      res.on('close', () => aborted.abort());
      const answered = await awaitAnswer(deps.estimates, record.estimateId, deps.waitMs, aborted.signal);
      answer(res, answered ?? record);
    },
  );

  router.get('/v1/estimates/:id', deps.requireScope('jobs:read'), async (req, res) => {
    const estimateId = String(req.params.id ?? '');
    let record = /^est_[0-9a-f]{24}$/.test(estimateId) ? await deps.estimates.get(estimateId) : null;
    // Another tenant's estimate answers exactly like a missing one.
    if (!record || record.tenantId !== tenantOf(req)) throw new HttpProblem('not_found', 'no such estimate');
    if (record.status === 'PENDING' && Date.now() - record.createdAt.toMillis() > PENDING_ESTIMATE_BOUND_MS) {
      // Failed for good, compare-and-set: a planner answering later finds it answered, so every
      // client reading it hears the same thing. Asking again makes a new estimate.
      await deps.estimates.answer(estimateId, {
        status: 'FAILED',
        reason: `the estimate was not answered within ${PENDING_ESTIMATE_BOUND_MS / 60_000} minutes; ask for it again`,
      });
      record = (await deps.estimates.get(estimateId)) ?? record;
    }
    answer(res, record);
  });
  return router;
}
