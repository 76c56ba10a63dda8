import { createHash } from 'node:crypto';
import {
  Timestamp,
  type DocumentReference,
  type Firestore,
  type Query,
  type QueryDocumentSnapshot,
} from '@google-cloud/firestore';
import { isTerminal, type Brief, type JobStatus } from '@aiprod/contracts';
import { canonicalJson } from './canonical-json';
import { runJobTransaction } from './firestore';
import type { Job, Shot } from './types';

/**
 * What is left of a job its client had erased (DELETE /v1/jobs/{id}): who, when, what it cost and
 * how it ended, for billing and audit. Everything creative (brief, plan, outputs, stills,
 * references, music, voice tracks, preview, provenance, error text, metadata) is gone.
 * `updatedAt` is the erasure time, so listings ordered or filtered by it keep working.
 */
export interface JobTombstone {
  jobId: string;
  tenantId: string;
  preset: string;
  /** The status the job ended in (always terminal: a running job is canceled before it is erased). */
  status: JobStatus;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  /** When the job ended: retention counts its record's days from here, not from the erasure. */
  stateEnteredAt: Timestamp;
  /** When the retention sweeper next looks at it (for files a late writer left). */
  retentionDueAt: Timestamp;
  costUsd: number;
  version: number;
  erasedAt: Timestamp;
  /** The principal that asked (`key:<prefix>`, `oidc:<subject>`, `admin:<who>`). */
  erasedBy: string;
}

/**
 * What erasing a job covers, for the test that holds every collection the code writes to it: the
 * top-level collections whose documents about the job are deleted, and the job's subcollections
 * (deleted, or for `costs` kept with billing fields only).
 */
export const JOB_ERASURE_COVERS = {
  topLevel: [
    'jobs',
    'renderCache',
    'idempotency',
    'directorPlans',
    'webhookDeliveries',
    'deadLetters',
    'rejectedMessages',
  ] as readonly string[],
  subcollections: ['shots', 'events', 'reservations', 'costs'] as readonly string[],
};

/** The exact fields of a tombstone: a test holds the stored document to this list. */
export const TOMBSTONE_FIELDS = [
  'jobId',
  'tenantId',
  'preset',
  'status',
  'createdAt',
  'updatedAt',
  'stateEnteredAt',
  'retentionDueAt',
  'costUsd',
  'version',
  'erasedAt',
  'erasedBy',
] as const satisfies readonly (keyof JobTombstone)[];

/**
 * The fields of a cost-ledger line kept after erasure: what was billed, by whom, for which attempt.
 * An allow-list, not a deny-list: a creative field a later change adds to the ledger (a prompt, a
 * vendor's message) is erased without anyone having to remember it here.
 */
export const COST_LINE_BILLING_FIELDS = [
  'costUsd',
  'at',
  'backend',
  'model',
  'outcome',
  'shotId',
  'attempt',
  'seconds',
  'charged',
  'vendorTaskId',
  'taskRef',
  'errorClass',
  'code',
] as const;

/** Job subcollections deleted outright. `costs` is kept (billing), stripped to COST_LINE_BILLING_FIELDS. */
export const ERASED_JOB_SUBCOLLECTIONS = ['shots', 'events', 'reservations'] as const;

/** Whether a stored job is an erased job's tombstone. */
export const isErased = (job: Pick<Job, 'erasedAt'> | JobTombstone): boolean =>
  (job as { erasedAt?: unknown }).erasedAt != null;

/**
 * The tenant-scoped digest of a brief, stored on a director-plan cache entry so that erasing a job
 * can find the entries made from its brief (the cache's own key also hashes the planner's
 * configuration, which the gateway does not know).
 */
export function briefDigest(tenantId: string, brief: Brief): string {
  return createHash('sha256').update(canonicalJson({ tenantId, brief })).digest('hex');
}

export type EraseResult =
  | { outcome: 'erased' | 'already_erased'; tombstone: JobTombstone }
  | { outcome: 'not_found' }
  /** Erasing never stops a job: the caller cancels it first (so the render pools stop). */
  | { outcome: 'not_terminal'; status: JobStatus };

/** Bounds every query of the erasure: pages of this size, at most MAX_PAGES of them per collection. */
const PAGE = 300;
const MAX_PAGES = 100;

/**
 * Erases a finished job's records (see JobTombstone). Idempotent: a tombstone is returned as it is,
 * after sweeping its subcollections again for whatever a worker still running wrote after the
 * first erasure (a late event or ledger line). The order makes a crash at any point safe to re-run:
 * the records found through the brief (caches) go first, while the brief is still there; then the
 * tombstone replaces the job in one write, the moment the job is erased; then the subcollections.
 * The job's files are the caller's (see eraseJobFiles in the gateway's erasure step).
 */
export async function eraseJob(db: Firestore, jobId: string, options: { by: string; at?: Date }): Promise<EraseResult> {
  const jobRef = db.collection('jobs').doc(jobId);
  const before = await jobRef.get();
  if (!before.exists) return { outcome: 'not_found' };
  const stored = before.data() as Job;
  if (isErased(stored)) {
    await eraseJobSubcollections(db, jobRef);
    // A job's webhook notice may be recorded after the erasure (the cancel that preceded it went
    // out as a message); an idempotency record of the erasing request itself is kept to replay it.
    for (const name of ['webhookDeliveries', 'deadLetters', 'rejectedMessages'] as const)
      await deleteAboutJob(db, name, stored);
    return { outcome: 'already_erased', tombstone: stored as unknown as JobTombstone };
  }
  if (!isTerminal(stored.status)) return { outcome: 'not_terminal', status: stored.status };

  await eraseDerivedRecords(db, stored);

  const at = Timestamp.fromDate(options.at ?? new Date());
  const result = await runJobTransaction(db, 'eraseJob', async (tx): Promise<EraseResult> => {
    const snap = await tx.get(jobRef);
    if (!snap.exists) return { outcome: 'not_found' };
    const job = snap.data() as Job;
    if (isErased(job)) return { outcome: 'already_erased', tombstone: job as unknown as JobTombstone };
    if (!isTerminal(job.status)) return { outcome: 'not_terminal', status: job.status };
    const tombstone: JobTombstone = {
      jobId: job.jobId,
      tenantId: job.tenantId,
      preset: job.preset,
      status: job.status,
      createdAt: job.createdAt,
      updatedAt: at,
      stateEnteredAt: job.stateEnteredAt ?? job.updatedAt,
      // The sweeper looks again a day later for anything a worker still running wrote.
      retentionDueAt: Timestamp.fromMillis(at.toMillis() + 86_400_000),
      costUsd: job.costUsd ?? 0,
      version: job.version,
      erasedAt: at,
      erasedBy: options.by.slice(0, 200),
    };
    tx.set(jobRef, tombstone); // set, not update: every other field goes
    return { outcome: 'erased', tombstone };
  });
  if (result.outcome === 'erased' || result.outcome === 'already_erased') await eraseJobSubcollections(db, jobRef);
  return result;
}

/** Shots, events and reservations deleted; the cost ledger's lines stripped to their billing fields. */
async function eraseJobSubcollections(db: Firestore, jobRef: DocumentReference): Promise<void> {
  for (const name of ERASED_JOB_SUBCOLLECTIONS) {
    await db.recursiveDelete(jobRef.collection(name));
  }
  const keep = new Set<string>(COST_LINE_BILLING_FIELDS);
  await forEachPage(jobRef.collection('costs'), async (docs) => {
    const batch = db.batch();
    let changed = 0;
    for (const doc of docs) {
      const line = doc.data();
      if (Object.keys(line).every((field) => keep.has(field))) continue;
      batch.set(doc.ref, Object.fromEntries(Object.entries(line).filter(([field]) => keep.has(field))));
      changed += 1;
    }
    if (changed) await batch.commit();
  });
}

/**
 * Records outside the job's document that point at it or hold its creative content: the render
 * cache's entries for its clips, the idempotency records whose stored answer shows it, the webhook
 * deliveries about it, and the director-plan cache entries of its brief.
 */
async function eraseDerivedRecords(db: Firestore, job: Job): Promise<void> {
  // Render cache: the keys its shots' attempts wrote (exact), found before the shots are deleted.
  const shots = (await db.collection('jobs').doc(job.jobId).collection('shots').limit(1000).get()).docs.map(
    (d) => d.data() as Shot,
  );
  const cacheKeys = new Set(
    shots.flatMap((s) => Object.values(s.attempts ?? {}).flatMap((a) => (a.cache?.key ? [a.cache.key] : []))),
  );
  await deleteRefs(
    db,
    [...cacheKeys].map((key) => db.collection('renderCache').doc(key)),
  );

  // Idempotency records replaying an answer about this job (its creation, a cancel): their stored
  // body is the job view, brief included. Found by the job id the gateway records with the answer
  // (an indexed query); records from before that field expire within a day (TTL).
  await forEachPage(
    db.collection('idempotency').where('tenantId', '==', job.tenantId).where('jobId', '==', job.jobId),
    async (docs) =>
      deleteRefs(
        db,
        docs.map((d) => d.ref),
      ),
  );

  // Webhook deliveries (their body is the job's outcome with the brief's metadata), dead letters
  // (they hold the message, a render request's prompt included) and rejected messages about it.
  for (const name of ['webhookDeliveries', 'deadLetters', 'rejectedMessages'] as const)
    await deleteAboutJob(db, name, job);

  // Director plans made from this brief. Whether another job of the tenant has the same brief
  // cannot be told cheaply (briefs are not indexed), so the entry goes anyway: it is a cache, and
  // such a job is at worst planned afresh. Entries stored before the digest existed cannot be found
  // this way; they expire within a day (DIRECTOR_CACHE_TTL_MS).
  if (job.brief) {
    await forEachPage(
      db
        .collection('directorPlans')
        .where('tenantId', '==', job.tenantId)
        .where('briefDigest', '==', briefDigest(job.tenantId, job.brief)),
      async (docs) =>
        deleteRefs(
          db,
          docs.map((d) => d.ref),
        ),
    );
  }
}

/** The documents of a top-level collection that name the job (by its `jobId` field). */
async function deleteAboutJob(db: Firestore, name: string, job: Pick<Job, 'jobId' | 'tenantId'>): Promise<void> {
  // Job ids are unique across tenants (random, or a hash of tenant and key): the id alone names it.
  await forEachPage(db.collection(name).where('jobId', '==', job.jobId), async (docs) =>
    deleteRefs(
      db,
      docs.map((d) => d.ref),
    ),
  );
}

async function deleteRefs(db: Firestore, refs: DocumentReference[]): Promise<void> {
  for (let i = 0; i < refs.length; i += 400) {
    const batch = db.batch();
    for (const ref of refs.slice(i, i + 400)) batch.delete(ref);
    await batch.commit();
  }
}

/** Every document of a query, a page at a time in document-id order, bounded to MAX_PAGES pages. */
async function forEachPage(query: Query, fn: (docs: QueryDocumentSnapshot[]) => Promise<void>): Promise<void> {
  let after: QueryDocumentSnapshot | undefined;
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    let page = query.orderBy('__name__').limit(PAGE);
    if (after) page = page.startAfter(after);
    const snap = await page.get();
    if (snap.empty) return;
    await fn(snap.docs);
    if (snap.docs.length < PAGE) return;
    after = snap.docs[snap.docs.length - 1];
  }
  throw new Error(`erasure: more than ${PAGE * MAX_PAGES} documents in one query; erase again to continue`);
}
