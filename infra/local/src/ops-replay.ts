import type { HandledMessage, MessageLedger, JobStore } from '@aiprod/job-store';
import { WORK_MESSAGE_RETENTION_SECONDS } from '@aiprod/pubsub';
import { OpsProblem, usage, workSubscription, type OpsContext } from './ops-context';

export type SeekTarget = { time: Date } | { snapshot: string };

export interface RedeliveryCount {
  /** Messages the seek will deliver again; null when our records cannot say. */
  count: number | null;
  /** What the count is based on, in words (the emulator cannot count a backlog; neither can we exactly). */
  basedOn: string;
  truncated: boolean;
  jobs: { jobId: string; messages: number }[];
}

export interface SeekReplayResult {
  subscription: string;
  target: { time: string } | { snapshot: string };
  dryRun: boolean;
  seeked: boolean;
  redeliveries: RedeliveryCount;
  /** The jobs whose timeline now records the replay (ops.replayed). */
  recordedOn: string[];
}

const COUNT_LIMIT = 10_000;

/**
 * Counts what a seek will redeliver from the message ledger, where every worker notes each message
 * it acked after handling it (service-runtime's recordingHandled), with its publish time:
 * - to a time: the messages published since then (within the retention window) that were acked;
 * - to a snapshot: the messages first acked after the snapshot was taken, when we took it.
 * Messages not acked yet are delivered anyway, and are not counted.
 */
export async function countRedeliveries(
  ledger: MessageLedger,
  subscription: string,
  target: SeekTarget,
  now = new Date(),
): Promise<RedeliveryCount> {
  let listed: { messages: HandledMessage[]; truncated: boolean };
  let basedOn: string;
  if ('time' in target) {
    const retainedFrom = new Date(now.getTime() - WORK_MESSAGE_RETENTION_SECONDS * 1000);
    const from = target.time > retainedFrom ? target.time : retainedFrom;
    listed = await ledger.listHandled(subscription, { publishedFrom: from }, COUNT_LIMIT);
    basedOn =
      `the message ledger: messages ${subscription} acked after handling, published at or after ` +
      `${from.toISOString()}` +
      (from === target.time ? '' : ' (the 7-day retention; older messages are gone and come back no more)') +
      '; messages not yet acked are delivered anyway and are not counted';
  } else {
    const record = await ledger.getSnapshotRecord(target.snapshot);
    if (!record || record.subscription !== subscription) {
      return {
        count: null,
        basedOn:
          `no count: snapshot ${target.snapshot} was not taken with "aiprod ops snapshot create" on ${subscription}, ` +
          'so our records do not say when it was taken',
        truncated: false,
        jobs: [],
      };
    }
    listed = await ledger.listHandled(subscription, { handledFrom: record.createdAt.toDate() }, COUNT_LIMIT);
    basedOn =
      `the message ledger: messages ${subscription} first acked after the snapshot was taken ` +
      `(${record.createdAt.toDate().toISOString()}); messages not yet acked are delivered anyway and are not counted`;
  }
  const perJob = new Map<string, number>();
  for (const m of listed.messages) if (m.jobId) perJob.set(m.jobId, (perJob.get(m.jobId) ?? 0) + 1);
  return {
    count: listed.messages.length,
    basedOn: listed.truncated ? `at least: ${basedOn}` : basedOn,
    truncated: listed.truncated,
    jobs: [...perJob].map(([jobId, messages]) => ({ jobId, messages })),
  };
}

/**
 * `ops replay`: seeks a subscription back to a time or a snapshot, so Pub/Sub delivers again what
 * it acked since (the subscriptions retain acked messages). Safe because every handler is
 * idempotent. The count comes first; then the seek; then each affected job's timeline records it.
 */
export async function seekReplay(
  ctx: OpsContext,
  options: { subscription: string; target: SeekTarget; dryRun: boolean; now?: Date },
): Promise<SeekReplayResult> {
  const spec = workSubscription(options.subscription);
  const now = options.now ?? new Date();
  if ('time' in options.target && options.target.time.getTime() > now.getTime()) {
    // Seeking to the future acknowledges everything published before it: the backlog would be dropped.
    throw usage('--to-time is in the future: seeking there would acknowledge (drop) the backlog, not replay it');
  }
  const redeliveries = await countRedeliveries(ctx.ledger, spec.name, options.target, now);
  const target =
    'time' in options.target ? { time: options.target.time.toISOString() } : { snapshot: options.target.snapshot };
  const result: SeekReplayResult = {
    subscription: spec.name,
    target,
    dryRun: options.dryRun,
    seeked: false,
    redeliveries,
    recordedOn: [],
  };
  if (options.dryRun) return result;
  try {
    await ctx.pubsub
      .subscription(spec.name)
      .seek('time' in options.target ? options.target.time : options.target.snapshot);
  } catch (e) {
    const code = (e as { code?: number }).code;
    if (code === 5) throw new OpsProblem('not_found', `seek failed: ${(e as Error).message}`);
    throw e;
  }
  result.seeked = true;
  result.recordedOn = await recordReplay(ctx.jobs, redeliveries, {
    subscription: spec.name,
    target,
    operator: ctx.operator,
    at: now,
  });
  return result;
}

async function recordReplay(
  jobs: JobStore,
  count: RedeliveryCount,
  replay: { subscription: string; target: SeekReplayResult['target']; operator: string; at: Date },
): Promise<string[]> {
  const recorded: string[] = [];
  for (const { jobId, messages } of count.jobs) {
    if (!(await jobs.getJob(jobId))) continue;
    await jobs.appendEvent(jobId, {
      key: `ops-replayed-${replay.subscription}-${replay.at.getTime()}`,
      type: 'ops.replayed',
      data: { subscription: replay.subscription, target: replay.target, operator: replay.operator, messages },
    });
    recorded.push(jobId);
  }
  return recorded;
}
