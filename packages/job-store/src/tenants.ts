import { createHash, randomBytes } from 'node:crypto';
import { Timestamp, type Firestore } from '@google-cloud/firestore';

export const API_KEY_SCOPES = ['jobs:read', 'jobs:write', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export interface Tenant {
  tenantId: string;
  name: string;
  createdAt: Timestamp;
  autoApproveLimitUsd: number;
  maxConcurrentJobs: number;
}

export interface ApiKeyRecord {
  tenantId: string;
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: Timestamp;
  revokedAt: Timestamp | null;
}

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

export function isWellFormedApiKey(key: string): boolean {
  const m = /^aiprod_[a-z]{2,10}_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/.exec(key);
  return !!m && checksum(m[1]!) === m[2];
}

export class TenantStore {
  constructor(private readonly db: Firestore) {}

  async createTenant(input: {
    tenantId: string;
    name: string;
    autoApproveLimitUsd?: number;
    maxConcurrentJobs?: number;
  }): Promise<Tenant> {
    const tenant: Tenant = {
      tenantId: input.tenantId,
      name: input.name,
      createdAt: Timestamp.now(),
      autoApproveLimitUsd: input.autoApproveLimitUsd ?? 0,
      maxConcurrentJobs: input.maxConcurrentJobs ?? 20,
    };
    await this.db.collection('tenants').doc(input.tenantId).set(tenant, { merge: true });
    return tenant;
  }

  async getTenant(tenantId: string): Promise<Tenant | null> {
    const snap = await this.db.collection('tenants').doc(tenantId).get();
    return snap.exists ? (snap.data() as Tenant) : null;
  }

  /** Returns the key once; only its SHA-256 is stored. */
  async createApiKey(
    tenantId: string,
    scopes: ApiKeyScope[],
    env: string,
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    const key = generateApiKey(env);
    const record: ApiKeyRecord = {
      tenantId,
      prefix: key.slice(0, 16),
      scopes,
      createdAt: Timestamp.now(),
      revokedAt: null,
    };
    await this.db.collection('apiKeys').doc(hashApiKey(key)).create(record);
    return { key, record };
  }

  /** The live record for a presented key, or null (unknown, malformed or revoked). */
  async findActiveApiKey(key: string): Promise<ApiKeyRecord | null> {
    if (!isWellFormedApiKey(key)) return null;
    const snap = await this.db.collection('apiKeys').doc(hashApiKey(key)).get();
    if (!snap.exists) return null;
    const record = snap.data() as ApiKeyRecord;
    return record.revokedAt ? null : record;
  }

  async revokeApiKey(key: string): Promise<boolean> {
    const ref = this.db.collection('apiKeys').doc(hashApiKey(key));
    const snap = await ref.get();
    if (!snap.exists) return false;
    await ref.update({ revokedAt: Timestamp.now() });
    return true;
  }
}
