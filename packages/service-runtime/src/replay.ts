import { v1, type PubSub } from '@google-cloud/pubsub';
import { subscriptions, type JobStatus, type TopicName } from '@aiprod/contracts';
import type { JobStore, MessageLedger } from '@aiprod/job-store';

/** Each pull gets at least a second, even when the overall wait is nearly spent. */
const MIN_PULL_TIMEOUT_MS = 1_000;

/**
 * The state a dead-lettered job goes back to when the message that failed it is replayed: the
 * state in which that message is the next step. job.finished only notifies, so it changes nothing.
 */
const RESUME_STATE: Record<string, JobStatus | null> = {
  'aiprod.job.requested.v1': 'QUEUED',
  'aiprod.job.approved.v1': 'RENDERING',
  'aiprod.shot.rendered.v1': 'RENDERING',
  'aiprod.job.assemble.v1': 'ASSEMBLING',
  'aiprod.job.finished.v1': null,
};
const resumeStateFor = (topic: TopicName): JobStatus | null =>
  topic.startsWith('aiprod.render.') ? 'RENDERING' : (RESUME_STATE[topic] ?? null);

export interface ReplayedLetter {
  messageId: string;
  jobId?: string;
  /** What happened: replayed (published again), skipped (filtered out, left on hold), or why not. */
  outcome: 'replayed' | 'would_replay' | 'skipped';
  /** The job's state change, when there was one. */
  job?: { from: JobStatus; to: JobStatus } | { unchanged: JobStatus; why: string };
  /** Something the operator should know that did not stop the replay. */
  note?: string;
}

/**
 * Replays dead letters an operator chose: reads the subscription's `.dlq.hold` for a bounded
 * time, brings each named job back from FAILED (`dead_lettered` only) to the state the message
 * drives, records who replayed it on the timeline, publishes the original body and attributes to
 * the original topic, and only then acks the letter. Letters for other jobs, and everything in a
 * dry run, go back on hold untouched. Used by `aiprod ops dlq redrive` (and its old name, `aiprod replay`).
 */
export async function replayDeadLetters(options: {
  pubsub: PubSub;
  jobs: JobStore;
  /** When given, each replayed letter's ledger record is marked replayed (by whom, when). */
  ledger?: MessageLedger;
  subscription: string;
  operator: string;
  jobId?: string;
  limit: number;
  dryRun: boolean;
  /** Upper bound on the whole read of the hold subscription. */
  waitMs: number;
}): Promise<ReplayedLetter[]> {
  const spec = subscriptions().find((s) => s.name === options.subscription);
  if (!spec) throw new Error(`unknown subscription ${options.subscription}: see the catalogue`);
  // Synchronous pull, so every letter not replayed is explicitly handed back (deadline 0) before
  // we return: a streaming listener would leave them leased for the ack deadline.
  const { port, ...clientOptions } = options.pubsub.options;
  const client = new v1.SubscriberClient({ ...clientOptions, ...(port !== undefined ? { port: Number(port) } : {}) });
  const hold = `projects/${options.pubsub.projectId}/subscriptions/${spec.deadLetterHoldSubscription}`;
  const results: ReplayedLetter[] = [];
  const seen = new Set<string>();
  const deadline = Date.now() + options.waitMs;
  try {
    for (let round = 0; round < 100 && Date.now() < deadline; round++) {
      const [answer] = await client.pull(
        { subscription: hold, maxMessages: 100 },
        { timeout: Math.max(MIN_PULL_TIMEOUT_MS, deadline - Date.now()) },
      );
      const received = answer.receivedMessages ?? [];
      const handBack: string[] = [];
      let fresh = 0;
      for (const r of received) {
        const message = r.message!;
        const attributes = (message.attributes ?? {}) as Record<string, string>;
        const messageId = attributes.CloudPubSubDeadLetterSourceMessageId ?? message.messageId ?? '';
        const data = Buffer.from(message.data ?? '');
        if (seen.has(messageId)) {
          handBack.push(r.ackId!);
          continue;
        }
        seen.add(messageId);
        fresh += 1;
        const body = parse(data);
        const jobId = typeof body?.jobId === 'string' ? body.jobId : attributes.jobId;
        const taken = results.filter((x) => x.outcome !== 'skipped').length;
        const named = jobId ? { jobId } : {};
        if ((options.jobId && jobId !== options.jobId) || taken >= options.limit || options.dryRun) {
          const outcome = options.dryRun && !(options.jobId && jobId !== options.jobId) && taken < options.limit;
          results.push({ messageId, ...named, outcome: outcome ? 'would_replay' : 'skipped' });
          handBack.push(r.ackId!);
          continue;
        }
        const job = jobId ? await reopen(options.jobs, jobId, spec.topic, messageId, options) : undefined;
        const original = Object.fromEntries(
          Object.entries(attributes).filter(([k]) => !k.startsWith('CloudPubSubDeadLetter')),
        );
        // Publish before ack: a crash here leaves the letter on hold, and every handler is idempotent.
        await options.pubsub.topic(spec.topic).publishMessage({ data, attributes: original });
        await client.acknowledge({ subscription: hold, ackIds: [r.ackId!] });
        // The letter is redriven whatever happens to this note: a failed write must not stop the
        // batch and hide from the operator what was already replayed.
        const marked = await options.ledger?.markDeadLetterReplayed(spec.name, messageId, options.operator).then(
          () => true,
          () => false,
        );
        results.push({
          messageId,
          ...named,
          outcome: 'replayed',
          ...(job ? { job } : {}),
          ...(marked === false ? { note: 'replayed, but the dead-letter record could not be marked' } : {}),
        });
      }
      if (handBack.length)
        await client.modifyAckDeadline({ subscription: hold, ackIds: handBack, ackDeadlineSeconds: 0 });
      if (fresh === 0) break;
    }
  } finally {
    await client.close();
  }
  return results;
}

async function reopen(
  jobs: JobStore,
  jobId: string,
  topic: TopicName,
  messageId: string,
  options: { operator: string; subscription: string },
): Promise<ReplayedLetter['job']> {
  const job = await jobs.getJob(jobId);
  if (!job) return undefined;
  const to = resumeStateFor(topic);
  if (!to) return { unchanged: job.status, why: 'this topic does not change the job' };
  // Failed by the letter itself, or by the sweeper the letter was left to (a dead-lettered
  // assembly or approval is superseded, and its job fails with deadline_exceeded after the last
  // nudge): either way this letter is what brings it back.
  const byLetter =
    job.error?.reason === 'dead_lettered' ||
    (job.error?.reason === 'deadline_exceeded' &&
      (await jobs.listEvents(jobId)).some((e) => e.id === `dead-letter-superseded-${messageId}`));
  if (job.status !== 'FAILED' || !byLetter) {
    return { unchanged: job.status, why: 'the job was not failed by a dead letter' };
  }
  const moved = await jobs.transition(jobId, 'FAILED', to, {
    patch: { error: undefined },
    event: {
      type: 'job.replayed',
      data: { subscription: options.subscription, messageId, operator: options.operator },
    },
  });
  return moved.changed ? { from: 'FAILED', to } : { unchanged: moved.value?.status ?? job.status, why: moved.why };
}

function parse(data: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
