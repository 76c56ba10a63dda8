import { RetryableError, presetOf } from '@aiprod/contracts';
import { PlanningError, planLocally } from '@aiprod/planning';
import type { Log } from '@aiprod/pubsub';
import type { PlannerDeps } from '../app';
import { planBrief, type OnDirectorFailure } from './plan-job';

/**
 * Answers an estimate request: the brief is planned exactly as its job would be (planBrief: the
 * same director, cache, backends and fallback policy), and the estimate, or why there is none, is
 * written on the estimate's record, once. A redelivery after the answer finds nothing to do. A
 * director failure the job would retry is retried here too (RetryableError) until the last
 * delivery, which answers FAILED rather than leaving the client waiting on a dead letter.
 */
export async function answerEstimate(
  deps: PlannerDeps,
  request: { estimateId: string; tenantId: string },
  log: Log,
  options: { lastAttempt: boolean },
): Promise<void> {
  const record = await deps.estimates.get(request.estimateId);
  if (!record || record.tenantId !== request.tenantId) {
    // Expired, or never written (a forged or stray message): there is no one to answer.
    log.warn('estimate request without a record; dropped', { estimateId: request.estimateId });
    return;
  }
  if (record.status !== 'PENDING') {
    log.info('estimate already answered', { status: record.status });
    return;
  }
  const onDirectorFailure: OnDirectorFailure = async (err, context) => {
    const reason = err instanceof Error ? err.message : String(err);
    const retryable = !(err instanceof PlanningError) || err.kind === 'retryable';
    // The job would be planned locally too: the estimate prices that plan, and says why.
    if (deps.fallbackToLocal && deps.director.name !== 'local') return planLocally(record.brief, context);
    if (retryable && !options.lastAttempt) {
      throw new RetryableError(reason, err instanceof PlanningError ? err.retryAfterSeconds : undefined, {
        cause: err,
      });
    }
    return null;
  };
  const outcome = await planBrief(
    deps,
    { tenantId: record.tenantId, brief: record.brief, preset: presetOf(record.preset) },
    onDirectorFailure,
  );
  if (!outcome.ok) {
    const reason = outcome.stage === 'director' ? `${deps.director.name} director: ${outcome.reason}` : outcome.reason;
    await deps.estimates.answer(record.estimateId, { status: 'FAILED', reason });
    log.warn('estimate failed', { reason });
    return;
  }
  // Firestore refuses undefined values; the estimate is JSON data, so a JSON round trip drops them.
  const estimate = JSON.parse(JSON.stringify(outcome.estimate)) as Record<string, unknown>;
  const answered = await deps.estimates.answer(record.estimateId, { status: 'READY', estimate });
  log.info('estimate answered', {
    shots: outcome.planned.plan.shots.length,
    totalUsd: outcome.estimate.totalUsd,
    answered,
  });
}
