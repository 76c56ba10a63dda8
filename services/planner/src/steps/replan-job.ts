import { RetryableError, presetOf, type BackendName, type ShotPlan } from '@aiprod/contracts';
import { planVersionOf, type Job } from '@aiprod/job-store';
import {
  PlanningError,
  briefNeedsImage,
  planBackends,
  planLocally,
  primaryBackend,
  type PlannedBackends,
} from '@aiprod/planning';
import type { Log } from '@aiprod/pubsub';
import type { PlannerDeps } from '../app';
import { planRecord } from './plan-record';
import { planSound, type PlanSound } from './plan-sound';
import { capacitySnapshot, recordShortenedLines, requestPreview } from './plan-job';

/**
 * Answers a client's change request: the director plans the brief again following every note so
 * far (the local director adds them to each shot's visual prompt; Gemini reads them beside the
 * brief), the plan is priced like the first one, and it becomes the plan's next version while the
 * job keeps waiting for approval. When no new plan can be made (the director fails for good, its
 * answer cannot be priced, or the new plan is over the budget cap) the request is dropped with its
 * reason on the timeline and the current version stays. A redelivery after the new version was
 * stored re-plans nothing (it only asks again for the new version's preview while delivery has
 * recorded none); a message that dead-letters anyway is dropped by
 * planLetterSuperseded (app.ts), never failing the job.
 */
export async function replanJob(
  deps: PlannerDeps,
  job: Job,
  planVersion: number,
  log: Log,
  options: { lastAttempt: boolean },
): Promise<void> {
  const pending = job.plan?.changesRequested;
  if (job.status !== 'AWAITING_APPROVAL' || pending?.version !== planVersion) {
    log.info('change request already answered or no longer due', { status: job.status, planVersion });
    await previewOfAnsweredRequest(deps, job, planVersion, log);
    return;
  }
  const drop = (reason: string) => deps.plans.dropChangeRequest(job.jobId, planVersion, reason);
  const preset = presetOf(job.preset);
  const enabledBackends: readonly BackendName[] = deps.enabledBackends;
  const notes = [...(job.plan?.notes ?? []), pending.notes];
  let planned: PlannedBackends;
  let sound: PlanSound;
  // Everything that can throw before the new version is stored (the director, and pricing its
  // answer) is in here, so the last delivery drops the request rather than dead-lettering it.
  try {
    const models = deps.models ?? {};
    const { backend, model } = primaryBackend(job.brief, preset, { enabledBackends, models });
    const context = { preset, backend, model, notes };
    let shotPlan: ShotPlan;
    try {
      shotPlan = await deps.director.plan(job.brief, context);
    } catch (err) {
      if (!deps.fallbackToLocal || deps.director.name === 'local') throw err;
      shotPlan = planLocally(job.brief, context);
    }
    const capacity = await capacitySnapshot(deps, enabledBackends, log);
    planned = planBackends(shotPlan, {
      preset,
      enabledBackends,
      models,
      needsImage: shotPlan.shots.map(() => briefNeedsImage(job.brief)),
      targetSeconds: job.brief.durationSeconds,
      ...(job.brief.budgetCapUsd !== undefined ? { budgetCapUsd: job.brief.budgetCapUsd } : {}),
      ...(deps.fallbackPolicy ? { policy: deps.fallbackPolicy } : {}),
      ...(capacity ? { capacity } : {}),
    });
    sound = await planSound(deps, job.brief, planned.plan, preset);
    planned = { ...planned, plan: sound.plan };
  } catch (err) {
    const retryable = !(err instanceof PlanningError) || err.kind === 'retryable';
    if (retryable && !options.lastAttempt) throw new RetryableError((err as Error).message, undefined, { cause: err });
    log.warn('re-plan failed; the plan stays as it is', { reason: (err as Error).message });
    await drop(`re-plan with the ${deps.director.name} director: ${(err as Error).message}`);
    return;
  }
  if (!planned.estimate.withinBudget) {
    await drop(planned.estimate.refusal ?? 'the new plan is over the budget cap');
    return;
  }
  // The references come from the brief, stored when the job was first planned: every version keeps them.
  const record = planRecord(planned, preset, job.references ?? [], sound.languages);
  if (sound.shortened.length)
    await recordShortenedLines(deps, { ...job, plan: { ...job.plan!, version: planVersion + 1 } }, sound.shortened);
  const revised = await deps.plans.revise(job.jobId, planVersion, 'replan', () => ({
    ...record,
    plan: { ...record.plan, notes },
    event: {
      director: record.plan.director,
      shots: record.shots.length,
      estimatedCostUsd: record.plan.estimatedCostUsd,
    },
  }));
  if (!('ok' in revised) || !revised.ok) {
    log.info('plan changed meanwhile; re-plan not stored', { why: 'why' in revised ? revised.why : 'declined' });
    return;
  }
  log.info('plan revised', { planVersion: planVersion + 1, shots: record.shots.length });
  await requestPreview(deps, revised.job, log);
}

/**
 * A redelivery of a request this message answered: the new version was stored, but publishing its
 * preview request may have failed after that (the message was nacked for it), and nothing else asks
 * for it; without the preview the client never gets job.awaiting_approval. So it is asked for again
 * while the job waits on that version, unapproved, and delivery has recorded no preview of it
 * (delivery makes one preview per plan version however often it is asked).
 */
async function previewOfAnsweredRequest(deps: PlannerDeps, job: Job, planVersion: number, log: Log): Promise<void> {
  const revised = planVersion + 1;
  if (job.status !== 'AWAITING_APPROVAL' || planVersionOf(job) !== revised || job.plan?.approval) return;
  if (job.preview?.planVersion === revised) return;
  await requestPreview(deps, job, log);
}
