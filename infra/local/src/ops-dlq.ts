import type { Timestamp } from '@google-cloud/firestore';
import { replayDeadLetters, type ReplayedLetter } from '@aiprod/service-runtime';
import { OpsProblem, iso, usage, workSubscription, type OpsContext } from './ops-context';

/** What an operator needs of the job a letter names, to judge a redrive. */
export interface JobContext {
  jobId: string;
  tenantId: string | null;
  status: string | null;
  failureReason: string | null;
  failureMessage: string | null;
}

export interface DeadLetterRow {
  id: string;
  subscription: string;
  topic: string;
  messageId: string;
  at: string | null;
  replayed: boolean;
  replayedBy: string | null;
  job: JobContext | null;
}

async function jobContext(ctx: OpsContext, jobId: unknown): Promise<JobContext | null> {
  if (typeof jobId !== 'string' || !jobId) return null;
  const job = await ctx.jobs.getJob(jobId);
  return {
    jobId,
    tenantId: job?.tenantId ?? null,
    status: job?.status ?? null,
    failureReason: job?.error?.reason ?? null,
    failureMessage: job?.error?.message ?? null,
  };
}

async function row(ctx: OpsContext, letter: Record<string, unknown>): Promise<DeadLetterRow> {
  return {
    id: String(letter.id),
    subscription: String(letter.subscription),
    topic: String(letter.topic),
    messageId: String(letter.messageId),
    at: iso(letter.at as Timestamp | undefined),
    replayed: letter.replayed === true,
    replayedBy: typeof letter.replayedBy === 'string' ? letter.replayedBy : null,
    job: await jobContext(ctx, letter.jobId),
  };
}

/** `ops dlq list`: the dead letters on record, newest first, each with its job. */
export async function listDeadLetters(
  ctx: OpsContext,
  options: { subscription?: string; limit: number },
): Promise<DeadLetterRow[]> {
  if (options.subscription) workSubscription(options.subscription);
  const letters = await ctx.ledger.listDeadLetters(options.limit, {
    ...(options.subscription ? { subscription: options.subscription } : {}),
  });
  return Promise.all(letters.map((l) => row(ctx, l)));
}

/** `ops dlq show <id>`: one letter (id as listed: `<subscription>:<messageId>`), its body and its job's last events. */
export async function showDeadLetter(ctx: OpsContext, id: string) {
  const letter = await ctx.ledger.getDeadLetter(id);
  if (!letter) throw new OpsProblem('not_found', `no dead letter ${id} on record (see "aiprod ops dlq list")`);
  const base = await row(ctx, letter);
  const events = base.job ? (await ctx.jobs.listEvents(base.job.jobId)).slice(-10) : [];
  return {
    ...base,
    data: String(letter.data ?? ''),
    recentEvents: events.map((e) => ({ at: iso(e.at), type: e.type, data: e.data })),
  };
}

export interface RedriveResult {
  subscription: string;
  topic: string;
  dryRun: boolean;
  letters: (ReplayedLetter & { jobContext: JobContext | null })[];
}

/**
 * `ops dlq redrive <subscription>`: the subscription's held letters back to their original topic;
 * each job failed by a dead letter reopens in the state its message drives, and its timeline
 * records who redrove it (service-runtime's replayDeadLetters).
 */
export async function redriveDeadLetters(
  ctx: OpsContext,
  options: { subscription: string; jobId?: string; limit: number; waitSeconds: number; dryRun: boolean },
): Promise<RedriveResult> {
  const spec = workSubscription(options.subscription);
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > 1000)
    throw usage('--limit must be a whole number from 1 to 1000');
  if (!(options.waitSeconds > 0 && options.waitSeconds <= 300)) throw usage('--wait-seconds must be from 0 to 300');
  const letters = await replayDeadLetters({
    pubsub: ctx.pubsub,
    jobs: ctx.jobs,
    ledger: ctx.ledger,
    subscription: spec.name,
    operator: ctx.operator,
    ...(options.jobId ? { jobId: options.jobId } : {}),
    limit: options.limit,
    dryRun: options.dryRun,
    waitMs: options.waitSeconds * 1000,
  });
  return {
    subscription: spec.name,
    topic: spec.topic,
    dryRun: options.dryRun,
    letters: await Promise.all(letters.map(async (l) => ({ ...l, jobContext: await jobContext(ctx, l.jobId) }))),
  };
}
