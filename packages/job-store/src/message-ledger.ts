import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { FieldError } from '@aiprod/contracts';
import type { JobStore } from './job-store';

const docId = (subscription: string, messageId: string) => `${subscription}:${messageId}`.replace(/\//g, '_');

/**
 * What the consumers could not deliver: malformed messages (with the reason, on every attempt)
 * and dead letters. Nothing is dropped silently; the job, when the message names one, carries
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

  async listDeadLetters(limit = 100): Promise<Record<string, unknown>[]> {
    const snap = await this.db.collection('deadLetters').orderBy('at', 'desc').limit(limit).get();
    return snap.docs.map((d) => ({ id: d.id, ...d.data() }));
  }

  async getRejected(subscription: string, messageId: string): Promise<Record<string, unknown> | null> {
    const snap = await this.db.collection('rejectedMessages').doc(docId(subscription, messageId)).get();
    return snap.exists ? (snap.data() ?? null) : null;
  }
}
