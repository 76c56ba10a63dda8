import { RetryableError, presetOf, type BackendName, type ShotPlan } from '@aiprod/contracts';
import { planVersionOf, type Job } from '@aiprod/job-store';
import {
  PlanningError,
  planBackends,
  planLocally,
  primaryBackend,
  type CapacitySnapshot,
  type PlanContext,
} from '@aiprod/planning';
import type { Log } from '@aiprod/pubsub';
import { failJob } from '@aiprod/service-runtime';
import type { PlannerDeps } from '../app';
import { dispatchPendingShots } from './dispatch';
import { planRecord } from './plan-record';

type DirectorOutcome = { ok: true; plan: ShotPlan } | { ok: false };

/**
 * Asks the configured director for a plan. A failure never silently becomes a local plan: with
 * the fallback enabled the job's timeline records `plan.director_fallback` and why; without it a
 * retryable failure is retried through Pub/Sub (RetryableError) until the last attempt, and then,
 * like a permanent one, fails the job with `planning_failed` and the director's reason.
 */
async function directorPlan(
  deps: PlannerDeps,
  job: Job,
  context: PlanContext,
  log: Log,
  lastAttempt: boolean,
): Promise<DirectorOutcome> {
  try {
    return { ok: true, plan: await deps.director.plan(job.brief, context) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const retryable = !(err instanceof PlanningError) || err.kind === 'retryable';
    if (deps.fallbackToLocal && deps.director.name !== 'local') {
      log.warn('director failed; planning locally as configured', { director: deps.director.name, reason });
      await deps.jobs.appendEvent(job.jobId, {
        key: 'plan.director_fallback',
        type: 'plan.director_fallback',
        data: { director: deps.director.name, to: 'local', reason, retryable },
      });
      return { ok: true, plan: planLocally(job.brief, context) };
    }
    if (retryable && !lastAttempt) {
      throw new RetryableError(reason, err instanceof PlanningError ? err.retryAfterSeconds : undefined, {
        cause: err,
      });
    }
    log.warn('director failed; failing the job', { director: deps.director.name, reason });
    await failJob(deps, job, 'planning_failed', `${deps.director.name} director: ${reason}`);
    return { ok: false };
  }
}

/**
 * Moves a job as far through planning as its state allows: QUEUED → PLANNING → a saved plan →
 * RENDERING (or AWAITING_APPROVAL), then publishes the render requests still due. Every step
 * is a compare-and-set, so the message handler and the sweeper can both call it, any number
 * of times; a redelivery after the plan was saved never plans again, it only re-publishes
 * what state says is still pending.
 */
export async function advancePlanning(
  deps: PlannerDeps,
  start: Job,
  log: Log,
  options: { lastAttempt?: boolean } = {},
): Promise<void> {
  let job = start;
  if (job.status === 'QUEUED') {
    job = (await deps.jobs.transition(job.jobId, 'QUEUED', 'PLANNING')).value ?? job;
  }
  if (job.status === 'PLANNING') {
    const preset = presetOf(job.preset);
    const enabledBackends: readonly BackendName[] = deps.enabledBackends;
    let backend: BackendName;
    try {
      backend = primaryBackend(job.brief, preset, { enabledBackends }).backend;
    } catch (err) {
      await failJob(deps, job, 'planning_failed', (err as Error).message);
      return;
    }
    const outcome = await directorPlan(deps, job, { preset, backend }, log, options.lastAttempt ?? false);
    if (!outcome.ok) return;
    const capacity = await capacitySnapshot(deps, enabledBackends, log);
    const planned = planBackends(outcome.plan, {
      preset,
      enabledBackends,
      targetSeconds: job.brief.durationSeconds,
      ...(job.brief.budgetCapUsd !== undefined ? { budgetCapUsd: job.brief.budgetCapUsd } : {}),
      ...(deps.fallbackPolicy ? { policy: deps.fallbackPolicy } : {}),
      ...(capacity ? { capacity } : {}),
    });
    const { estimate } = planned;
    if (!estimate.withinBudget) {
      await failJob(deps, job, 'budget_exceeded', estimate.refusal ?? 'the estimate exceeds the budget cap');
      return;
    }
    const tenant = await deps.tenants.getTenant(job.tenantId);
    const needsApproval = estimate.totalUsd > (tenant?.autoApproveLimitUsd ?? 0);
    const plan = planned.plan;
    const record = planRecord(planned, preset);
    const saved = await deps.jobs.savePlan(
      job.jobId,
      { ...record.plan, version: 1 },
      record.shots,
      needsApproval ? 'AWAITING_APPROVAL' : 'RENDERING',
    );
    job = saved.value ?? job;
    log.info('plan saved', {
      director: plan.director,
      shots: plan.shots.length,
      estimatedCostUsd: estimate.totalUsd,
      status: job.status,
      changed: saved.changed,
    });
  }
  if (job.status === 'RENDERING') {
    const sent = await dispatchPendingShots(deps, job);
    log.info('render requests published', { shots: sent });
  } else {
    log.info('nothing to dispatch', { status: job.status });
  }
  await requestPreview(deps, job, log);
}

/**
 * Asks delivery for the free preview of the plan when the job waits for approval or the brief
 * wants one: after the paid render requests, so it never delays them. Published again on a
 * redelivery (delivery dedupes) until the preview of this version is ready.
 */
export async function requestPreview(deps: PlannerDeps, job: Job, log: Log): Promise<void> {
  const wanted = job.status === 'AWAITING_APPROVAL' || (job.status === 'RENDERING' && job.brief.preview === true);
  if (!job.plan || !wanted) return;
  const planVersion = planVersionOf(job);
  if (job.preview?.planVersion === planVersion && job.preview.status === 'READY') return;
  await deps.publisher.publish('aiprod.preview.requested.v1', {
    v: 1,
    jobId: job.jobId,
    tenantId: job.tenantId,
    planVersion,
  });
  log.info('preview requested', { planVersion });
}

/**
 * What the render pools' capacity board says now, read once per plan so the plan is a function of
 * one snapshot. Advisory: when the board cannot be read, the plan is made as without it.
 */
export async function capacitySnapshot(
  deps: PlannerDeps,
  backends: readonly BackendName[],
  log: Log,
): Promise<CapacitySnapshot | undefined> {
  if (!deps.capacityBoard) return undefined;
  try {
    const views = await deps.capacityBoard.readAll(backends);
    const snapshot: CapacitySnapshot = {};
    for (const [b, v] of views) if (v.known) snapshot[b] = { hasRoom: v.hasRoom, summary: v.summary };
    return snapshot;
  } catch (error) {
    log.warn('capacity board unreadable; planning without it', { error });
    return undefined;
  }
}
