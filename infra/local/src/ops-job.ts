import type { Timestamp } from '@google-cloud/firestore';
import {
  CATALOGUE,
  isTerminal,
  renderTopicFor,
  type MessageOf,
  type ServiceName,
  type TopicName,
} from '@aiprod/contracts';
import type { Job, Shot } from '@aiprod/job-store';
import { Publisher } from '@aiprod/pubsub';
import { OpsProblem, iso, usage, type OpsContext } from './ops-context';

export interface TimelineEntry {
  at: string;
  /** event: the job's own timeline; attempt, try, qa: from its shots; cost: the cost ledger. */
  kind: 'event' | 'attempt' | 'try' | 'qa' | 'cost';
  what: string;
  shotId?: string;
  data: Record<string, unknown>;
}

async function loadJob(ctx: OpsContext, jobId: string): Promise<Job> {
  const job = await ctx.jobs.getJob(jobId);
  if (!job) throw new OpsProblem('not_found', `no job ${jobId} in project ${ctx.projectId}`);
  return job;
}

function shotEntries(shot: Shot): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const push = (at: Timestamp | undefined | null, kind: TimelineEntry['kind'], what: string, data: object) => {
    if (at) out.push({ at: iso(at)!, kind, what, shotId: shot.shotId, data: data as Record<string, unknown> });
  };
  for (const a of Object.values(shot.attempts)) {
    push(a.startedAt, 'attempt', 'attempt.started', { attempt: a.attempt, backend: a.backend });
    for (const t of a.tries ?? []) {
      push(t.at, 'try', `try.${t.outcome}`, {
        attempt: a.attempt,
        backend: t.backend,
        model: t.model,
        ...(t.vendorTaskId ? { vendorTaskId: t.vendorTaskId } : {}),
        ...(t.errorClass ? { errorClass: t.errorClass, message: t.message } : {}),
        costUsd: t.costUsd,
      });
    }
    push(a.finishedAt, 'attempt', `attempt.${a.status.toLowerCase()}`, {
      attempt: a.attempt,
      backend: a.backend,
      ...(a.costUsd !== undefined ? { costUsd: a.costUsd } : {}),
      ...(a.error ? { error: a.error } : {}),
    });
  }
  if (shot.qa) {
    push(shot.qa.at, 'qa', `qa.${shot.qa.verdict}`, {
      attempt: shot.qa.attempt,
      judge: shot.qa.judge,
      failed: shot.qa.checks.filter((c) => c.verdict === 'fail').map((c) => c.name),
    });
  }
  return out;
}

/** `ops job timeline <id>`: the job's events, attempts, vendor tries, QA verdicts and costs, in time order. */
export async function jobTimeline(ctx: OpsContext, jobId: string) {
  const job = await loadJob(ctx, jobId);
  const [events, shots, costs] = await Promise.all([
    ctx.jobs.listEvents(jobId, { limit: 5000 }),
    ctx.jobs.listShots(jobId),
    ctx.jobs.listCosts(jobId),
  ]);
  const entries: TimelineEntry[] = [
    ...events.map((e) => ({ at: iso(e.at)!, kind: 'event' as const, what: e.type, data: e.data })),
    ...shots.flatMap(shotEntries),
    ...costs.map(({ key, at, ...rest }) => ({
      at: iso(at as Timestamp)!,
      kind: 'cost' as const,
      what: 'cost',
      data: { key, ...rest },
    })),
  ];
  // Stable: entries at the same instant keep their source order (an event before the try it reports).
  entries.sort((a, b) => a.at.localeCompare(b.at));
  return {
    job: {
      jobId,
      tenantId: job.tenantId,
      status: job.status,
      preset: job.preset,
      costUsd: job.costUsd,
      error: job.error ? { reason: job.error.reason, message: job.error.message } : null,
      shots: shots.map((s) => ({ shotId: s.shotId, status: s.status, backend: s.backend, attempt: s.attempt })),
    },
    entries,
  };
}

export const JOB_STAGES = ['requested', 'approved', 'render', 'qa', 'assemble', 'finished'] as const;
export type JobStage = (typeof JOB_STAGES)[number];

interface Emission {
  topic: TopicName;
  payload: Record<string, unknown>;
}

function emissionsFor(stage: JobStage, job: Job, shots: Shot[], operator: string): Emission[] {
  const envelope = { v: 1, jobId: job.jobId, tenantId: job.tenantId };
  switch (stage) {
    case 'requested':
      return [{ topic: 'aiprod.job.requested.v1', payload: envelope }];
    case 'approved':
      return [{ topic: 'aiprod.job.approved.v1', payload: { ...envelope, approver: `replay by ${operator}` } }];
    case 'render':
      // Each shot's current attempt, to the pool now holding it (a fallback may have moved it).
      return shots.map((s) => ({
        topic: renderTopicFor(s.attempts[String(s.attempt)]?.backend ?? s.backend),
        payload: { ...envelope, shotId: s.shotId, attempt: s.attempt, spec: s.spec },
      }));
    case 'qa':
      return shots.flatMap((s) => {
        const a = s.attempts[String(s.attempt)];
        if (!a?.clipUri) return [];
        const payload = { shotId: s.shotId, attempt: s.attempt, clipUri: a.clipUri, backend: a.backend };
        return [
          { topic: 'aiprod.shot.rendered.v1' as const, payload: { ...envelope, ...payload, costUsd: a.costUsd ?? 0 } },
        ];
      });
    case 'assemble':
      return [{ topic: 'aiprod.job.assemble.v1', payload: envelope }];
    case 'finished':
      // The announcement of an end (the webhook): only a job that has ended has one.
      if (!isTerminal(job.status)) return [];
      return [{ topic: 'aiprod.job.finished.v1', payload: { ...envelope, status: job.status } }];
  }
}

/**
 * Refuses a stage whose handler would act on a job for which that step is not due. Two would:
 * - approved: the planner's approval moves AWAITING_APPROVAL → RENDERING and dispatches the shots,
 *   so a replay for a job still awaiting its client's approval would approve it on the client's
 *   behalf. Only an approval that happened (the planner's move records a job.approved event)
 *   may be replayed, once the job has left AWAITING_APPROVAL (it may be parked there again after
 *   a dead-letter redrive: then its new estimate waits for a new approval).
 * - render: the render pool claims a PENDING attempt and calls the vendor's create (paid);
 *   render requests are due only while the job is RENDERING.
 * The others act only when state says the step is due: requested (planning advances only from
 * QUEUED or PLANNING, and dispatches only for a RENDERING job), qa (checks a shot only while it
 * is RENDERED at that attempt, and only shots with a clip are re-emitted), assemble (only an
 * ASSEMBLING job is assembled; a DELIVERED one is re-announced), finished (terminal jobs only).
 */
async function refuseUndueStage(ctx: OpsContext, stage: JobStage, job: Job): Promise<void> {
  if (stage === 'render' && job.status !== 'RENDERING') {
    throw new OpsProblem(
      'conflict',
      `job ${job.jobId} is ${job.status}: render requests are due only while a job is RENDERING` +
        (job.status === 'AWAITING_APPROVAL' ? ' (its client has not approved it: a render would spend money)' : ''),
    );
  }
  if (stage !== 'approved') return;
  if (job.status === 'AWAITING_APPROVAL') {
    throw new OpsProblem(
      'conflict',
      `job ${job.jobId} is AWAITING_APPROVAL: only its client can approve it (POST /v1/jobs/${job.jobId}/approve)`,
    );
  }
  const events = await ctx.jobs.listEvents(job.jobId, { limit: 5000 });
  if (!events.some((e) => e.type === 'job.approved' && e.data.from === 'AWAITING_APPROVAL')) {
    throw new OpsProblem(
      'conflict',
      `job ${job.jobId} was never approved by its client (it did not wait for approval, or a redrive reopened it): ` +
        'nothing to replay; "--from render" re-sends its render requests',
    );
  }
}

/**
 * `ops job replay <id> --from <stage>`: publishes again the message that starts that stage, as
 * the service that owns it would (validated against the catalogue, with the job's ids as
 * attributes). Every handler is idempotent, so a step already done is not done twice; a stage
 * whose handler would act on a job for which it is not due is refused (refuseUndueStage). The
 * job's timeline records the replay.
 */
export async function replayJobStage(
  ctx: OpsContext,
  options: { jobId: string; stage: string; shotId?: string; dryRun: boolean },
) {
  if (!(JOB_STAGES as readonly string[]).includes(options.stage))
    throw usage(`--from must be one of ${JOB_STAGES.join(', ')} (got "${options.stage}")`);
  const stage = options.stage as JobStage;
  const job = await loadJob(ctx, options.jobId);
  await refuseUndueStage(ctx, stage, job);
  let shots = await ctx.jobs.listShots(job.jobId);
  if (options.shotId) shots = shots.filter((s) => s.shotId === options.shotId);
  if (options.shotId && shots.length === 0)
    throw new OpsProblem('not_found', `job ${job.jobId} has no shot ${options.shotId}`);
  const emissions = emissionsFor(stage, job, shots, ctx.operator);
  if (emissions.length === 0)
    throw new OpsProblem('conflict', `nothing to re-emit for stage ${stage} of a ${job.status} job`);
  const published: { topic: TopicName; messageId: string | null; shotId?: string }[] = [];
  for (const e of emissions) {
    const shotId = typeof e.payload.shotId === 'string' ? { shotId: e.payload.shotId } : {};
    if (options.dryRun) {
      published.push({ topic: e.topic, messageId: null, ...shotId });
      continue;
    }
    // Published as the owning service publishes it: that service is among the topic's publishers.
    const owner = CATALOGUE[e.topic].publishers[0] as ServiceName;
    const publisher = new Publisher(ctx.pubsub, owner) as unknown as {
      publish(topic: TopicName, payload: MessageOf<TopicName>): Promise<string>;
    };
    const messageId = await publisher.publish(e.topic, e.payload as MessageOf<TopicName>);
    published.push({ topic: e.topic, messageId, ...shotId });
  }
  if (!options.dryRun) {
    await ctx.jobs.appendEvent(job.jobId, {
      key: `ops-job-replayed-${stage}-${Date.now()}`,
      type: 'ops.job_replayed',
      data: { stage, operator: ctx.operator, messages: published.map((p) => ({ ...p })) },
    });
  }
  return { jobId: job.jobId, status: job.status, stage, dryRun: options.dryRun, published };
}
