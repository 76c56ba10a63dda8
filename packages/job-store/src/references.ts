import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { AudioContentType, ImageContentType } from '@aiprod/contracts';
import { runJobTransaction } from './firestore';
import type { Job, JobMusic, JobReference } from './types';

/**
 * A file a tenant uploaded (POST /v1/assets): an image its briefs may name as a reference, or an
 * audio file they may name as music (no width or height).
 */
export interface AssetRecord {
  assetId: string;
  tenantId: string;
  contentType: ImageContentType | AudioContentType;
  sizeBytes: number;
  /** Lowercase hex SHA-256 of the stored bytes. */
  sha256: string;
  width?: number;
  height?: number;
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

  /** The tenant's records among `assetIds`, by id (one read for all of them); another tenant's are absent. */
  async getMany(tenantId: string, assetIds: readonly string[]): Promise<Map<string, AssetRecord>> {
    const unique = [...new Set(assetIds)];
    if (!unique.length) return new Map();
    const snaps = await this.db.getAll(...unique.map((id) => this.ref(tenantId, id)));
    return new Map(snaps.filter((s) => s.exists).map((s) => [s.id, s.data() as AssetRecord]));
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
  return recordOnce(db, jobId, 'references', references, {
    id: 'references-stored',
    type: 'references.stored',
    data: { count: references.length, roles: references.map((r) => r.role) },
  });
}

/** `job.music`: the client's music track as stored with the job; written once, like the references. */
export async function recordJobMusic(db: Firestore, jobId: string, music: JobMusic): Promise<RecordReferencesResult> {
  return recordOnce(db, jobId, 'music', music, {
    id: 'music-stored',
    type: 'music.stored',
    data: { source: music.source.kind, durationSeconds: music.durationSeconds, sizeBytes: music.sizeBytes },
  });
}

/** Sets one input field of a PLANNING job once, with its event, in one transaction. */
async function recordOnce<K extends 'references' | 'music'>(
  db: Firestore,
  jobId: string,
  field: K,
  value: NonNullable<Job[K]>,
  event: { id: string; type: string; data: Record<string, unknown> },
): Promise<RecordReferencesResult> {
  return runJobTransaction(db, `record_${field}`, async (tx) => {
    const ref = db.collection('jobs').doc(jobId);
    const snap = await tx.get(ref);
    if (!snap.exists) return { changed: false, job: null, why: 'not_found' } as const;
    const job = snap.data() as Job;
    if (job[field]) return { changed: false, job, why: 'already_there' } as const;
    if (job.status !== 'PLANNING') return { changed: false, job, why: 'state_mismatch' } as const;
    tx.update(ref, { [field]: value });
    tx.set(ref.collection('events').doc(event.id), { type: event.type, at: Timestamp.now(), data: event.data });
    return { changed: true, job: { ...job, [field]: value } } as const;
  });
}
