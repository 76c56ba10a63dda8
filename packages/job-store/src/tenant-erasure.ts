import {
  FieldPath,
  type CollectionReference,
  type DocumentReference,
  type Firestore,
  type Query,
} from '@google-cloud/firestore';
import { isTerminal, type JobStatus } from '@aiprod/contracts';

/** The part of a blob store erasure needs (`@aiprod/storage`'s BlobStore has it). */
export interface TenantFiles {
  list(prefix: string, opts?: { limit?: number }): Promise<{ key: string }[]>;
  deletePrefix(prefix: string): Promise<number>;
  uri(key: string): string;
}

/** One kind of thing a tenant owns: where it lives, and the documents or files found there. */
export interface FootprintItem {
  /** A stable name (`jobs`, `apiKeys`, `files`, `tenants/{id}/audit`, …). */
  kind: string;
  /** Where it is: a collection and how it is selected, or a storage prefix. */
  location: string;
  /** Document paths, or file keys, sorted. */
  paths: string[];
}

export interface TenantFootprint {
  tenantId: string;
  items: FootprintItem[];
  total: number;
}

/** Collections with a `tenantId` field naming the owner. */
const BY_TENANT_FIELD = [
  'apiKeys',
  'webhookDeliveries',
  'idempotency',
  'usage',
  'estimates',
  'directorPlans',
  'renderCache',
] as const;
/** Collections whose document ids start `{tenantId}:` (counters and markers). */
const BY_ID_PREFIX = ['spendEntries', 'rateLimits', 'quotaCounters'] as const;
/** Operator records that name one of the tenant's jobs (a dead letter holds the message body). */
const BY_JOB_ID = ['deadLetters', 'rejectedMessages'] as const;

const FLAT_KINDS = new Set<string>([...BY_TENANT_FIELD, ...BY_ID_PREFIX, ...BY_JOB_ID]);

/**
 * What tenant erasure covers, for the test that holds every collection the code writes to it:
 * top-level collections it queries, and the collections that live under a job or the tenant
 * document (deleted with them, recursively).
 */
export const TENANT_ERASURE_COVERS = {
  topLevel: ['jobs', 'tenants', ...BY_TENANT_FIELD, ...BY_ID_PREFIX, ...BY_JOB_ID] as readonly string[],
  underJobsOrTenant: ['shots', 'events', 'costs', 'reservations', 'assets', 'audit'] as readonly string[],
};

export const tenantFilesPrefix = (tenantId: string) => `tenants/${tenantId}/`;

const assertTenantId = (tenantId: string) => {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(tenantId)) throw new RangeError(`invalid tenant id ${JSON.stringify(tenantId)}`);
};

const pathsOf = async (query: Query) => (await query.select().get()).docs.map((d) => d.ref.path);

/** Every document under `ref` (its subcollections, recursively), not `ref` itself. */
async function descendants(ref: DocumentReference): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await ref.listCollections()) {
    for (const doc of await sub.listDocuments()) {
      if ((await doc.get()).exists) out.push(doc.path);
      out.push(...(await descendants(doc)));
    }
  }
  return out;
}

const idPrefixQuery = (col: CollectionReference, prefix: string) =>
  // ';' follows ':' in code-point order: the range is exactly the ids that start with the prefix.
  col.where(FieldPath.documentId(), '>=', `${prefix}:`).where(FieldPath.documentId(), '<', `${prefix};`);

/**
 * Everything the tenant owns, by kind: its jobs and their subcollections, its tenant document
 * (webhook endpoint and secrets are fields of it) and that document's subcollections (assets,
 * audit records, whatever is added there), files under `tenants/{id}/`, API keys, webhook
 * deliveries, idempotency records, usage counters and spend entries, rate and quota counters,
 * estimates, director-plan cache entries, render-cache entries of its own or pointing at its
 * files, and dead letters or rejected messages naming its jobs.
 */
export async function tenantFootprint(
  db: Firestore,
  tenantId: string,
  storage?: Pick<TenantFiles, 'list' | 'uri'>,
): Promise<TenantFootprint> {
  assertTenantId(tenantId);
  const items: FootprintItem[] = [];
  const add = (kind: string, location: string, paths: string[]) =>
    items.push({ kind, location, paths: [...new Set(paths)].sort() });

  const tenantRef = db.collection('tenants').doc(tenantId);
  const tenantSnap = await tenantRef.get();
  add('tenant', 'tenants/{id}', tenantSnap.exists ? [tenantRef.path] : []);
  add(
    'webhookEndpoint',
    'tenants/{id}.webhook (URL and signing secrets)',
    tenantSnap.get('webhook') ? [tenantRef.path] : [],
  );
  const underTenant = await descendants(tenantRef);
  const bySub = new Map<string, string[]>();
  for (const path of underTenant) {
    const sub = path.split('/')[2]!;
    bySub.set(sub, [...(bySub.get(sub) ?? []), path]);
  }
  // Always listed, even when empty: a dry run shows that they were looked at.
  for (const sub of ['assets', 'audit']) bySub.set(sub, bySub.get(sub) ?? []);
  for (const [sub, paths] of [...bySub].sort(([a], [b]) => a.localeCompare(b))) {
    add(`tenants/{id}/${sub}`, `tenants/{id}/${sub} (and below)`, paths);
  }

  const jobRefs = (await db.collection('jobs').where('tenantId', '==', tenantId).select().get()).docs.map((d) => d.ref);
  add(
    'jobs',
    'jobs where tenantId',
    jobRefs.map((r) => r.path),
  );
  const jobChildren = (await Promise.all(jobRefs.map(descendants))).flat();
  add('jobs/*/…', 'subcollections of its jobs (shots, events, costs, reservations, …)', jobChildren);

  for (const name of BY_TENANT_FIELD) {
    add(name, `${name} where tenantId`, await pathsOf(db.collection(name).where('tenantId', '==', tenantId)));
  }
  if (storage) {
    // Render-cache entries pointing at its files, whoever wrote them.
    const uriPrefix = storage.uri(`${tenantFilesPrefix(tenantId)}x`).slice(0, -1);
    const pointing = await pathsOf(
      db.collection('renderCache').where('clipUri', '>=', uriPrefix).where('clipUri', '<', `${uriPrefix}\uffff`),
    );
    const own = items.find((i) => i.kind === 'renderCache')!;
    own.paths = [...new Set([...own.paths, ...pointing])].sort();
  }
  for (const name of BY_ID_PREFIX) {
    add(name, `${name} with ids "{id}:…"`, await pathsOf(idPrefixQuery(db.collection(name), tenantId)));
  }
  const jobIds = jobRefs.map((r) => r.id);
  for (const name of BY_JOB_ID) {
    const paths: string[] = [];
    // 'in' takes at most 30 values.
    for (let i = 0; i < jobIds.length; i += 30) {
      paths.push(...(await pathsOf(db.collection(name).where('jobId', 'in', jobIds.slice(i, i + 30)))));
    }
    add(name, `${name} naming its jobs`, paths);
  }
  if (storage) {
    const files = await storage.list(tenantFilesPrefix(tenantId));
    add(
      'files',
      `storage ${tenantFilesPrefix('{id}')}`,
      files.map((f) => f.key),
    );
  }
  return { tenantId, items, total: items.reduce((n, i) => n + i.paths.length, 0) };
}

export interface TenantErasure {
  /** What there was, before. */
  before: TenantFootprint;
  /** What is left after (empty when the erasure is complete). */
  after: TenantFootprint;
  deletedFiles: number;
}

/**
 * A tenant with jobs still running, or ended with a shot still RENDERING (its pool has yet to
 * cancel the vendor task and book it): erasing it now would orphan vendor tasks that go on billing.
 */
export class TenantBusyError extends Error {
  override readonly name = 'TenantBusyError';
  constructor(readonly jobIds: string[]) {
    super(
      `the tenant has ${jobIds.length} job(s) still running (${jobIds.slice(0, 5).join(', ')}${jobIds.length > 5 ? ', …' : ''}): ` +
        'cancel them and let their renders stop (DELETE /v1/jobs/{id} answers 200 once they have), then erase the tenant',
    );
  }
}

/** The tenant's jobs still running, or ended with a shot still RENDERING (as DELETE of one job checks). */
async function busyJobs(db: Firestore, tenantId: string): Promise<string[]> {
  const busy: string[] = [];
  for (const job of (await db.collection('jobs').where('tenantId', '==', tenantId).select('status').get()).docs) {
    if (!isTerminal(job.get('status') as JobStatus)) busy.push(job.id);
    else if (!(await job.ref.collection('shots').where('status', '==', 'RENDERING').limit(1).select().get()).empty)
      busy.push(job.id);
  }
  return busy;
}

/**
 * Erases everything tenantFootprint finds: jobs and the tenant document with everything beneath
 * them (recursiveDelete), the other documents one by one (BulkWriter), the files by prefix. Then
 * looks again: `after.total` is what could not be erased (0 when done; a job created meanwhile
 * shows there). Idempotent. Refuses a busy tenant (TenantBusyError).
 */
export async function eraseTenant(
  db: Firestore,
  storage: TenantFiles,
  tenantId: string,
  options: {
    /**
     * How long a gateway may still accept a deleted key (API_KEY_CACHE_SECONDS): waited out after
     * the keys go, then the tenant is checked for running jobs again. Default 0 (tests).
     */
    keyCacheMs?: number;
  } = {},
): Promise<TenantErasure> {
  assertTenantId(tenantId);
  const busy = await busyJobs(db, tenantId);
  if (busy.length) throw new TenantBusyError(busy);
  const before = await tenantFootprint(db, tenantId, storage);
  // Its keys first: from here on nothing can start new work for the tenant...
  await forEachRef(db.collection('apiKeys').where('tenantId', '==', tenantId), (ref) => db.recursiveDelete(ref));
  // ...once every gateway's cache of verified keys has let them go. A job a cached key created
  // meanwhile is running: refused like any other (its renders would bill unseen).
  if (options.keyCacheMs) {
    await new Promise((r) => setTimeout(r, options.keyCacheMs));
    const late = await busyJobs(db, tenantId);
    if (late.length) throw new TenantBusyError(late);
  }
  // Files first: a crash half-way leaves documents that still lead to what is left, never the reverse.
  const deletedFiles = await storage.deletePrefix(tenantFilesPrefix(tenantId));
  const writer = db.bulkWriter();
  // Jobs and the tenant document go with everything beneath them (subcollections are listed
  // again here, not taken from `before`: the tenant's subcollections may outlive its document).
  const jobPaths = before.items.find((i) => i.kind === 'jobs')!.paths;
  for (const path of jobPaths) await db.recursiveDelete(db.doc(path), writer);
  await db.recursiveDelete(db.collection('tenants').doc(tenantId), writer);
  for (const item of before.items) {
    if (!FLAT_KINDS.has(item.kind)) continue;
    // A failed delete shows in `after`, which the caller checks.
    for (const path of item.paths) writer.delete(db.doc(path)).catch(() => undefined);
  }
  await writer.close();
  // A late write (an event appended as a job was deleted) recreates a subcollection under a job
  // document that is gone, which a query by tenant no longer finds: look under each job again.
  for (const path of jobPaths) if ((await descendants(db.doc(path))).length) await db.recursiveDelete(db.doc(path));
  const after = await tenantFootprint(db, tenantId, storage);
  return { before, after, deletedFiles };
}

async function forEachRef(query: Query, fn: (ref: DocumentReference) => Promise<void>): Promise<void> {
  for (const doc of (await query.select().get()).docs) await fn(doc.ref);
}

/** Counts by kind, for printing. */
export const footprintCounts = (f: TenantFootprint) =>
  f.items.map(({ kind, location, paths }) => ({ kind, location, count: paths.length }));
