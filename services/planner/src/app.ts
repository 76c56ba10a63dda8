import type { BackendName, FallbackPolicy, TopicsOf } from '@aiprod/contracts';
import type {
  AssetStore,
  CapacityBoard,
  DirectorPlanCache,
  EstimateStore,
  PlanStore,
  TenantStore,
} from '@aiprod/job-store';
import type { CreativeDirector, Translator } from '@aiprod/planning';
import type { HandlerMap } from '@aiprod/pubsub';
import type { SpeechEngine } from '@aiprod/speech';
import type { BlobStore } from '@aiprod/storage';
import type { ResolveHost } from '@aiprod/webhooks';
import type { CoreDeps, SweepPolicies, SweepPolicy } from '@aiprod/service-runtime';
import { estimateRequestedHandler } from './handlers/estimate-requested';
import { jobRequestedHandler } from './handlers/job-requested';
import { jobApprovedHandler } from './handlers/job-approved';
import { planChangesRequestedHandler } from './handlers/plan-changes-requested';
import { advancePlanning } from './steps/plan-job';
import { resumeRecordedDecision } from './steps/resume-decision';

export interface PlannerDeps extends CoreDeps<'planner'> {
  tenants: TenantStore;
  director: CreativeDirector;
  /** The director's plans, so the job made from an estimated brief gets the plan that was priced. */
  directorPlans: DirectorPlanCache;
  /** Estimate requests, answered here with the job's planning path. */
  estimates: EstimateStore;
  /** Plan locally when the director fails (recorded on the job), instead of failing the job. */
  fallbackToLocal: boolean;
  /** The render pools deployed; shots go only to these. */
  enabledBackends: readonly BackendName[];
  /** The model each render pool runs (BACKEND_MODELS); a backend not named runs its catalogue default. */
  models?: Partial<Record<BackendName, string>>;
  /** Prices the fallback chain in the estimate; default DEFAULT_FALLBACK_POLICY. */
  fallbackPolicy?: FallbackPolicy;
  /** The plan's versions: a re-plan after a change request stores the next one. */
  plans: PlanStore;
  /** Where the brief's reference images are stored with the job (and uploaded assets are read). */
  storage: BlobStore;
  /** Tenants' uploaded images, which a brief may name as references. */
  assets: AssetStore;
  /** Local mode: reference URLs may be plain http to loopback (as delivery's logos). */
  allowLoopbackHttp?: boolean;
  /** Overall deadline of one reference image download (default 20 s). */
  referenceFetchTimeoutMs?: number;
  /** DNS for the reference fetch's SSRF guard (tests pin it). */
  resolveHost?: ResolveHost;
  /** The render pools' live capacity board; absent (`PLANNER_PREFER_BACKENDS_WITH_ROOM=false`): not read. */
  capacityBoard?: CapacityBoard;
  /** Speaks each voice-over line to measure it against its shot (absent: the speaking-rate estimate only). */
  speech?: SpeechEngine;
  /** Translates a plan's words into a brief's further languages (PLANNER_TRANSLATOR; absent: the brief's own). */
  translator?: Translator;
}

/** The planner's handlers, one per subscribed topic (a missing one fails to compile). */
export function buildPlanner(deps: PlannerDeps): HandlerMap<TopicsOf<'planner'>> {
  return {
    'aiprod.job.requested.v1': jobRequestedHandler(deps),
    'aiprod.job.approved.v1': jobApprovedHandler(deps),
    'aiprod.plan.changes.requested.v1': planChangesRequestedHandler(deps),
    'aiprod.estimate.requested.v1': estimateRequestedHandler(deps),
  };
}

const MAX_PLANNING_SWEEPS = 3;
/**
 * Sweeps of a recorded approval or change request (each RECORDED_DECISION_GRACE_SECONDS apart)
 * before the job fails: acting on it is a few Firestore writes and publishes, or one director
 * call, so five failures in a row are an outage worth a failed job (a change request is dropped
 * on the last one instead; see resumeRecordedDecision).
 */
const MAX_DECISION_SWEEPS = 5;

/**
 * The states SWEEPERS gives the planner: a lost request is planned again; a recorded approval or
 * change request whose message was lost is acted on; an approval that never came expires.
 */
export function plannerSweep(deps: PlannerDeps): SweepPolicies<'planner'> {
  const replan: SweepPolicy = {
    maxSweeps: MAX_PLANNING_SWEEPS,
    nudge: (job) =>
      advancePlanning(deps, job, deps.log.child({ jobId: job.jobId, sweep: true }), {
        // The sweeper's last nudge: a director still failing then fails the job with its own reason.
        lastAttempt: (job.sweeps ?? 1) >= MAX_PLANNING_SWEEPS,
      }),
  };
  const decision: SweepPolicy = {
    maxSweeps: MAX_DECISION_SWEEPS,
    nudge: (job) =>
      resumeRecordedDecision(deps, job, deps.log.child({ jobId: job.jobId, sweep: true }), {
        lastAttempt: (job.sweeps ?? 1) >= MAX_DECISION_SWEEPS,
      }),
  };
  return { QUEUED: replan, PLANNING: replan, AWAITING_APPROVAL: decision };
}

/**
 * A dead-lettered change request must not fail the job (the runtime's default for a dead letter):
 * the job still has a plan the client can approve. The request is dropped instead (on the
 * timeline as plan.changes_failed), so the version can be approved or changed again.
 *
 * Nor must a dead-lettered approval whose job still waits with the approval recorded (every
 * attempt failed retryably: a Text-to-Speech outage while the approved lines were measured, a
 * publish that failed): the recorded decision's short deadline brings the decision sweep, which
 * acts on it again and fails the job only after its last nudge (MAX_DECISION_SWEEPS).
 */
export async function planLetterSuperseded(
  deps: PlannerDeps,
  letter: { topic: string; jobId?: string; data: string },
): Promise<string | null> {
  if (letter.topic === 'aiprod.job.approved.v1' && letter.jobId) {
    const job = await deps.jobs.getJob(letter.jobId);
    if (job?.status !== 'AWAITING_APPROVAL' || !job.plan?.approval) return null;
    return 'the approval failed on every delivery of its message; it is recorded, and the decision sweep acts on it again';
  }
  if (letter.topic !== 'aiprod.plan.changes.requested.v1') return null;
  let planVersion = NaN;
  try {
    planVersion = Number((JSON.parse(letter.data) as { planVersion?: unknown }).planVersion);
  } catch {
    // Not even JSON: no version to drop, and still nothing to fail the job over.
  }
  if (letter.jobId && Number.isSafeInteger(planVersion) && planVersion >= 1) {
    // A no-op when the request was answered meanwhile, or a later one is pending.
    await deps.plans.dropChangeRequest(
      letter.jobId,
      planVersion,
      'the change request could not be answered: its message was not handled after every delivery attempt',
    );
  }
  return 'a change request failed; the plan stays at its version';
}
