import { Timestamp, type DocumentReference, type Firestore, type Transaction } from '@google-cloud/firestore';
import type { BackendName, JobStatus, ShotSpec } from '@aiprod/contracts';
import { runJobTransaction } from './firestore';
import { pendingShot, planVersionOf, type Job, type JobPlan, type Shot } from './types';

/**
 * The most versions a job's plan may have. Every change request runs the director again (a paid
 * Gemini call) and adds its notes to `plan.notes`, which every later re-plan sends along; without
 * a bound one job could spend without limit and grow its document towards Firestore's 1 MiB. A
 * client still changing its mind after this many versions is better served by a new job.
 */
export const MAX_PLAN_VERSIONS = 20;

/**
 * How soon the planner's sweeper looks at a job once its client's approval or change request is
 * recorded. The gateway records the decision, then publishes its message; if that publish fails,
 * or the gateway dies in between, nothing else would publish it, and the job would wait out its
 * whole approval window (7 days) only to fail. The sweep then does what the message would have
 * (see the planner's AWAITING_APPROVAL policy). Two minutes: the message normally acts within
 * seconds, so the sweep finds the job gone or answered; long enough for a publish retried by the
 * client (its 503 says to repeat it) or by Pub/Sub to arrive first; short against 7 days.
 */
export const RECORDED_DECISION_GRACE_SECONDS = 120;

/** Whether a job waiting for approval has its client's decision recorded, not yet acted on. */
export const hasRecordedDecision = (job: Job): boolean =>
  job.status === 'AWAITING_APPROVAL' && Boolean(job.plan?.approval || job.plan?.changesRequested);

/** The deadline for a recorded decision: the grace from now, never later than the one it had. */
export function recordedDecisionDeadline(now: Timestamp, current: Timestamp | null = null): Timestamp {
  const soon = Timestamp.fromMillis(now.toMillis() + RECORDED_DECISION_GRACE_SECONDS * 1000);
  return current && current.toMillis() < soon.toMillis() ? current : soon;
}

/**
 * Once a change request is answered (a new version) or dropped, the job waits for its client
 * again: the approval deadline it had before the request, and a fresh count of sweeps. A request
 * recorded before requests kept it leaves the deadline as it is.
 */
function approvalWindowBack(job: Job): Pick<Job, 'deadlineAt' | 'sweeps'> | Record<string, never> {
  const kept = job.plan?.changesRequested?.deadlineAt;
  return kept ? { deadlineAt: kept, sweeps: 0 } : {};
}

/** Why a plan could not be approved or changed: each maps to one HTTP answer in the gateway. */
export type PlanRefusal =
  | { ok: false; why: 'not_found' }
  /** Waiting for approval without a stored plan (only jobs from before plans were stored) (409). */
  | { ok: false; why: 'no_plan' }
  /** The job is not waiting for approval (409). */
  | { ok: false; why: 'state'; status: JobStatus }
  /** The request named another version than the current one (412). */
  | { ok: false; why: 'stale'; version: number }
  /** The plan is approved: it is what the render uses and no longer changes (409). */
  | { ok: false; why: 'approved'; version: number }
  /** The director is answering a change request; the plan changes when it has (409). */
  | { ok: false; why: 'changes_pending'; version: number }
  /** Changes were requested on this version: it is not the one to approve; the next one is (409). */
  | { ok: false; why: 'changes_requested'; version: number }
  /** The plan has MAX_PLAN_VERSIONS versions: no edit or change request makes another (409). */
  | { ok: false; why: 'too_many_versions'; max: number };

/** A new version of a plan: the plan's fields (its version is set here) and every shot of it. */
export interface PlanRevision {
  plan: Omit<JobPlan, 'version' | 'approval' | 'changesRequested'>;
  shots: { spec: ShotSpec; backend: BackendName }[];
  /** On the timeline as `plan.revised` (client-visible fields only: see the gateway's views). */
  event: Record<string, unknown>;
}

const tooMany = { ok: false, why: 'too_many_versions', max: MAX_PLAN_VERSIONS } as const;

/** What a revision's author may answer instead of a revision: its own refusal (e.g. field errors). */
export type Declined<E> = { declined: E };

/**
 * The versions of a job's plan while it waits for approval: edits, re-plans, change requests and
 * the approval itself, each a compare-and-set on the job in one transaction with its shots, so the
 * shots the render pools are sent are always those of the version that was approved.
 */
export class PlanStore {
  constructor(readonly db: Firestore) {}

  private jobRef(jobId: string): DocumentReference {
    return this.db.collection('jobs').doc(jobId);
  }

  private event(tx: Transaction, jobId: string, key: string, type: string, data: Record<string, unknown>) {
    tx.set(this.jobRef(jobId).collection('events').doc(key), { type, at: Timestamp.now(), data });
  }

  /** The checks every change shares: waiting for approval, not approved, at the version named. */
  private check(job: Job | null, version: number): PlanRefusal | null {
    if (!job) return { ok: false, why: 'not_found' };
    if (job.status !== 'AWAITING_APPROVAL') return { ok: false, why: 'state', status: job.status };
    if (!job.plan) return { ok: false, why: 'no_plan' };
    const current = planVersionOf(job);
    if (version !== current) return { ok: false, why: 'stale', version: current };
    if (job.plan.approval) return { ok: false, why: 'approved', version: job.plan.approval.version };
    return null;
  }

  private async readJob(tx: Transaction, jobId: string): Promise<Job | null> {
    const snap = await tx.get(this.jobRef(jobId));
    return snap.exists ? (snap.data() as Job) : null;
  }

  /**
   * Records that `by` approved `version`. A repeat of the same approval is `repeated` (the
   * gateway publishes it again: the first publish may have been lost); another version is stale.
   */
  async approve(
    jobId: string,
    version: number,
    by: string,
  ): Promise<{ ok: true; job: Job; repeated: boolean } | PlanRefusal> {
    return runJobTransaction(this.db, 'approvePlan', async (tx) => {
      const job = await this.readJob(tx, jobId);
      if (job?.status === 'AWAITING_APPROVAL' && job.plan?.approval?.version === version) {
        return { ok: true, job, repeated: true } as const;
      }
      const refused = this.check(job, version);
      if (refused) return refused;
      // Approving now would strand the director's answer (its re-plan is refused once approved)
      // and leave a rendering job showing a request nobody will answer.
      if (job!.plan!.changesRequested) return { ok: false, why: 'changes_requested', version } as const;
      const approval = { version, by, at: Timestamp.now() };
      // Due soon: should job.approved never arrive, the planner's sweep starts the render itself.
      const deadlineAt = recordedDecisionDeadline(approval.at, job!.deadlineAt);
      const moved = { updatedAt: approval.at, deadlineAt, sweeps: 0 };
      tx.update(this.jobRef(jobId), { 'plan.approval': approval, ...moved });
      this.event(tx, jobId, `plan-v${version}-approved`, 'plan.approved', { planVersion: version, by });
      const plan = { ...job!.plan!, approval };
      return { ok: true, job: { ...job!, ...moved, plan }, repeated: false } as const;
    });
  }

  /**
   * Stores a new version of the plan made by `revise` from the job and its current shots, if the
   * plan is still at `version`: the job's plan and every shot document change together (shots the
   * new version no longer has are deleted). `kind` says whose change it is: an edit is refused
   * while a change request is pending; a re-plan answers one.
   */
  async revise<E>(
    jobId: string,
    version: number,
    kind: 'edit' | 'replan',
    revise: (job: Job, shots: Shot[]) => PlanRevision | Declined<E>,
  ): Promise<{ ok: true; job: Job } | PlanRefusal | Declined<E>> {
    return runJobTransaction(this.db, 'revisePlan', async (tx) => {
      const job = await this.readJob(tx, jobId);
      const refused = this.check(job, version);
      if (refused) return refused;
      const pending = job!.plan?.changesRequested;
      if (kind === 'edit' && pending) return { ok: false, why: 'changes_pending', version } as const;
      // A re-plan answers a request accepted below the cap, so only edits are checked here.
      if (kind === 'edit' && version >= MAX_PLAN_VERSIONS) return tooMany;
      if (kind === 'replan' && pending?.version !== version) return { ok: false, why: 'stale', version } as const;
      const shotDocs = await tx.get(this.jobRef(jobId).collection('shots').orderBy('index'));
      const shots = shotDocs.docs.map((d) => d.data() as Shot);
      const revision = revise(job!, shots);
      if ('declined' in revision) return revision;
      const now = Timestamp.now();
      const keep = new Set(revision.shots.map((s) => s.spec.shotId));
      for (const d of shotDocs.docs) if (!keep.has(d.id)) tx.delete(d.ref);
      for (const { spec, backend } of revision.shots) {
        tx.set(this.jobRef(jobId).collection('shots').doc(spec.shotId), pendingShot(jobId, spec, backend, now));
      }
      const plan: JobPlan = { ...revision.plan, version: version + 1, changesRequested: null };
      const next: Job = { ...job!, plan, updatedAt: now, ...approvalWindowBack(job!) };
      tx.set(this.jobRef(jobId), next);
      this.event(tx, jobId, `plan-v${version + 1}`, 'plan.revised', {
        ...revision.event,
        kind,
        planVersion: version + 1,
      });
      return { ok: true, job: next } as const;
    });
  }

  /**
   * Records a change request on the plan at `version` (the director's cue; its notes join the
   * plan's notes when the new version is made). One at a time: a second one while the first is
   * pending is refused.
   */
  async requestChanges(
    jobId: string,
    version: number,
    notes: string,
    by: string,
  ): Promise<{ ok: true; job: Job } | PlanRefusal> {
    return runJobTransaction(this.db, 'requestPlanChanges', async (tx) => {
      const job = await this.readJob(tx, jobId);
      const refused = this.check(job, version);
      if (refused) return refused;
      if (job!.plan?.changesRequested) return { ok: false, why: 'changes_pending', version } as const;
      if (version >= MAX_PLAN_VERSIONS) return tooMany;
      const at = Timestamp.now();
      // Due soon: should the request's message never arrive, the planner's sweep re-plans itself.
      // The client's approval window is kept with the request, to be given back once it is answered.
      const deadlineAt = recordedDecisionDeadline(at, job!.deadlineAt);
      const changesRequested = { version, notes, by, at, ...(job!.deadlineAt ? { deadlineAt: job!.deadlineAt } : {}) };
      const moved = { updatedAt: at, deadlineAt, sweeps: 0 };
      tx.update(this.jobRef(jobId), { 'plan.changesRequested': changesRequested, ...moved });
      this.event(tx, jobId, `plan-v${version}-changes-requested`, 'plan.changes_requested', {
        planVersion: version,
        notes,
        by,
      });
      return { ok: true, job: { ...job!, ...moved, plan: { ...job!.plan!, changesRequested } } } as const;
    });
  }

  /**
   * Brings the deadline of a job whose client's approval or change request is recorded to
   * RECORDED_DECISION_GRACE_SECONDS from now: the sweep that claimed it pushed it out by the whole
   * approval window, and acting on the decision may fail (a director down) and should be tried
   * again within minutes. Leaves every other job alone. The sweep count is kept: it bounds the tries.
   * Answers whether a decision is recorded: the sweep's own copy of the job predates its claim, so
   * the caller reads the job again to act on the decision.
   */
  async recheckRecordedDecision(jobId: string): Promise<boolean> {
    return runJobTransaction(this.db, 'recheckRecordedDecision', async (tx) => {
      const job = await this.readJob(tx, jobId);
      if (!job || !hasRecordedDecision(job)) return false;
      tx.update(this.jobRef(jobId), { deadlineAt: recordedDecisionDeadline(Timestamp.now()) });
      return true;
    });
  }

  /**
   * Gives up on a pending change request (the director could not answer it, or its new plan is
   * over the budget cap): the plan stays at `version`, the timeline says why. No-op once answered.
   */
  async dropChangeRequest(jobId: string, version: number, reason: string): Promise<boolean> {
    return runJobTransaction(this.db, 'dropPlanChanges', async (tx) => {
      const job = await this.readJob(tx, jobId);
      if (job?.plan?.changesRequested?.version !== version) return false;
      tx.update(this.jobRef(jobId), {
        'plan.changesRequested': null,
        updatedAt: Timestamp.now(),
        ...approvalWindowBack(job),
      });
      this.event(tx, jobId, `plan-v${version}-changes-failed`, 'plan.changes_failed', {
        planVersion: version,
        reason: reason.slice(0, 500),
      });
      return true;
    });
  }
}
