import { Timestamp, type Firestore } from '@google-cloud/firestore';
import { tracedTransaction } from './firestore';

export interface TenantWebhook {
  url: string;
  /** Secrets that sign every delivery; two during a rotation's overlap, newest first. */
  secrets: string[];
  /** When the older secret stops signing (end of a rotation's overlap). */
  previousSecretExpiresAt: Timestamp | null;
  disabledAt: Timestamp | null;
  disabledReason: string | null;
  updatedAt: Timestamp;
}

export interface WebhookAttempt {
  attempt: number;
  at: Timestamp;
  status: number;
  outcome: 'delivered' | 'retry' | 'disable' | 'give_up';
  durationMs: number;
  error?: string;
}

export interface WebhookDelivery {
  /** Deterministic (one per job outcome): a repeated notification never gets a second id. */
  webhookId: string;
  tenantId: string;
  jobId: string;
  eventType: string;
  /** The exact bytes every attempt sends, fixed when the delivery is created. */
  body: string;
  state: 'pending' | 'delivered' | 'failed' | 'disabled';
  attempts: WebhookAttempt[];
  nextAttemptAt: Timestamp | null;
  createdAt: Timestamp;
}

/** Tenants' webhook endpoints and the deliveries made to them, with every attempt recorded. */
export class WebhookStore {
  constructor(private readonly db: Firestore) {}

  private deliveries() {
    return this.db.collection('webhookDeliveries');
  }

  async setEndpoint(tenantId: string, url: string, secret: string): Promise<void> {
    const webhook: TenantWebhook = {
      url,
      secrets: [secret],
      previousSecretExpiresAt: null,
      disabledAt: null,
      disabledReason: null,
      updatedAt: Timestamp.now(),
    };
    await this.db.collection('tenants').doc(tenantId).set({ webhook }, { merge: true });
  }

  /** Adds a new secret; the old one keeps signing until `overlapSeconds` have passed. */
  async rotateSecret(tenantId: string, secret: string, overlapSeconds: number): Promise<void> {
    await tracedTransaction(this.db, 'rotateWebhookSecret', async (tx) => {
      const ref = this.db.collection('tenants').doc(tenantId);
      const current = (await tx.get(ref)).get('webhook') as TenantWebhook | undefined;
      if (!current) throw new Error(`tenant ${tenantId} has no webhook endpoint`);
      tx.update(ref, {
        'webhook.secrets': [secret, current.secrets[0]!],
        'webhook.previousSecretExpiresAt': Timestamp.fromMillis(Date.now() + overlapSeconds * 1000),
        'webhook.updatedAt': Timestamp.now(),
      });
    });
  }

  async getEndpoint(tenantId: string): Promise<TenantWebhook | null> {
    const snap = await this.db.collection('tenants').doc(tenantId).get();
    return (snap.get('webhook') as TenantWebhook | undefined) ?? null;
  }

  /** The secrets that sign right now: the older one drops out when its overlap ends. */
  static signingSecrets(webhook: TenantWebhook, now = Timestamp.now()): string[] {
    const expired = webhook.previousSecretExpiresAt && webhook.previousSecretExpiresAt.toMillis() <= now.toMillis();
    return expired ? webhook.secrets.slice(0, 1) : webhook.secrets;
  }

  async disableEndpoint(tenantId: string, reason: string): Promise<void> {
    await this.db
      .collection('tenants')
      .doc(tenantId)
      .update({ 'webhook.disabledAt': Timestamp.now(), 'webhook.disabledReason': reason });
  }

  /** Creates the delivery unless it exists already; returns the stored one either way. */
  /**
   * Records the delivery once. With `leaseSeconds`, a delivery this call creates comes back already
   * claimed by its creator for the first attempt (`claimed: true`): the dispatcher, which claims
   * whatever is due, then has nothing to race it for. Two claims of one document at once can stall
   * each other for seconds on the emulator (measured: up to ~3 s idle, more under load). A creator
   * that dies before sending leaves the delivery to the dispatcher once the lease ends.
   */
  async createDelivery(
    input: Pick<WebhookDelivery, 'webhookId' | 'tenantId' | 'jobId' | 'eventType' | 'body'>,
    options: { leaseSeconds?: number } = {},
  ): Promise<{ delivery: WebhookDelivery; claimed: boolean }> {
    const ref = this.deliveries().doc(input.webhookId);
    return tracedTransaction(this.db, 'createWebhookDelivery', async (tx) => {
      const snap = await tx.get(ref);
      if (snap.exists) return { delivery: snap.data() as WebhookDelivery, claimed: false };
      const now = Timestamp.now();
      const lease = options.leaseSeconds;
      const delivery: WebhookDelivery = {
        ...input,
        state: 'pending',
        attempts: [],
        nextAttemptAt: lease ? Timestamp.fromMillis(now.toMillis() + lease * 1000) : now,
        createdAt: now,
      };
      tx.create(ref, delivery);
      return { delivery, claimed: lease !== undefined && lease > 0 };
    });
  }

  async getDelivery(webhookId: string): Promise<WebhookDelivery | null> {
    const snap = await this.deliveries().doc(webhookId).get();
    return snap.exists ? (snap.data() as WebhookDelivery) : null;
  }

  async dueDeliveries(now: Timestamp, limit = 50): Promise<WebhookDelivery[]> {
    const snap = await this.deliveries().where('nextAttemptAt', '<=', now).orderBy('nextAttemptAt').limit(limit).get();
    return snap.docs.map((d) => d.data() as WebhookDelivery).filter((d) => d.state === 'pending');
  }

  /** Takes a due delivery for one attempt (a lease): only one sender gets it. */
  async claim(webhookId: string, now: Timestamp, leaseSeconds: number): Promise<WebhookDelivery | null> {
    const ref = this.deliveries().doc(webhookId);
    return tracedTransaction(this.db, 'claimWebhookDelivery', async (tx) => {
      const snap = await tx.get(ref);
      const d = snap.data() as WebhookDelivery | undefined;
      if (!d || d.state !== 'pending' || !d.nextAttemptAt || d.nextAttemptAt.toMillis() > now.toMillis()) return null;
      tx.update(ref, { nextAttemptAt: Timestamp.fromMillis(now.toMillis() + leaseSeconds * 1000) });
      return d;
    });
  }

  async recordAttempt(
    webhookId: string,
    attempt: WebhookAttempt,
    next: { state: WebhookDelivery['state']; nextAttemptAt: Timestamp | null },
  ): Promise<void> {
    await tracedTransaction(this.db, 'recordWebhookAttempt', async (tx) => {
      const ref = this.deliveries().doc(webhookId);
      const d = (await tx.get(ref)).data() as WebhookDelivery;
      tx.update(ref, { attempts: [...d.attempts, attempt], state: next.state, nextAttemptAt: next.nextAttemptAt });
    });
  }
}
