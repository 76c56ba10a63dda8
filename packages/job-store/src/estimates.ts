import { createHash } from 'node:crypto';
import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { BackendName, Brief } from '@aiprod/contracts';
import { canonicalJson } from './canonical-json';
import { briefDigest } from './erasure';

/** An estimate is asked for, waited on and read back within minutes; a day is plenty. */
const ESTIMATE_TTL_MS = 24 * 3600_000;
/** A director's plan is reused for the job made from the same brief within a day. */
const DIRECTOR_CACHE_TTL_MS = 24 * 3600_000;

export type EstimateStatus = 'PENDING' | 'READY' | 'FAILED';

/**
 * estimates/{estimateId}: written by the gateway (PENDING), answered by the planner (READY with
 * the estimate, or FAILED with the reason). The estimate itself is kept as the planner made it
 * (the API's estimate body), so the gateway answers it without knowing how it was computed.
 */
export interface EstimateRecord {
  estimateId: string;
  tenantId: string;
  brief: Brief;
  /** The preset the job made from this brief would get (the gateway decides it, as for a job). */
  preset: string;
  status: EstimateStatus;
  estimate?: Record<string, unknown>;
  reason?: string;
  createdAt: Timestamp;
  answeredAt?: Timestamp;
  /** Checked on read (the emulator has no TTL); a Firestore TTL policy on this field deletes old records in the cloud. */
  expiresAt: Timestamp;
}

export class EstimateStore {
  constructor(private readonly db: Firestore) {}

  private ref(estimateId: string) {
    return this.db.collection('estimates').doc(estimateId);
  }

  /**
   * Stores a PENDING estimate; a repeat with the same id (an Idempotency-Key retry) keeps the first
   * record, whatever state it reached. Returns the stored record.
   */
  async createOnce(
    input: { estimateId: string; tenantId: string; brief: Brief; preset: string },
    now = new Date(),
  ): Promise<EstimateRecord> {
    const record: EstimateRecord = {
      ...input,
      status: 'PENDING',
      createdAt: Timestamp.fromDate(now),
      expiresAt: Timestamp.fromMillis(now.getTime() + ESTIMATE_TTL_MS),
    };
    try {
      await this.ref(input.estimateId).create(record);
      return record;
    } catch (e) {
      if ((e as { code?: number }).code !== 6) throw e; // ALREADY_EXISTS
      const existing = await this.get(input.estimateId, now);
      if (!existing) throw e;
      return existing;
    }
  }

  /** The record, or null when there is none or it has expired. */
  async get(estimateId: string, now = new Date()): Promise<EstimateRecord | null> {
    const snap = await this.ref(estimateId).get();
    if (!snap.exists) return null;
    const record = snap.data() as EstimateRecord;
    return record.expiresAt.toMillis() > now.getTime() ? record : null;
  }

  /**
   * PENDING → READY or FAILED, once: a redelivered request finds the estimate answered and
   * changes nothing (the first answer is the one the client may already have read).
   */
  async answer(
    estimateId: string,
    outcome: { status: 'READY'; estimate: Record<string, unknown> } | { status: 'FAILED'; reason: string },
  ): Promise<boolean> {
    return this.db.runTransaction(async (tx) => {
      const ref = this.ref(estimateId);
      const snap = await tx.get(ref);
      if (!snap.exists || (snap.data() as EstimateRecord).status !== 'PENDING') return false;
      tx.update(ref, { ...outcome, answeredAt: Timestamp.now() });
      return true;
    });
  }

  /**
   * Deletes a record that is still PENDING (its request was never published, and its client is
   * told to ask again); one already answered is kept and false returned. Deleted rather than
   * failed so that a retry with the same Idempotency-Key, which names the same id, starts afresh.
   */
  async withdraw(estimateId: string): Promise<boolean> {
    return this.db.runTransaction(async (tx) => {
      const ref = this.ref(estimateId);
      const snap = await tx.get(ref);
      if (!snap.exists || (snap.data() as EstimateRecord).status !== 'PENDING') return false;
      tx.delete(ref);
      return true;
    });
  }
}

/** What a director's plan is keyed by: everything that decides what the director is asked. */
export interface DirectorCacheKeyInput {
  tenantId: string;
  brief: Brief;
  /** The director's name, which carries its model (`gemini:gemini-2.5-flash`). */
  director: string;
  enabledBackends: readonly BackendName[];
  /**
   * The configured model per backend (BACKEND_MODELS): a plan is shaped for its backend's model's
   * lengths. Left out of the key when none is configured, so keys made before it stay valid.
   */
  models?: Partial<Record<BackendName, string>>;
}

export function directorCacheKey(input: DirectorCacheKeyInput): string {
  const canonical = canonicalJson({
    tenantId: input.tenantId,
    brief: input.brief,
    director: input.director,
    enabledBackends: [...new Set(input.enabledBackends)].sort(),
    ...(input.models && Object.keys(input.models).length ? { models: input.models } : {}),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

interface DirectorCacheEntry {
  tenantId: string;
  /** briefDigest(tenantId, brief): how erasing a job finds the plans made from its brief. */
  briefDigest?: string;
  director: string;
  plan: unknown;
  createdAt: Timestamp;
  /** Checked on read; a Firestore TTL policy on this field deletes old entries in the cloud. */
  expiresAt: Timestamp;
}

/**
 * directorPlans/{directorCacheKey}: the plan a director made for a brief, so the job made from an
 * estimated brief gets the plan its estimate priced, even from a director that answers differently
 * each time (docs/decisions/2026-12-estimates-through-the-planner.md). Scoped per tenant by the key.
 */
export class DirectorPlanCache {
  private readonly ttlMs: number;

  constructor(
    private readonly db: Firestore,
    options: { ttlMs?: number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? DIRECTOR_CACHE_TTL_MS;
  }

  async lookup<P>(key: string, now = new Date()): Promise<P | null> {
    const snap = await this.db.collection('directorPlans').doc(key).get();
    if (!snap.exists) return null;
    const entry = snap.data() as DirectorCacheEntry;
    return entry.expiresAt.toMillis() > now.getTime() ? (entry.plan as P) : null;
  }

  /** Last writer wins: two plans made at once for the same brief are both valid answers. */
  async store(
    key: string,
    entry: { tenantId: string; director: string; plan: unknown; brief?: Brief },
    now = new Date(),
  ) {
    // Firestore refuses undefined values; the plan is JSON data, so a JSON round trip drops them.
    const plan = JSON.parse(JSON.stringify(entry.plan)) as unknown;
    const { brief, ...rest } = entry;
    const doc: DirectorCacheEntry = {
      ...rest,
      ...(brief ? { briefDigest: briefDigest(entry.tenantId, brief) } : {}),
      plan,
      createdAt: Timestamp.fromDate(now),
      expiresAt: Timestamp.fromMillis(now.getTime() + this.ttlMs),
    };
    await this.db.collection('directorPlans').doc(key).set(doc);
  }
}
