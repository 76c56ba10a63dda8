import { Router, type RequestHandler, type Response } from 'express';
import { validate, type BackendName } from '@aiprod/contracts';
import {
  planVersionOf,
  type ApiKeyScope,
  type Job,
  type JobStore,
  type PlanRefusal,
  type PlanStore,
} from '@aiprod/job-store';
import type { Log, Publisher } from '@aiprod/pubsub';
import type { BlobStore } from '@aiprod/storage';
import { chosenVersion, ifMatchVersions } from '../if-match';
import { PlanChangesSchema } from '../openapi/plan-schemas';
import { parsePlanPatch, revisePlan } from '../plan-edits';
import { planEtag, planView } from '../plan-view';
import { HttpProblem, publishOrUnavailable } from '../problem';
import { jobOfCaller, principalName } from '../request';
import { jobView } from '../views';

export interface PlanRoutesDeps {
  jobs: JobStore;
  plans: PlanStore;
  publisher: Publisher<'gateway'>;
  storage: BlobStore;
  outputUrlTtlSeconds: number;
  enabledBackends: readonly BackendName[];
  requireScope: (scope: ApiKeyScope) => RequestHandler;
  /** Asks for a free preview of a new plan version (absent: none is asked for). */
  requestPreview?: (job: Job) => Promise<void>;
  log?: Pick<Log, 'warn'>;
}

/** A refused change or approval as the problem a client can act on. */
function refusalProblem(jobId: string, refusal: PlanRefusal): HttpProblem {
  switch (refusal.why) {
    case 'not_found':
      return new HttpProblem('not_found', `no job ${jobId}`);
    case 'state':
      return new HttpProblem('conflict', `job ${jobId} is ${refusal.status}, not AWAITING_APPROVAL`);
    case 'no_plan':
      return new HttpProblem('conflict', `job ${jobId} has no stored plan to approve or change`);
    case 'stale':
      return new HttpProblem('precondition_failed', `the plan is at version ${refusal.version}: read it again`, {
        members: { currentVersion: refusal.version },
      });
    case 'approved':
      return new HttpProblem('conflict', `version ${refusal.version} of the plan is approved and no longer changes`);
    case 'changes_pending':
      return new HttpProblem('conflict', 'the director is answering a change request; the plan changes when it has');
    case 'too_many_versions':
      return new HttpProblem('conflict', `this job has reached ${refusal.max} plan versions; submit a new job`);
    case 'changes_requested':
      return new HttpProblem(
        'conflict',
        `changes were requested for this version; wait for the new version (the plan is at version ${refusal.version})`,
      );
  }
}

/** Throws the refusal's problem (a stale one carries the current ETag), else hands the job on. */
function settled<T extends { ok: true; job: Job }>(res: Response, jobId: string, r: T | PlanRefusal): T {
  if (r.ok) return r;
  if (r.why === 'stale') res.setHeader('ETag', `"${r.version}"`);
  throw refusalProblem(jobId, r);
}

/**
 * The storyboard and what a client does with it before paying: read it, edit shots, ask the
 * director for changes, approve one version. Every change names the version it was made on
 * (If-Match), so nobody approves or edits a plan they have not seen.
 */
export function planRoutes(deps: PlanRoutesDeps): Router {
  const router = Router();
  const ctx = { enabledBackends: deps.enabledBackends, storage: deps.storage, urlTtlSeconds: deps.outputUrlTtlSeconds };
  const sendPlan = async (res: Response, job: Job, status = 200) => {
    const shots = await deps.jobs.listShots(job.jobId);
    res.status(status).setHeader('ETag', planEtag(job)).setHeader('Cache-Control', 'private, no-cache');
    res.json(await planView(job, shots, ctx));
  };
  const previewOf = async (job: Job) => {
    // The preview is free and can be asked for again; the edit is already stored.
    await deps.requestPreview?.(job).catch((e: Error) => deps.log?.warn('preview not requested', { error: e.message }));
  };

  router.get('/v1/jobs/:id/plan', deps.requireScope('jobs:read'), async (req, res) => {
    const job = await jobOfCaller(req, res, deps.jobs);
    if (!job.plan) throw new HttpProblem('not_found', `job ${job.jobId} has no plan yet (it is ${job.status})`);
    await sendPlan(res, job);
  });

  router.patch('/v1/jobs/:id/plan', deps.requireScope('jobs:write'), async (req, res) => {
    const job = await jobOfCaller(req, res, deps.jobs);
    const named = ifMatchVersions(req, true)!;
    const patch = parsePlanPatch(req.body);
    if (Array.isArray(patch)) throw new HttpProblem('validation', 'the plan edit is not valid', { errors: patch });
    const by = principalName(req);
    const revised = await deps.plans.revise(job.jobId, chosenVersion(named, planVersionOf(job)), 'edit', (j, shots) =>
      revisePlan(j, shots, patch, deps, by),
    );
    if ('declined' in revised) {
      throw new HttpProblem('validation', 'the plan edit breaks the preset’s rules', { errors: revised.declined });
    }
    const { job: next } = settled(res, job.jobId, revised);
    await previewOf(next);
    await sendPlan(res, next);
  });

  router.post('/v1/jobs/:id/plan/changes', deps.requireScope('jobs:write'), async (req, res) => {
    const job = await jobOfCaller(req, res, deps.jobs);
    const checked = validate(PlanChangesSchema, req.body ?? {});
    if (!checked.ok) throw new HttpProblem('validation', 'the change request is not valid', { errors: checked.errors });
    const named = ifMatchVersions(req, false);
    const version = named ? chosenVersion(named, planVersionOf(job)) : planVersionOf(job);
    const pending = job.plan?.changesRequested;
    // A repeat of the request (its first publish may have been lost) is published again.
    const repeat = pending?.version === version && pending.notes === checked.value.notes;
    const recorded = repeat
      ? { ok: true as const, job }
      : await deps.plans.requestChanges(job.jobId, version, checked.value.notes, principalName(req));
    const { job: next } = settled(res, job.jobId, recorded);
    await publishOrUnavailable(deps.publisher, 'aiprod.plan.changes.requested.v1', {
      v: 1,
      jobId: next.jobId,
      tenantId: next.tenantId,
      planVersion: version,
    });
    await sendPlan(res, next, 202);
  });

  router.post('/v1/jobs/:id/approve', deps.requireScope('jobs:approve'), async (req, res) => {
    const job = await jobOfCaller(req, res, deps.jobs);
    const named = ifMatchVersions(req, true)!;
    const approver = principalName(req);
    const version = chosenVersion(named, planVersionOf(job));
    const { job: approved } = settled(res, job.jobId, await deps.plans.approve(job.jobId, version, approver));
    // The planner owns the AWAITING_APPROVAL → RENDERING move; it renders only the version recorded
    // here, and nothing changes the plan after it (a repeated approval is harmless).
    await publishOrUnavailable(deps.publisher, 'aiprod.job.approved.v1', {
      v: 1,
      jobId: approved.jobId,
      tenantId: approved.tenantId,
      approver,
      planVersion: version,
    });
    const [shots, events] = await Promise.all([deps.jobs.listShots(job.jobId), deps.jobs.listEvents(job.jobId)]);
    res.setHeader('ETag', planEtag(approved));
    res.status(202).json(await jobView(approved, shots, events, deps.storage, deps.outputUrlTtlSeconds));
  });

  return router;
}
