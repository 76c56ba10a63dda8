import { FieldPath, FieldValue, Timestamp, type Firestore } from '@google-cloud/firestore';
import { isTerminal } from '@aiprod/contracts';
import { effectiveRetention, type Job, type Retention, type TenantStore } from '@aiprod/job-store';
import { count } from '@aiprod/observability';
import type { Log } from '@aiprod/pubsub';
import { jobFolders, type BlobStore } from '@aiprod/storage';

const DAY_MS = 86_400_000;

/**
 * Days between the sweeper deleting a job record and Firestore's TTL policy being allowed to: TTL
 * deletes the document alone, so the sweeper, which also deletes its subcollections and files,
 * must normally go first; TTL only catches what a stopped sweeper left.
 */
export const RECORD_TTL_GRACE_DAYS = 7;

/**
 * What an action deletes. `erased`: anything found under an erased job's folder (a worker that
 * was still running when DELETE /v1/jobs/{id} came may write a file after it); the tombstone stays.
 */
export type RetentionClass = 'intermediate' | 'outputs' | 'record' | 'erased';

export interface RetentionAction {
  what: RetentionClass;
  /** Whole days since the job ended, rounded down. */
  ageDays: number;
  /** The setting that expired it, e.g. `outputsDays=30`. */
  rule: string;
}

export interface RetentionDecision {
  actions: RetentionAction[];
  /** When the job record expires (its Firestore TTL field), or null for a job still running. */
  expiresAt: Date | null;
  /** When the sweeper next has something to decide (after this decision is carried out); null: never. */
  nextDueAt: Date | null;
}

/** How long after an erasure the sweeper keeps looking for files a still-running worker wrote. */
const ERASED_WATCH_DAYS = 7;

/** When a terminal job ended: it entered its final state then (older jobs lack stateEnteredAt). */
const endedAt = (job: Job): Date => (job.stateEnteredAt ?? job.updatedAt).toDate();

/**
 * What retention does to one job now: pure, so the rules are tested without storage or a clock.
 * Nothing happens to a job before it ends. An expired record takes everything with it; otherwise
 * working copies and outputs expire each on its own, once.
 */
export function decide(now: Date, job: Job, retention: Retention): RetentionDecision {
  if (!isTerminal(job.status)) return { actions: [], expiresAt: null, nextDueAt: null };
  const ended = endedAt(job).getTime();
  const age = now.getTime() - ended;
  const ageDays = Math.floor(age / DAY_MS);
  const at = (days: number) => ended + days * DAY_MS;
  const expiresAt = new Date(at(retention.recordsDays + RECORD_TTL_GRACE_DAYS));
  const due = (days: number) => age >= days * DAY_MS;
  if (due(retention.recordsDays))
    return {
      actions: [{ what: 'record', ageDays, rule: `recordsDays=${retention.recordsDays}` }],
      expiresAt,
      nextDueAt: null,
    };
  // An erased job has no file to keep: whatever a late writer left goes, daily for a week.
  if (job.erasedAt) {
    const watching = now.getTime() - job.erasedAt.toMillis() < ERASED_WATCH_DAYS * DAY_MS;
    return {
      actions: [{ what: 'erased', ageDays, rule: 'erased' }],
      expiresAt,
      nextDueAt: new Date(watching ? now.getTime() + DAY_MS : at(retention.recordsDays)),
    };
  }
  const actions: RetentionAction[] = [];
  const later: number[] = [at(retention.recordsDays)];
  if (!job.retention?.intermediatesDeletedAt) {
    if (due(retention.intermediateDays))
      actions.push({ what: 'intermediate', ageDays, rule: `intermediateDays=${retention.intermediateDays}` });
    else later.push(at(retention.intermediateDays));
  }
  if (!job.outputsExpiredAt) {
    if (due(retention.outputsDays))
      actions.push({ what: 'outputs', ageDays, rule: `outputsDays=${retention.outputsDays}` });
    else later.push(at(retention.outputsDays));
  }
  return { actions, expiresAt, nextDueAt: new Date(Math.min(...later)) };
}

export interface RetentionDeps {
  db: Firestore;
  storage: BlobStore;
  tenants: TenantStore;
  log: Log;
  now: () => Date;
}

export interface RetentionRunOptions {
  /** Decide and log, delete nothing. */
  dryRun?: boolean;
  /** Jobs read per query (default 100). */
  pageSize?: number;
  /** Jobs looked at in one run at most (default 1000); the next run goes on with those still due. */
  maxJobs?: number;
}

export interface RetentionRunReport {
  jobsSeen: number;
  actions: (RetentionAction & { jobId: string; tenantId: string; objects: number })[];
  /** True when the run reached the last job that was due. */
  completedPass: boolean;
}

export interface RetentionSweeper {
  runOnce(options?: RetentionRunOptions): Promise<RetentionRunReport>;
}

/**
 * The retention executor: reads the jobs that are due (`retentionDueAt` has passed: set a day
 * after a job ends, then by each decision to when the next thing falls due), decides each with
 * its tenant's retention, carries the decision out, logging and counting every deletion, and sets
 * when the job is next due. So a run reads only jobs with something to do, whatever the number of
 * jobs kept, and a restart loses nothing. A run is bounded by `maxJobs`; the next run goes on with
 * whatever is still due. (Jobs that ended before retentionDueAt existed are left to the cloud's
 * backstops: the bucket's lifecycle rule and Firestore's TTL.)
 */
export function createRetentionSweeper(deps: RetentionDeps): RetentionSweeper {
  const jobs = deps.db.collection('jobs');

  const folderDeletes = (job: Job, what: RetentionClass): string[] => {
    const f = jobFolders(job);
    if (what === 'record' || what === 'erased') return [f.root];
    if (what === 'outputs') return [f.outputs];
    return [f.shots, f.references, f.previews];
  };

  const carryOut = async (job: Job, action: RetentionAction, dryRun: boolean): Promise<number> => {
    const prefixes = folderDeletes(job, action.what);
    let objects = 0;
    if (dryRun) {
      for (const p of prefixes) objects += (await deps.storage.list(p, { limit: 10_000 })).length;
      return objects;
    }
    for (const p of prefixes) objects += await deps.storage.deletePrefix(p);
    const at = Timestamp.fromDate(deps.now());
    const ref = jobs.doc(job.jobId);
    // Files first, then the mark: a crash in between leaves the action due, and it is idempotent.
    if (action.what === 'erased') return objects;
    if (action.what === 'record') await deps.db.recursiveDelete(ref);
    else if (action.what === 'outputs') await ref.update({ outputsExpiredAt: at });
    else await ref.update({ 'retention.intermediatesDeletedAt': at });
    return objects;
  };

  return {
    async runOnce(options = {}) {
      const dryRun = options.dryRun ?? false;
      const pageSize = options.pageSize ?? 100;
      const maxJobs = options.maxJobs ?? 1000;
      const now = deps.now();
      const retentionOf = new Map<string, Promise<Retention>>();
      const report: RetentionRunReport = { jobsSeen: 0, actions: [], completedPass: false };
      // Within a run, a cursor: a dry run moves no job's due date, and a page must not come back.
      let cursor: { dueAt: Timestamp; jobId: string } | null = null;
      while (report.jobsSeen < maxJobs) {
        const limit = Math.min(pageSize, maxJobs - report.jobsSeen);
        let query = jobs
          .where('retentionDueAt', '<=', Timestamp.fromDate(now))
          .orderBy('retentionDueAt')
          .orderBy(FieldPath.documentId())
          .limit(limit);
        if (cursor) query = query.startAfter(cursor.dueAt, cursor.jobId);
        const page = (await query.get()).docs.map((d) => d.data() as Job);
        if (page.length === 0) {
          report.completedPass = true;
          break;
        }
        for (const job of page) {
          report.jobsSeen += 1;
          cursor = { dueAt: job.retentionDueAt!, jobId: job.jobId };
          if (!retentionOf.has(job.tenantId))
            retentionOf.set(
              job.tenantId,
              deps.tenants.getTenant(job.tenantId).then((t) => effectiveRetention(t)),
            );
          const decision = decide(now, job, await retentionOf.get(job.tenantId)!);
          for (const action of decision.actions) {
            const objects = await carryOut(job, action, dryRun);
            // An erased job's folder is looked at for a week; only what was found is worth a line.
            if (action.what === 'erased' && objects === 0) continue;
            const mode = dryRun ? 'dry_run' : 'deleted';
            deps.log.info(dryRun ? 'retention would delete' : 'retention deleted', {
              jobId: job.jobId,
              tenantId: job.tenantId,
              what: action.what,
              ageDays: action.ageDays,
              rule: action.rule,
              objects,
              dryRun,
            });
            count('retentionDeletions', { class: action.what, mode });
            report.actions.push({ ...action, jobId: job.jobId, tenantId: job.tenantId, objects });
          }
          const recordGone = decision.actions.some((a) => a.what === 'record');
          if (dryRun || recordGone) continue;
          await jobs.doc(job.jobId).update({
            ...(decision.expiresAt && job.expiresAt?.toMillis() !== decision.expiresAt.getTime()
              ? { expiresAt: Timestamp.fromDate(decision.expiresAt) }
              : {}),
            retentionDueAt: decision.nextDueAt ? Timestamp.fromDate(decision.nextDueAt) : FieldValue.delete(),
          });
        }
        if (page.length < limit) {
          report.completedPass = true;
          break;
        }
      }
      return report;
    },
  };
}

/** Runs the sweeper every `intervalMs` (never two runs at once); stop() waits for a run under way. */
export function startRetentionSweeper(
  deps: RetentionDeps,
  intervalMs: number,
): { stop(): Promise<void>; sweeper: RetentionSweeper } {
  const sweeper = createRetentionSweeper(deps);
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= sweeper
      .runOnce()
      .catch((error: unknown) => deps.log.error('retention sweep failed', { error }))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    sweeper,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
