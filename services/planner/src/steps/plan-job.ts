import {
  RetryableError,
  presetOf,
  type BackendName,
  type Brief,
  type JobEstimate,
  type Preset,
  type ShotPlan,
} from '@aiprod/contracts';
import { directorCacheKey, planVersionOf, type Job } from '@aiprod/job-store';
import {
  PlanningError,
  briefNeedsImage,
  planBackends,
  planLocally,
  primaryBackend,
  type CapacitySnapshot,
  type PlanContext,
  type PlannedBackends,
} from '@aiprod/planning';
import type { Log } from '@aiprod/pubsub';
import { failJob } from '@aiprod/service-runtime';
import type { PlannerDeps } from '../app';
import { dispatchPendingShots } from './dispatch';
import { planRecord } from './plan-record';
import { planSound, type PlanSound, type VoiceShortening } from './plan-sound';
import { resolveMusic } from './resolve-music';
import { resolveReferences } from './resolve-references';

/** What a director failure becomes: a plan to use instead (the local fallback), or null to give up. */
export type OnDirectorFailure = (err: unknown, context: PlanContext) => Promise<ShotPlan | null>;

export type BriefPlan =
  | { ok: true; planned: PlannedBackends; estimate: JobEstimate }
  | { ok: false; reason: string; stage: 'backend' | 'director' };

/**
 * The one path from a brief to a priced plan, taken by a job and by an estimate alike, so an
 * estimate prices the plan its job will get: the same director, backends and fallback policy.
 * A director's plan is kept in the director cache (a day) and read before asking the director,
 * so the job made from an estimated brief gets the very plan that was priced even when the
 * director answers differently each time (Gemini). The local director is deterministic, so its
 * plans are remade rather than stored. See docs/decisions/2026-12-estimates-through-the-planner.md.
 */
export async function planBrief(
  deps: PlannerDeps,
  /** `capacity`: the render pools' board, read by a job's plan only (an estimate is a quote, not a booking). */
  input: { tenantId: string; brief: Brief; preset: Preset; capacity?: CapacitySnapshot },
  onDirectorFailure: OnDirectorFailure,
): Promise<BriefPlan> {
  const { tenantId, brief, preset } = input;
  const enabledBackends: readonly BackendName[] = deps.enabledBackends;
  const models = deps.models ?? {};
  let primary: ReturnType<typeof primaryBackend>;
  try {
    primary = primaryBackend(brief, preset, { enabledBackends, models });
  } catch (err) {
    return { ok: false, reason: (err as Error).message, stage: 'backend' };
  }
  const context: PlanContext = { preset, backend: primary.backend, model: primary.model };
  const cached = deps.director.name !== 'local';
  // The director's name carries its model (gemini:gemini-2.5-flash), so a new model is a new key.
  const key = directorCacheKey({ tenantId, brief, director: deps.director.name, enabledBackends, models });
  let shotPlan = cached ? await deps.directorPlans.lookup<ShotPlan>(key) : null;
  if (!shotPlan) {
    try {
      shotPlan = await deps.director.plan(brief, context);
      if (cached)
        await deps.directorPlans.store(key, { tenantId, brief, director: deps.director.name, plan: shotPlan });
    } catch (err) {
      shotPlan = await onDirectorFailure(err, context);
      if (!shotPlan) return { ok: false, reason: (err as Error).message, stage: 'director' };
    }
  }
  const planned = planBackends(shotPlan, {
    preset,
    enabledBackends,
    models,
    // Every shot carries the brief's references (attached after planning, see planRecord).
    needsImage: shotPlan.shots.map(() => briefNeedsImage(brief)),
    targetSeconds: brief.durationSeconds,
    ...(brief.budgetCapUsd !== undefined ? { budgetCapUsd: brief.budgetCapUsd } : {}),
    ...(deps.fallbackPolicy ? { policy: deps.fallbackPolicy } : {}),
    ...(input.capacity ? { capacity: input.capacity } : {}),
  });
  // A brief whose tier is not deployed is planned on another one: the estimate says so once.
  const said = planned.estimate.notes.some((n) => n.startsWith(`no ${preset.qualityTier} backend is enabled`));
  const estimate =
    primary.degradedReason && !said
      ? { ...planned.estimate, notes: [primary.degradedReason, ...planned.estimate.notes] }
      : planned.estimate;
  return { ok: true, planned, estimate };
}

/**
 * A job's director failure never silently becomes a local plan: with the fallback enabled the
 * job's timeline records `plan.director_fallback` and why; without it a retryable failure is
 * retried through Pub/Sub (RetryableError) until the last attempt, and then, like a permanent one,
 * fails the job with `planning_failed` and the director's reason.
 */
const jobDirectorFailure =
  (deps: PlannerDeps, job: Job, log: Log, lastAttempt: boolean): OnDirectorFailure =>
  async (err, context) => {
    const reason = err instanceof Error ? err.message : String(err);
    const retryable = !(err instanceof PlanningError) || err.kind === 'retryable';
    if (deps.fallbackToLocal && deps.director.name !== 'local') {
      log.warn('director failed; planning locally as configured', { director: deps.director.name, reason });
      await deps.jobs.appendEvent(job.jobId, {
        key: 'plan.director_fallback',
        type: 'plan.director_fallback',
        data: { director: deps.director.name, to: 'local', reason, retryable },
      });
      return planLocally(job.brief, context);
    }
    if (retryable && !lastAttempt) {
      throw new RetryableError(reason, err instanceof PlanningError ? err.retryAfterSeconds : undefined, {
        cause: err,
      });
    }
    log.warn('director failed; failing the job', { director: deps.director.name, reason });
    return null;
  };

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
    // Before the director and before any spend: a reference that cannot be had fails the job here.
    const references = await resolveReferences(deps, job, log);
    if (!references.ok) return;
    const music = await resolveMusic(deps, job, log);
    if (!music.ok) return;
    const preset = presetOf(job.preset);
    const capacity = await capacitySnapshot(deps, deps.enabledBackends, log);
    const outcome = await planBrief(
      deps,
      { tenantId: job.tenantId, brief: job.brief, preset, ...(capacity ? { capacity } : {}) },
      jobDirectorFailure(deps, job, log, options.lastAttempt ?? false),
    );
    if (!outcome.ok) {
      const reason =
        outcome.stage === 'director' ? `${deps.director.name} director: ${outcome.reason}` : outcome.reason;
      await failJob(deps, job, 'planning_failed', reason);
      return;
    }
    const { estimate } = outcome.planned;
    if (!estimate.withinBudget) {
      await failJob(deps, job, 'budget_exceeded', estimate.refusal ?? 'the estimate exceeds the budget cap');
      return;
    }
    const sound = await soundOrFailure(deps, job, outcome.planned.plan, preset, options.lastAttempt ?? false, log);
    if (!sound) return;
    const planned = { ...outcome.planned, plan: sound.plan };
    const tenant = await deps.tenants.getTenant(job.tenantId);
    const needsApproval = estimate.totalUsd > (tenant?.autoApproveLimitUsd ?? 0);
    const plan = planned.plan;
    const record = planRecord(planned, preset, references.references, sound.languages);
    // Before the save: once saved, the job has left PLANNING and this path never runs again.
    if (sound.shortened.length) await recordShortenedLines(deps, job, sound.shortened);
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
 * The plan's words in every language, each line fitted to its shot (planSound). A line that cannot
 * fit, or words that cannot be had, fail the job with the reason; a retryable failure (the
 * translator's outage) is retried through Pub/Sub until the last attempt.
 */
async function soundOrFailure(
  deps: PlannerDeps,
  job: Job,
  plan: ShotPlan,
  preset: Preset,
  lastAttempt: boolean,
  log: Log,
): Promise<PlanSound | null> {
  try {
    return await planSound(deps, job.brief, plan, preset);
  } catch (err) {
    if (!(err instanceof PlanningError)) throw err;
    if (err.kind === 'retryable' && !lastAttempt) {
      throw new RetryableError(err.message, err.retryAfterSeconds, { cause: err });
    }
    log.warn("the plan's words cannot be delivered; failing the job", { reason: err.message });
    await failJob(deps, job, 'planning_failed', err.message);
    return null;
  }
}

/** The lines shortened to fit their shots, on the job's timeline (what the client's words became). */
export async function recordShortenedLines(deps: PlannerDeps, job: Job, shortened: VoiceShortening[]): Promise<void> {
  await deps.jobs.appendEvent(job.jobId, {
    key: `plan.voice_shortened.v${planVersionOf(job)}`,
    type: 'plan.voice_shortened',
    data: { lines: shortened },
  });
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
