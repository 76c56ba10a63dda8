import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { ImageContentType } from '@aiprod/contracts';
import { runJobTransaction } from './firestore';
import type { Job, JobReference } from './types';

/** An image a tenant uploaded (POST /v1/assets), which its briefs may name as a reference. */
export interface AssetRecord {
  assetId: string;
  tenantId: string;
  contentType: ImageContentType;
  sizeBytes: number;
  /** Lowercase hex SHA-256 of the stored bytes. */
  sha256: string;
  width: number;
  height: number;
  /** Storage key of the bytes. */
  path: string;
  createdAt: Timestamp;
}

/**
 * Uploaded assets, under their tenant (`tenants/<tenant>/assets/<asset>`): a lookup names the
 * tenant, so another tenant's id reads exactly like a missing one.
 */
export class AssetStore {
  constructor(private readonly db: Firestore) {}

  private ref(tenantId: string, assetId: string) {
    return this.db.collection('tenants').doc(tenantId).collection('assets').doc(assetId);
  }

  /** Stores the record once; ids are random, so a second create of the same id is a bug and throws. */
  async create(record: Omit<AssetRecord, 'createdAt'>): Promise<AssetRecord> {
    const stored: AssetRecord = { ...record, createdAt: Timestamp.now() };
    await this.ref(record.tenantId, record.assetId).create(stored);
    return stored;
  }

  async get(tenantId: string, assetId: string): Promise<AssetRecord | null> {
    const snap = await this.ref(tenantId, assetId).get();
    return snap.exists ? (snap.data() as AssetRecord) : null;
  }

  /** The ids among `assetIds` the tenant does not own (one read for all of them). */
  async missing(tenantId: string, assetIds: readonly string[]): Promise<string[]> {
    const unique = [...new Set(assetIds)];
    if (!unique.length) return [];
    const snaps = await this.db.getAll(...unique.map((id) => this.ref(tenantId, id)));
    const found = new Set(snaps.filter((s) => s.exists).map((s) => s.id));
    return unique.filter((id) => !found.has(id));
  }
}

export type RecordReferencesResult =
  | { changed: true; job: Job }
  | { changed: false; job: Job | null; why: 'not_found' | 'already_there' | 'state_mismatch' };

/**
 * `job.references`: the brief's reference images as stored with the job. Written once, while the
 * job is PLANNING; a redelivery that finds them keeps the first copy (a URL answering differently
 * the second time must not change what the plan was made from).
 */
export async function recordJobReferences(
  db: Firestore,
  jobId: string,
  references: JobReference[],
): Promise<RecordReferencesResult> {
  return runJobTransaction(db, 'recordReferences', async (tx) => {
    const ref = db.collection('jobs').doc(jobId);
    const snap = await tx.get(ref);
    if (!snap.exists) return { changed: false, job: null, why: 'not_found' } as const;
    const job = snap.data() as Job;
    if (job.references) return { changed: false, job, why: 'already_there' } as const;
    if (job.status !== 'PLANNING') return { changed: false, job, why: 'state_mismatch' } as const;
    tx.update(ref, { references });
    tx.set(ref.collection('events').doc('references-stored'), {
      type: 'references.stored',
      at: Timestamp.now(),
      data: { count: references.length, roles: references.map((r) => r.role) },
    });
    return { changed: true, job: { ...job, references } } as const;
  });
}
