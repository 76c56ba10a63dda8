import { createHash } from 'node:crypto';
import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { BackendName, ShotSpec } from '@aiprod/contracts';

export interface RenderCacheEntry {
  tenantId: string;
  backend: BackendName;
  model: string;
  clipUri: string;
  sizeBytes: number;
  createdAt: Timestamp;
  /** Checked on read (the emulator has no TTL); in the cloud a TTL policy on this field deletes old entries. */
  expiresAt: Timestamp;
}

/**
 * The key of a shot's look: everything in the spec that changes the picture, on one backend and
 * model, for one tenant. The shot's id and position do not change the picture, so the same shot
 * in another job (or another position) is found; a retake changes the seed and the note, so it
 * is not. Scoped per tenant: one client's footage is never handed to another.
 */
export function renderCacheKey(tenantId: string, backend: BackendName, model: string, spec: ShotSpec): string {
  const { shotId: _shotId, index: _index, ...look } = spec;
  const canonical = JSON.stringify({ tenantId, backend, model, look }, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  );
  return createHash('sha256').update(canonical).digest('hex');
}

/** renderCache/{sha256(spec + backend)}: identical shots are never paid for twice. */
export class RenderCache {
  /** Entries are written by `JobStore.passShot`, only for clips QA passed. */
  constructor(private readonly db: Firestore) {}

  async lookup(key: string, now = Timestamp.now()): Promise<RenderCacheEntry | null> {
    const snap = await this.db.collection('renderCache').doc(key).get();
    if (!snap.exists) return null;
    const entry = snap.data() as RenderCacheEntry;
    return entry.expiresAt.toMillis() > now.toMillis() ? entry : null;
  }

  /** Drops an entry whose clip has gone (deleted by a bucket lifecycle rule, say). */
  async forget(key: string): Promise<void> {
    await this.db.collection('renderCache').doc(key).delete();
  }
}
