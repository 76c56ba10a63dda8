import { FieldPath, Timestamp, type Firestore } from '@google-cloud/firestore';
import { count } from '@aiprod/observability';

/** Audit records are kept 400 days (a Firestore TTL policy on `expiresAt` removes them in the cloud). */
export const AUDIT_RETENTION_MS = 400 * 24 * 3600_000;
export const AUDIT_LIST_MAX_LIMIT = 200;

/**
 * One authenticated request, as the audit trail keeps it: `tenants/{tenantId}/audit/{id}`, the id
 * being the ISO arrival time and the request id, so ids sort by time. Who, what, which job, the
 * outcome; never a query string, a body or a credential (a key's prefix is not a secret).
 */
export interface AuditRecord {
  at: Timestamp;
  requestId: string;
  method: string;
  /** The route pattern (`/v1/jobs/:id`), never the path: paths and query strings may carry data. */
  route: string | null;
  jobId: string | null;
  status: number;
  /** An API key's prefix, `oidc:<subject>` or `review:<jobId>`. */
  keyPrefix: string;
  /** The OIDC subject, for a token (null for a key). */
  subject: string | null;
  via: string;
  /** The scope the route asked for and the caller used (`admin` when it stood in); null when none was checked. */
  scope: string | null;
  expiresAt: Timestamp;
}

export type AuditInput = Omit<AuditRecord, 'at' | 'expiresAt'> & { at: Date };

export const auditEventId = (at: Date, requestId: string) => `${at.toISOString()}_${requestId}`;

const auditCollection = (db: Firestore, tenantId: string) => db.collection('tenants').doc(tenantId).collection('audit');

export interface AuditTrailOptions {
  /** Records waiting to be written; one more is dropped and counted. Default 10 000. */
  maxBuffered?: number;
  /** Default 1 s. */
  flushIntervalMs?: number;
  /** Told of drops and failed writes (rate-limited by the caller's log if need be). */
  onProblem?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * The audit trail's writer: `record` only appends to a bounded buffer (a request never waits for
 * it); a timer writes the buffer with a BulkWriter every second, and `close` writes what is left.
 * When writes fall behind and the buffer is full, records are dropped and counted
 * (aiprod_audit_events_dropped), never queued without bound: the access log still has them.
 */
export class AuditTrail {
  private buffer: { tenantId: string; id: string; record: AuditRecord }[] = [];
  private readonly maxBuffered: number;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;
  private closed = false;
  private droppedSinceReport = 0;

  constructor(
    private readonly db: Firestore,
    private readonly options: AuditTrailOptions = {},
  ) {
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Buffers one record; false when it was dropped (buffer full, or closed). */
  record(tenantId: string, input: AuditInput): boolean {
    if (this.closed || this.buffer.length >= this.maxBuffered) {
      count('auditEventsDropped', { reason: 'buffer_full' });
      // One report per flush, not per dropped record: a full buffer means many requests at once.
      if (this.droppedSinceReport++ === 0) {
        this.options.onProblem?.('audit records dropped: the buffer is full', { maxBuffered: this.maxBuffered });
      }
      return false;
    }
    const { at, ...rest } = input;
    this.buffer.push({
      tenantId,
      id: auditEventId(at, input.requestId),
      record: {
        ...rest,
        at: Timestamp.fromDate(at),
        expiresAt: Timestamp.fromMillis(at.getTime() + AUDIT_RETENTION_MS),
      },
    });
    return true;
  }

  /**
   * Writes what is buffered now, one flush at a time: a caller during a flush waits for it, then
   * writes what was buffered meanwhile (the flush under way took only what was there when it began).
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0 && this.droppedSinceReport === 0) return;
    this.flushing = this.writeBuffered().finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }

  private async writeBuffered(): Promise<void> {
    if (this.droppedSinceReport > 1) {
      this.options.onProblem?.('audit records dropped: the buffer was full', { dropped: this.droppedSinceReport });
    }
    this.droppedSinceReport = 0;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    const writer = this.db.bulkWriter();
    let failed = 0;
    for (const { tenantId, id, record } of batch) {
      // set, not create: a retried batch write rewrites the same record under the same id.
      writer.set(auditCollection(this.db, tenantId).doc(id), record).catch(() => {
        failed++;
      });
    }
    await writer.close();
    if (failed > 0) {
      count('auditEventsDropped', { reason: 'write_failed' }, failed);
      this.options.onProblem?.('audit records could not be written', { failed, of: batch.length });
    }
  }

  /** Stops the timer and writes what is left; later records are dropped. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    await this.flush();
  }
}

export interface AuditPage {
  events: (AuditRecord & { id: string })[];
  /** The id of the last event when there may be more (the caller makes it opaque). */
  lastId: string | null;
}

export interface AuditQuery {
  limit: number;
  /** The id of the last event of the previous page. */
  afterId?: string;
  jobId?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

/**
 * A tenant's audit records, newest first: by arrival time, then id (the id starts with the same
 * time, so the order is the ids'). With `jobId` this needs the composite index (jobId, at desc)
 * of terraform/modules/firestore; Firestore scans no key range in descending order without one.
 */
export async function listAuditEvents(db: Firestore, tenantId: string, q: AuditQuery): Promise<AuditPage> {
  let query = auditCollection(db, tenantId).orderBy('at', 'desc').orderBy(FieldPath.documentId(), 'desc');
  if (q.jobId) query = query.where('jobId', '==', q.jobId);
  if (q.since) query = query.where('at', '>=', Timestamp.fromDate(q.since));
  if (q.until) query = query.where('at', '<', Timestamp.fromDate(q.until));
  if (q.afterId) query = query.startAfter(Timestamp.fromDate(new Date(q.afterId.slice(0, 24))), q.afterId);
  const snap = await query.limit(q.limit + 1).get();
  const docs = snap.docs.slice(0, q.limit);
  return {
    events: docs.map((d) => ({ id: d.id, ...(d.data() as AuditRecord) })),
    lastId: snap.docs.length > q.limit ? docs.at(-1)!.id : null,
  };
}

/** An audit id as auditEventId makes them (a cursor carries one back). */
export const isAuditEventId = (id: string) =>
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z_[A-Za-z0-9._-]{1,64}$/.test(id);
