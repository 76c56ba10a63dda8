import { createHash, randomBytes } from 'node:crypto';
import { Timestamp, type Firestore } from '@google-cloud/firestore';
import { tracedTransaction } from './firestore';
import { retentionProblem, type TenantRetention } from './retention';

/**
 * `jobs:approve` is apart from `jobs:write` so that a key that submits jobs (a CI pipeline) cannot
 * approve its own spend over the auto-approve limit; `admin` implies every other scope.
 */
export const API_KEY_SCOPES = ['jobs:read', 'jobs:write', 'jobs:approve', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
export const isApiKeyScope = (s: string): s is ApiKeyScope => (API_KEY_SCOPES as readonly string[]).includes(s);

export interface Tenant {
  tenantId: string;
  name: string;
  createdAt: Timestamp;
  autoApproveLimitUsd: number;
  maxConcurrentJobs: number;
  /** A disabled tenant's keys and tokens are refused (401) until it is enabled again. */
  disabled?: boolean;
  /** Per-tenant overrides of the gateway's defaults; absent means "use the default". */
  requestsPerMinute?: number;
  maxJobsPerDay?: number;
  /** Estimates per UTC day: each costs a director call (Gemini in production). */
  maxEstimatesPerDay?: number;
  monthlySpendCapUsd?: number;
  /** How long the tenant's job files and records are kept (see effectiveRetention); absent: the defaults. */
  retention?: TenantRetention;
}

export interface ApiKeyRecord {
  tenantId: string;
  /** `aiprod_<env>_` and the first 8 random characters: enough to name a key, useless to use it. */
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: Timestamp;
  revokedAt: Timestamp | null;
  /** After this instant the key stops working (optional expiry, or the end of a rotation's overlap). */
  expiresAt?: Timestamp | null;
  /** Approximate: written at most once a minute per key (see touchApiKey). */
  lastUsedAt?: Timestamp | null;
  /** Set on the old key by a rotation: the prefix of the key that replaces it. */
  replacedBy?: string;
}

export type ApiKeyCheck =
  | { ok: true; record: ApiKeyRecord; keyHash: string }
  | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' };

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}

/** Six base62 characters of a SHA-256 over the random part: lets a scanner tell a real leaked key from noise offline. */
function checksum(body: string): string {
  return base62(createHash('sha256').update(body).digest().subarray(0, 6));
}

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** `aiprod_<env>_<32 random base62><6 checksum>`: recognisable prefix for secret scanners. */
export function generateApiKey(env: string): string {
  if (!/^[a-z]{2,10}$/.test(env)) throw new Error('API key environment must be 2-10 lowercase letters');
  // 62 does not divide 256 evenly; rejection sampling keeps the characters uniform.
  let body = '';
  while (body.length < 32) {
    for (const b of randomBytes(48)) if (b < 248 && body.length < 32) body += BASE62[b % 62];
  }
  return `aiprod_${env}_${body}${checksum(body)}`;
}

const KEY_PATTERN = /^aiprod_([a-z]{2,10})_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

/** Offline check (format and checksum): a mistyped or made-up token never costs a Firestore read. */
export function isWellFormedApiKey(key: string): boolean {
  const m = KEY_PATTERN.exec(key);
  return !!m && checksum(m[2]!) === m[3];
}

/** The public name of a key: its environment and first 8 random characters (47 of 190 bits). */
export function apiKeyPrefix(key: string): string {
  const m = KEY_PATTERN.exec(key);
  if (!m) throw new Error('not an API key');
  return `aiprod_${m[1]}_${m[2]!.slice(0, 8)}`;
}

export const isApiKeyPrefix = (s: string) => /^aiprod_[a-z]{2,10}_[0-9A-Za-z]{8}$/.test(s);

export class ApiKeyNotFoundError extends Error {
  override readonly name = 'ApiKeyNotFoundError';
}

export class TenantStore {
  private readonly tenantCache = new Map<string, { tenant: Tenant | null; at: number }>();

  constructor(private readonly db: Firestore) {}

  /** Creates or updates (merge) a tenant; with `failIfExists` an existing id is an error instead. */
  async createTenant(
    input: {
      tenantId: string;
      name: string;
      autoApproveLimitUsd?: number;
      maxConcurrentJobs?: number;
      requestsPerMinute?: number;
      maxJobsPerDay?: number;
      maxEstimatesPerDay?: number;
      monthlySpendCapUsd?: number;
    },
    options: { failIfExists?: boolean } = {},
  ): Promise<Tenant> {
    const tenant: Tenant = {
      tenantId: input.tenantId,
      name: input.name,
      createdAt: Timestamp.now(),
      autoApproveLimitUsd: input.autoApproveLimitUsd ?? 0,
      maxConcurrentJobs: input.maxConcurrentJobs ?? 20,
      ...(input.requestsPerMinute !== undefined ? { requestsPerMinute: input.requestsPerMinute } : {}),
      ...(input.maxJobsPerDay !== undefined ? { maxJobsPerDay: input.maxJobsPerDay } : {}),
      ...(input.maxEstimatesPerDay !== undefined ? { maxEstimatesPerDay: input.maxEstimatesPerDay } : {}),
      ...(input.monthlySpendCapUsd !== undefined ? { monthlySpendCapUsd: input.monthlySpendCapUsd } : {}),
    };
    const ref = this.db.collection('tenants').doc(input.tenantId);
    if (options.failIfExists) await ref.create(tenant);
    else await ref.set(tenant, { merge: true });
    this.tenantCache.delete(input.tenantId);
    return tenant;
  }

  /**
   * The tenant document. With `maxAgeMs` a copy read by this process at most that long ago may be
   * returned: the gateway reads a tenant on every request, and its limits and `disabled` flag
   * may take that long to apply.
   */
  async getTenant(tenantId: string, options: { maxAgeMs?: number } = {}): Promise<Tenant | null> {
    const maxAge = options.maxAgeMs ?? 0;
    if (maxAge > 0) {
      const hit = this.tenantCache.get(tenantId);
      if (hit && Date.now() - hit.at < maxAge) return hit.tenant;
    }
    const snap = await this.db.collection('tenants').doc(tenantId).get();
    const tenant = snap.exists ? (snap.data() as Tenant) : null;
    if (maxAge > 0) {
      // Bounded: the oldest entry goes first (Map keeps insertion order).
      if (this.tenantCache.size >= 10_000) this.tenantCache.delete(this.tenantCache.keys().next().value!);
      this.tenantCache.delete(tenantId);
      this.tenantCache.set(tenantId, { tenant, at: Date.now() });
    }
    return tenant;
  }

  async setTenantDisabled(tenantId: string, disabled: boolean): Promise<void> {
    await this.db.collection('tenants').doc(tenantId).update({ disabled });
    this.tenantCache.delete(tenantId);
  }

  /**
   * Replaces the tenant's retention setting (fields left out take the defaults). Refuses values
   * outside RETENTION_BOUNDS with a RangeError, before anything is written.
   */
  async setRetention(tenantId: string, retention: TenantRetention): Promise<Tenant> {
    const problem = retentionProblem(retention);
    if (problem) throw new RangeError(problem);
    const ref = this.db.collection('tenants').doc(tenantId);
    await ref.update({ retention: { ...retention } });
    this.tenantCache.delete(tenantId);
    return (await ref.get()).data() as Tenant;
  }

  /** Returns the key once; only its SHA-256 is stored. */
  async createApiKey(
    tenantId: string,
    scopes: ApiKeyScope[],
    env: string,
    options: { expiresAt?: Date } = {},
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    const key = generateApiKey(env);
    const record = this.newKeyRecord(key, tenantId, scopes, options.expiresAt);
    await this.db.collection('apiKeys').doc(hashApiKey(key)).create(record);
    return { key, record };
  }

  private newKeyRecord(key: string, tenantId: string, scopes: ApiKeyScope[], expiresAt?: Date): ApiKeyRecord {
    const bad = scopes.filter((s) => !isApiKeyScope(s));
    if (bad.length || scopes.length === 0) throw new Error(`scopes must be among ${API_KEY_SCOPES.join(', ')}`);
    return {
      tenantId,
      prefix: apiKeyPrefix(key),
      scopes: [...new Set(scopes)],
      createdAt: Timestamp.now(),
      revokedAt: null,
      expiresAt: expiresAt ? Timestamp.fromDate(expiresAt) : null,
      lastUsedAt: null,
    };
  }

  /**
   * Checks a presented key. The format and checksum are checked first, offline, so random or
   * mistyped tokens never cost a read; then one point read by the key's SHA-256.
   */
  async verifyApiKey(key: string, now: Date = new Date()): Promise<ApiKeyCheck> {
    if (!isWellFormedApiKey(key)) return { ok: false, reason: 'malformed' };
    const keyHash = hashApiKey(key);
    const snap = await this.db.collection('apiKeys').doc(keyHash).get();
    if (!snap.exists) return { ok: false, reason: 'unknown' };
    const record = snap.data() as ApiKeyRecord;
    if (record.revokedAt) return { ok: false, reason: 'revoked' };
    if (record.expiresAt && record.expiresAt.toMillis() <= now.getTime()) return { ok: false, reason: 'expired' };
    return { ok: true, record, keyHash };
  }

  /** The live record for a presented key, or null (unknown, malformed, revoked or expired). */
  async findActiveApiKey(key: string): Promise<ApiKeyRecord | null> {
    const check = await this.verifyApiKey(key);
    return check.ok ? check.record : null;
  }

  /** Records use; the caller throttles (the gateway writes at most once a minute per key). */
  async touchApiKey(keyHash: string, at: Date = new Date()): Promise<void> {
    await this.db
      .collection('apiKeys')
      .doc(keyHash)
      .update({ lastUsedAt: Timestamp.fromDate(at) });
  }

  async revokeApiKey(key: string): Promise<boolean> {
    const ref = this.db.collection('apiKeys').doc(hashApiKey(key));
    const snap = await ref.get();
    if (!snap.exists) return false;
    await ref.update({ revokedAt: Timestamp.now() });
    return true;
  }

  /** The key documents whose prefix matches (normally one), optionally within one tenant. */
  async findApiKeysByPrefix(prefix: string, tenantId?: string): Promise<{ keyHash: string; record: ApiKeyRecord }[]> {
    let query = this.db.collection('apiKeys').where('prefix', '==', prefix);
    if (tenantId) query = query.where('tenantId', '==', tenantId);
    const snap = await query.limit(10).get();
    return snap.docs.map((d) => ({ keyHash: d.id, record: d.data() as ApiKeyRecord }));
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    const snap = await this.db.collection('apiKeys').where('tenantId', '==', tenantId).limit(1000).get();
    return snap.docs.map((d) => d.data() as ApiKeyRecord);
  }

  /**
   * Revokes at once, by the full key or by its prefix. An ambiguous prefix (two keys share it,
   * about one chance in 2^47 per pair) is refused rather than guessed.
   */
  async revokeApiKeyByPrefixOrKey(prefixOrKey: string): Promise<ApiKeyRecord> {
    let ref;
    if (isWellFormedApiKey(prefixOrKey)) {
      ref = this.db.collection('apiKeys').doc(hashApiKey(prefixOrKey));
    } else {
      const found = await this.findApiKeysByPrefix(prefixOrKey);
      if (found.length === 0) throw new ApiKeyNotFoundError('no API key has this prefix');
      if (found.length > 1) throw new Error('several API keys share this prefix; revoke with the full key');
      ref = this.db.collection('apiKeys').doc(found[0]!.keyHash);
    }
    return tracedTransaction(this.db, 'revokeApiKey', async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists) throw new ApiKeyNotFoundError('no such API key');
      const record = snap.data() as ApiKeyRecord;
      if (record.revokedAt) return record;
      const revokedAt = Timestamp.now();
      tx.update(ref, { revokedAt });
      return { ...record, revokedAt };
    });
  }

  /**
   * Rotation with overlap: a new key with the same scopes (and no expiry unless given), and the
   * old one keeps working until now + overlap (or its own earlier expiry), then stops. One
   * transaction, so two concurrent rotations cannot both succeed on the same old key.
   */
  async rotateApiKey(input: {
    tenantId: string;
    prefix: string;
    overlapMs: number;
    env: string;
    expiresAt?: Date;
    now?: Date;
  }): Promise<{ key: string; record: ApiKeyRecord; old: ApiKeyRecord }> {
    const now = input.now ?? new Date();
    const found = await this.findApiKeysByPrefix(input.prefix, input.tenantId);
    if (found.length === 0) throw new ApiKeyNotFoundError('the tenant has no API key with this prefix');
    if (found.length > 1) throw new Error('several API keys share this prefix');
    const oldRef = this.db.collection('apiKeys').doc(found[0]!.keyHash);
    const key = generateApiKey(input.env);
    return tracedTransaction(this.db, 'rotateApiKey', async (tx) => {
      const snap = await tx.get(oldRef);
      const old = snap.data() as ApiKeyRecord | undefined;
      if (!old) throw new ApiKeyNotFoundError('no such API key');
      if (old.revokedAt) throw new Error('the key is revoked; create a new one instead');
      if (old.replacedBy) throw new Error(`the key was already rotated (replaced by ${old.replacedBy})`);
      if (old.expiresAt && old.expiresAt.toMillis() <= now.getTime()) throw new Error('the key has expired');
      const record = this.newKeyRecord(key, old.tenantId, old.scopes, input.expiresAt);
      const overlapEnd = now.getTime() + Math.max(0, input.overlapMs);
      const expiresAt = Timestamp.fromMillis(
        old.expiresAt ? Math.min(old.expiresAt.toMillis(), overlapEnd) : overlapEnd,
      );
      tx.create(this.db.collection('apiKeys').doc(hashApiKey(key)), record);
      tx.update(oldRef, { expiresAt, replacedBy: record.prefix });
      return { key, record, old: { ...old, expiresAt, replacedBy: record.prefix } };
    });
  }
}
