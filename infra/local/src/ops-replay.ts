import type { HandledMessage, MessageLedger, JobStore } from '@aiprod/job-store';
import { WORK_MESSAGE_RETENTION_SECONDS } from '@aiprod/pubsub';
import { OpsProblem, usage, workSubscription, type OpsContext } from './ops-context';
import { createSnapshot } from './ops-snapshot';

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
  /**
   * The snapshot taken just before the seek (null in a dry run): seeking to it restores the
   * subscription's unacked backlog as it was then, including what a seek to a time acknowledged.
   */
  undoSnapshot: string | null;
  /** What the seek does to messages not yet acknowledged, and the way back. */
  note: string;
  /** The jobs whose timeline now records the replay (ops.replayed). */
  recordedOn: string[];
}

const COUNT_LIMIT = 10_000;

/**
 * Counts what a seek will redeliver from the message ledger, where every worker notes each message
 * it acked after handling it (service-runtime's recordingHandled), with its publish time:
 * - to a time: the messages published since then (within the retention window) that were acked;
 * - to a snapshot: the messages first acked after the snapshot was taken, when we took it.
 * Messages not acked yet are not counted (what the seek does to them is in the result's note).
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
      '; messages not yet acked are not counted';
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
      `(${record.createdAt.toDate().toISOString()}); messages not yet acked are not counted`;
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

/** Pub/Sub keeps a snapshot for at most 7 days (less when the backlog it holds is older). */
export const SNAPSHOT_LIFETIME_DAYS = 7;

/**
 * The undo snapshot's name: `aiprod-undo-<subscription without "aiprod.", dots as dashes>-<UTC
 * time to the millisecond>`, e.g. aiprod-undo-job-assemble-v1-delivery-20261207t093000123z
 * (letters, digits and dashes, a letter first, well under 255 characters).
 */
export function undoSnapshotName(subscription: string, at: Date): string {
  const sub = subscription.replace(/^aiprod\./, '').replace(/[^A-Za-z0-9]+/g, '-');
  const stamp = at.toISOString().replace(/[-:.]/g, '');
  return `aiprod-undo-${sub}-${stamp}`.toLowerCase();
}

function noteFor(subscription: string, target: SeekTarget, undo: string | null): string {
  const drops =
    'time' in target
      ? `messages published before ${target.time.toISOString()} and not yet acknowledged (in retry backoff, ` +
        'or held by a worker, e.g. a long render) are acknowledged by the seek: Pub/Sub will not deliver them; ' +
        'messages published since are delivered again, acknowledged or not'
      : 'messages not acknowledged when the snapshot was taken, and every message published since, are delivered again';
  const back = undo
    ? `undo: aiprod ops replay ${subscription} --to-snapshot ${undo} (restores the unacknowledged backlog as of ` +
      `just before this replay; the snapshot expires within ${SNAPSHOT_LIFETIME_DAYS} days)`
    : 'a replay (not a dry run) first takes a snapshot to undo it with';
  return `${drops}. ${back}`;
}

/**
 * `ops replay`: seeks subscriptions back to a time or a snapshot, so Pub/Sub delivers again what
 * it acked since (the subscriptions retain acked messages). Safe because every handler is
 * idempotent. For every subscription first the count and an undo snapshot (a seek to a time
 * also acknowledges the unacked backlog published before it; the snapshot is the way back);
 * only when all are taken, the seeks; then each affected job's timeline records its replay.
 */
export async function seekReplays(
  ctx: OpsContext,
  options: { subscriptions: string[]; target: SeekTarget; dryRun: boolean; now?: Date },
): Promise<SeekReplayResult[]> {
  const now = options.now ?? new Date();
  if ('time' in options.target && options.target.time.getTime() > now.getTime()) {
    // Seeking to the future acknowledges everything published before it: the backlog would be dropped.
    throw usage('--to-time is in the future: seeking there would acknowledge (drop) the backlog, not replay it');
  }
  const names = [...new Set(options.subscriptions.map((s) => workSubscription(s).name))];
  const target =
    'time' in options.target ? { time: options.target.time.toISOString() } : { snapshot: options.target.snapshot };
  const results: SeekReplayResult[] = [];
  for (const subscription of names) {
    const redeliveries = await countRedeliveries(ctx.ledger, subscription, options.target, now);
    const undoSnapshot = options.dryRun ? null : await takeUndoSnapshot(ctx, subscription, now, results);
    results.push({
      subscription,
      target,
      dryRun: options.dryRun,
      seeked: false,
      redeliveries,
      undoSnapshot,
      note: noteFor(subscription, options.target, undoSnapshot),
      recordedOn: [],
    });
  }
  if (options.dryRun) return results;
  for (const result of results) {
    await seekOne(ctx, result, options.target, results);
    result.seeked = true;
    result.recordedOn = await recordReplay(ctx.jobs, result.redeliveries, {
      subscription: result.subscription,
      target,
      operator: ctx.operator,
      at: now,
    });
  }
  return results;
}

/** What was done before a failure, so the operator knows what to undo (the problem's detail is all they see). */
function progress(results: SeekReplayResult[]): string {
  const seeked = results.filter((r) => r.seeked);
  const snapshots = results.filter((r) => r.undoSnapshot).map((r) => r.undoSnapshot);
  return (
    (seeked.length
      ? `; already seeked: ${seeked.map((r) => `${r.subscription} (undo: --to-snapshot ${r.undoSnapshot})`).join(', ')}`
      : '; nothing seeked') + (snapshots.length ? `; undo snapshots taken: ${snapshots.join(', ')}` : '')
  );
}

async function takeUndoSnapshot(
  ctx: OpsContext,
  subscription: string,
  now: Date,
  results: SeekReplayResult[],
): Promise<string> {
  const name = undoSnapshotName(subscription, now);
  try {
    await createSnapshot(ctx, subscription, name);
  } catch (e) {
    // Without its way back the seek is not made. Pub/Sub refuses (FAILED_PRECONDITION) a snapshot
    // that would expire within the hour: a backlog whose oldest unacked message is nearly 7 days old.
    const why = e instanceof Error ? e.message : String(e);
    throw new OpsProblem(
      'conflict',
      `could not take the undo snapshot ${name} of ${subscription}: ${why}${progress(results)}`,
    );
  }
  return name;
}

async function seekOne(
  ctx: OpsContext,
  result: SeekReplayResult,
  target: SeekTarget,
  results: SeekReplayResult[],
): Promise<void> {
  try {
    await ctx.pubsub.subscription(result.subscription).seek('time' in target ? target.time : target.snapshot);
  } catch (e) {
    const code = (e as { code?: number }).code;
    const detail = `seek of ${result.subscription} failed: ${(e as Error).message}${progress(results)}`;
    throw new OpsProblem(code === 5 ? 'not_found' : 'internal', detail);
  }
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
