import { createHash } from 'node:crypto';
import { FieldValue, Timestamp, type Firestore, type WriteBatch } from '@google-cloud/firestore';

/** A repeated request with the same Idempotency-Key within a day replays the first answer. */
const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** How long a request in progress holds its key; a crashed holder's lock lapses after this. */
const IDEMPOTENCY_LOCK_MS = 60_000;

/** The response a first request produced, kept to be replayed to its retries. */
export interface StoredResponse {
  status: number;
  body: string;
  /** Lower-case names; only the headers a replay needs (content-type, location). */
  headers: Record<string, string>;
}

export interface IdempotencyRecord {
  tenantId: string;
  key: string;
  requestHash: string;
  state: 'in_flight' | 'completed';
  /** While in flight: after this instant the request is taken for dead (a crashed instance) and a retry may run. */
  lockedUntil: Timestamp | null;
  createdAt: Timestamp;
  /** Checked on read (the emulator has no TTL); a Firestore TTL policy on this field deletes old records in the cloud. */
  expiresAt: Timestamp;
  response?: StoredResponse;
}

/** What to do with a request carrying an Idempotency-Key. `lease` identifies this attempt's claim. */
export type IdempotencyBegin =
  /** `takeover`: an earlier attempt held the key and died or timed out; it may have made its work. */
  | { kind: 'started'; lease: Timestamp; takeover: boolean }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'mismatch' }
  | { kind: 'in_flight'; retryAfterSeconds: number };

/**
 * A claimed key's answer, to be written in the same commit as what the request creates (see
 * JobStore.createJobOnce): one round trip instead of the create's and complete()'s.
 */
export interface IdempotencyCompletion {
  tenantId: string;
  key: string;
  /** The claim's lease (IdempotencyBegin 'started'): the write fails if another attempt took the key over. */
  lease: Timestamp;
  response: StoredResponse;
  jobId?: string;
}

/** `idempotency/{tenantId}:{sha256(key)}` (see IdempotencyStore). */
const idempotencyRef = (db: Firestore, tenantId: string, key: string) =>
  db.collection('idempotency').doc(`${tenantId}:${createHash('sha256').update(key).digest('hex')}`);

const completedRecord = (response: StoredResponse, jobId?: string) => ({
  state: 'completed' as const,
  lockedUntil: null,
  response,
  ...(jobId ? { jobId } : {}),
});

/**
 * Adds complete()'s write to `batch`, conditioned like it on the claim's lease: if another attempt
 * took the key over, the whole commit fails (FAILED_PRECONDITION, or NOT_FOUND if the record is
 * gone) and nothing of it is written.
 */
export function addIdempotencyCompletion(db: Firestore, batch: WriteBatch, completion: IdempotencyCompletion): void {
  batch.update(
    idempotencyRef(db, completion.tenantId, completion.key),
    completedRecord(completion.response, completion.jobId),
    { lastUpdateTime: completion.lease },
  );
}

const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const NOT_FOUND = 5;
const codeOf = (e: unknown) => (e as { code?: number }).code;

/**
 * `idempotency/{tenantId}:{sha256(key)}`: the key is hashed into the id because a client's key
 * may hold characters a document id cannot (`/`), and the tenant in the id keeps tenants apart.
 * A first request claims the key with a `create` (one write, no transaction); later writes on
 * the record are conditioned on the claim's update time, so an attempt that lost its claim
 * (its lock expired and a retry took over) cannot overwrite the winner.
 */
export class IdempotencyStore {
  private readonly ttlMs: number;
  private readonly lockMs: number;

  constructor(
    private readonly db: Firestore,
    options: { ttlMs?: number; lockMs?: number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? IDEMPOTENCY_TTL_MS;
    this.lockMs = options.lockMs ?? IDEMPOTENCY_LOCK_MS;
  }

  private ref(tenantId: string, key: string) {
    return idempotencyRef(this.db, tenantId, key);
  }

  async begin(tenantId: string, key: string, requestHash: string, now: Date = new Date()): Promise<IdempotencyBegin> {
    const ref = this.ref(tenantId, key);
    const claim: IdempotencyRecord = {
      tenantId,
      key,
      requestHash,
      state: 'in_flight',
      lockedUntil: Timestamp.fromMillis(now.getTime() + this.lockMs),
      createdAt: Timestamp.fromDate(now),
      expiresAt: Timestamp.fromMillis(now.getTime() + this.ttlMs),
    };
    try {
      const written = await ref.create(claim);
      return { kind: 'started', lease: written.writeTime, takeover: false };
    } catch (e) {
      if (codeOf(e) !== ALREADY_EXISTS) throw e;
    }
    const snap = await ref.get();
    const record = snap.data() as IdempotencyRecord | undefined;
    const stale =
      !record ||
      record.expiresAt.toMillis() <= now.getTime() ||
      (record.state === 'in_flight' && (record.lockedUntil?.toMillis() ?? 0) <= now.getTime());
    if (stale) {
      // An expired record, or a first attempt that died holding the key: this request takes it over.
      try {
        const written = record
          ? await ref.update({ ...claim, response: FieldValue.delete() }, { lastUpdateTime: snap.updateTime! })
          : await ref.create(claim);
        return { kind: 'started', lease: written.writeTime, takeover: true };
      } catch (e) {
        const code = codeOf(e);
        if (code !== FAILED_PRECONDITION && code !== ALREADY_EXISTS && code !== NOT_FOUND) throw e;
        return { kind: 'in_flight', retryAfterSeconds: 1 };
      }
    }
    if (record.requestHash !== requestHash) return { kind: 'mismatch' };
    if (record.state === 'completed' && record.response) return { kind: 'replay', response: record.response };
    const waitMs = (record.lockedUntil?.toMillis() ?? now.getTime()) - now.getTime();
    return { kind: 'in_flight', retryAfterSeconds: Math.max(1, Math.min(5, Math.ceil(waitMs / 1000))) };
  }

  /** Stores the response of the attempt holding `lease`; false when that attempt no longer holds the key. */
  /**
   * `jobId`: the job the answer is about, when there is one, so erasing that job finds the records
   * that would replay it (an indexed query, not a scan of the tenant's records).
   */
  async complete(
    tenantId: string,
    key: string,
    lease: Timestamp,
    response: StoredResponse,
    jobId?: string,
  ): Promise<boolean> {
    try {
      await this.ref(tenantId, key).update(completedRecord(response, jobId), { lastUpdateTime: lease });
      return true;
    } catch (e) {
      if (codeOf(e) === FAILED_PRECONDITION || codeOf(e) === NOT_FOUND) return false;
      throw e;
    }
  }

  /** Frees the key (the first attempt failed in a way a retry may fix); false when the attempt no longer holds it. */
  async release(tenantId: string, key: string, lease: Timestamp): Promise<boolean> {
    try {
      await this.ref(tenantId, key).delete({ lastUpdateTime: lease });
      return true;
    } catch (e) {
      if (codeOf(e) === FAILED_PRECONDITION || codeOf(e) === NOT_FOUND) return false;
      throw e;
    }
  }
}
