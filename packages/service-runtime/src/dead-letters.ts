import type { TopicName } from '@aiprod/contracts';
import { EstimateStore, type JobStore, type MessageLedger } from '@aiprod/job-store';
import type { TopicPublisher } from '@aiprod/pubsub';
import { failJob } from './fail-job';

/** The step a topic's message drives, as the client knows it (no subscription or resource names). */
function stepOf(topic: string): string {
  if (topic.startsWith('aiprod.render.')) return 'rendering';
  const steps: Record<string, string> = {
    'aiprod.job.requested.v1': 'planning',
    'aiprod.job.approved.v1': 'starting the approved render',
    'aiprod.plan.changes.requested.v1': 'revising the plan',
    'aiprod.shot.rendered.v1': 'quality checks',
    'aiprod.job.assemble.v1': 'assembly',
  };
  return steps[topic] ?? 'processing';
}

export interface DeadLetterInfo {
  subscription: string;
  topic: TopicName;
  messageId: string;
  jobId?: string;
  data: string;
}

/**
 * A dead letter: kept on record for operators, and the job it names fails with `dead_lettered`
 * through failJob, like any other failure, so job.finished is published and the client's webhook
 * and event stream hear of it. A second copy of the letter finds the job FAILED already and only
 * publishes job.finished again, which consumers dedupe (the first copy may have died between the
 * write and the publish).
 *
 * A dead-lettered job.finished is the exception: that message is the announcement itself, and
 * publishing it again on its own dead letter could loop for as long as the notifier is broken.
 * It is recorded only; an operator replays it.
 *
 * A dead-lettered estimate request names an estimate, not a job (its envelope's jobId is `est_…`):
 * the estimate is answered FAILED, so its client stops polling a PENDING record nobody will answer.
 */
export async function recordDeadLetter(
  deps: {
    jobs: JobStore;
    ledger: MessageLedger;
    publisher: TopicPublisher<'aiprod.job.finished.v1'>;
    /** Default: on the job store's database, where the gateway writes them. */
    estimates?: EstimateStore;
  },
  letter: DeadLetterInfo,
  /** Says why the letter no longer matters (its step was done by another message), or null. */
  superseded?: (letter: DeadLetterInfo) => Promise<string | null>,
): Promise<void> {
  await deps.ledger.recordDeadLetter(letter);
  if (!letter.jobId || letter.topic === 'aiprod.job.finished.v1') return;
  if (letter.topic === 'aiprod.estimate.requested.v1') {
    // Compare-and-set from PENDING: an estimate answered before its message died keeps its answer.
    await (deps.estimates ?? new EstimateStore(deps.jobs.db)).answer(letter.jobId, {
      status: 'FAILED',
      reason: `the brief could not be planned: its request (${letter.messageId}) was not handled after every delivery attempt; ask for the estimate again`,
    });
    return;
  }
  // The tenant comes from the job, not from the letter: the letter's body may be what was wrong.
  const job = await deps.jobs.getJob(letter.jobId);
  if (!job) return;
  const moot = await superseded?.(letter);
  if (moot) {
    // E.g. a killed render worker's message, burnt on its dead stream while another message
    // resumed the same shot: failing the job would throw away work that is going fine.
    await deps.jobs.appendEvent(letter.jobId, {
      key: `dead-letter-superseded-${letter.messageId}`,
      type: 'message.superseded',
      data: { step: stepOf(letter.topic), why: moot },
    });
    return;
  }
  await failJob(
    deps,
    job,
    'dead_lettered',
    `${stepOf(letter.topic)} could not be completed: its message (${letter.messageId}) was not handled after every delivery attempt`,
  );
}
