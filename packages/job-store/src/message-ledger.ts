import { FieldValue, Timestamp, type Firestore } from '@google-cloud/firestore';
import type { FieldError } from '@aiprod/contracts';
import type { JobStore } from './job-store';

const docId = (subscription: string, messageId: string) => `${subscription}:${messageId}`.replace(/\//g, '_');
const safeId = (id: string) => id.replace(/\//g, '_');

/**
 * How long a handled-message record is kept after the message's publish time: the work
 * subscriptions' retention of acked messages (Terraform's work_message_retention, 7 days;
 * WORK_MESSAGE_RETENTION_SECONDS in @aiprod/pubsub). Past it a seek can no longer redeliver the
 * message, so `ops replay` has nothing to count it for; a TTL policy on `expiresAt`
 * (terraform/modules/firestore) deletes the record.
 */
export const HANDLED_RECORD_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** How a subscription's message left the consumer: handled (acked), or failed for good (acked too). */
export type HandledOutcome = 'handled' | 'failed_permanently';

/** One message a subscription acked after its handler ran: what `ops replay` counts. */
export interface HandledMessage {
  subscription: string;
  topic: string;
  messageId: string;
  jobId?: string;
  publishTime: Timestamp;
  firstHandledAt: Timestamp;
  lastHandledAt: Timestamp;
  /** How many deliveries of it were handled (a redelivery after a seek adds one). */
  deliveriesHandled: number;
  outcome: HandledOutcome;
  /** publishTime + HANDLED_RECORD_RETENTION_MS: Firestore's TTL deletes the record after it. */
  expiresAt: Timestamp;
}

/** A snapshot made through `aiprod ops snapshot create`: when, so a seek to it can be counted. */
export interface SnapshotRecord {
  name: string;
  subscription: string;
  createdAt: Timestamp;
  operator: string;
}

/**
 * What the consumers did with messages: the ones they handled (per subscription, with publish
 * and handling times, for the operators' replay by seek), malformed ones (with the reason, on every
 * attempt) and dead letters; and the snapshots operators took. Nothing is dropped silently; the job, when the message names one, carries
 * the reason too (for dead letters, through the caller: see recordDeadLetter).
 */
export class MessageLedger {
  constructor(
    private readonly db: Firestore,
    private readonly jobs: JobStore,
  ) {}

  async recordInvalid(info: {
    topic: string;
    subscription: string;
    messageId: string;
    deliveryAttempt: number;
    jobId?: string;
    problem: string;
    errors: FieldError[];
  }): Promise<void> {
    await this.db
      .collection('rejectedMessages')
      .doc(docId(info.subscription, info.messageId))
      .set({ ...info, lastSeenAt: Timestamp.now() });
    if (info.jobId && (await this.jobs.getJob(info.jobId))) {
      await this.jobs.appendEvent(info.jobId, {
        key: `rejected-${info.subscription}-${info.messageId}`,
        type: 'message.rejected',
        data: { topic: info.topic, problem: info.problem.slice(0, 1000) },
      });
    }
  }

  /**
   * Keeps a dead letter on record for operators (idempotent: the same letter twice is one record).
   * Failing the job it names is the caller's part, through the same path as any other failure,
   * so that the client hears of it (service-runtime's recordDeadLetter).
   */
  async recordDeadLetter(letter: {
    subscription: string;
    topic: string;
    messageId: string;
    jobId?: string;
    data: string;
  }): Promise<void> {
    await this.db
      .collection('deadLetters')
      .doc(docId(letter.subscription, letter.messageId))
      .set({ ...letter, at: Timestamp.now(), replayed: false });
  }

  /**
   * Dead letters, newest first. Of one subscription: an equality query sorted here, so it needs
   * no composite index (an operator's list is short).
   */
  async listDeadLetters(limit = 100, options: { subscription?: string } = {}): Promise<Record<string, unknown>[]> {
    const collection = this.db.collection('deadLetters');
    const snap = options.subscription
      ? await collection.where('subscription', '==', options.subscription).limit(1000).get()
      : await collection.orderBy('at', 'desc').limit(limit).get();
    const rows = snap.docs.map((d) => ({ id: d.id, ...d.data() }) as Record<string, unknown> & { at?: Timestamp });
    rows.sort((a, b) => (b.at?.toMillis() ?? 0) - (a.at?.toMillis() ?? 0));
    return rows.slice(0, limit);
  }

  /** One dead letter by its ledger id (`<subscription>:<messageId>`). */
  async getDeadLetter(id: string): Promise<Record<string, unknown> | null> {
    const snap = await this.db.collection('deadLetters').doc(safeId(id)).get();
    return snap.exists ? { id: snap.id, ...snap.data() } : null;
  }

  /** An operator published the letter again (aiprod ops dlq redrive). */
  async markDeadLetterReplayed(subscription: string, messageId: string, operator: string): Promise<void> {
    await this.db
      .collection('deadLetters')
      .doc(docId(subscription, messageId))
      .set({ replayed: true, replayedAt: Timestamp.now(), replayedBy: operator }, { merge: true });
  }

  /**
   * Notes that a subscription acked a message after handling it. Kept per subscription
   * (handledMessages/{subscription}/handled/{messageId}), so "what did this subscription handle
   * since T" is a single-field range query. A redelivery counts another delivery on the same record
   * (and leaves its expiry: the message's publish time does not change).
   */
  async recordHandled(info: {
    subscription: string;
    topic: string;
    messageId: string;
    jobId?: string;
    publishTime: Date;
    outcome: HandledOutcome;
  }): Promise<void> {
    const now = Timestamp.now();
    const ref = this.handledRef(info.subscription).doc(safeId(info.messageId));
    try {
      await ref.create({
        subscription: info.subscription,
        topic: info.topic,
        messageId: info.messageId,
        ...(info.jobId ? { jobId: info.jobId } : {}),
        publishTime: Timestamp.fromDate(info.publishTime),
        firstHandledAt: now,
        lastHandledAt: now,
        deliveriesHandled: 1,
        outcome: info.outcome,
        expiresAt: Timestamp.fromMillis(info.publishTime.getTime() + HANDLED_RECORD_RETENTION_MS),
      });
    } catch (e) {
      if ((e as { code?: number }).code !== 6 /* ALREADY_EXISTS: a redelivery */) throw e;
      await ref.update({ lastHandledAt: now, outcome: info.outcome, deliveriesHandled: FieldValue.increment(1) });
    }
  }

  /**
   * What a subscription handled, selected by publish time (a seek to a time redelivers what was
   * published from then on) or by first handling time (a seek to a snapshot redelivers what was
   * first acked after the snapshot was taken). Bounded by `limit`; `truncated` says when more matched.
   */
  async listHandled(
    subscription: string,
    since: { publishedFrom: Date } | { handledFrom: Date },
    limit = 10_000,
  ): Promise<{ messages: HandledMessage[]; truncated: boolean }> {
    const [field, from] =
      'publishedFrom' in since ? ['publishTime', since.publishedFrom] : ['firstHandledAt', since.handledFrom];
    const snap = await this.handledRef(subscription)
      .where(field, '>=', Timestamp.fromDate(from))
      .orderBy(field)
      .limit(limit + 1)
      .get();
    const messages = snap.docs.slice(0, limit).map((d) => d.data() as HandledMessage);
    return { messages, truncated: snap.docs.length > limit };
  }

  /** `createdAt` is taken just before the snapshot is made, so nothing acked after it is missed. */
  async recordSnapshot(record: SnapshotRecord): Promise<void> {
    await this.db.collection('opsSnapshots').doc(safeId(record.name)).set(record);
  }

  async getSnapshotRecord(name: string): Promise<SnapshotRecord | null> {
    const snap = await this.db.collection('opsSnapshots').doc(safeId(name)).get();
    return snap.exists ? (snap.data() as SnapshotRecord) : null;
  }

  async deleteSnapshotRecord(name: string): Promise<void> {
    await this.db.collection('opsSnapshots').doc(safeId(name)).delete();
  }

  private handledRef(subscription: string) {
    return this.db.collection('handledMessages').doc(safeId(subscription)).collection('handled');
  }

  async getRejected(subscription: string, messageId: string): Promise<Record<string, unknown> | null> {
    const snap = await this.db.collection('rejectedMessages').doc(docId(subscription, messageId)).get();
    return snap.exists ? (snap.data() ?? null) : null;
  }
}
