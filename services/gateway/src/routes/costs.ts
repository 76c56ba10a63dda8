import { createHash } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import type { ApiKeyScope, Job, JobStore } from '@aiprod/job-store';
import type { CostsViewBody } from '../openapi/schemas';
import { jobOrTombstoneOfCaller } from '../request';

type LedgerLine = Awaited<ReturnType<JobStore['listCosts']>>[number];
type CostLineView = CostsViewBody['lines'][number];

const roundUsd = (usd: number) => Math.round(usd * 1e6) / 1e6;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Older line ids were `${shotId}-a${attempt}-${backend}-${vendorTaskId}` as a document id (what it
 * may not hold replaced by `_`, cut at 200 characters); Veo's task id is a full operation name
 * with the Google project. Such an id is shown with the task id replaced by an opaque hash of it.
 */
function publicLineId(line: LedgerLine, vendorTaskId: string | undefined): string {
  if (!vendorTaskId) return line.key;
  const ref = createHash('sha256').update(vendorTaskId).digest('hex').slice(0, 16);
  const asStored = vendorTaskId.replace(/[^A-Za-z0-9_.:-]/g, '_');
  const prefix = `${str(line.shotId)}-a${String(line.attempt)}-${str(line.backend)}-`;
  const rest = line.key.startsWith(prefix) ? line.key.slice(prefix.length) : '';
  // The task id, possibly cut short by the 200-character limit.
  if (rest && asStored.startsWith(rest)) return `${prefix}${ref}`;
  // Ids made otherwise (the render pools now hash the task id) are shown as they are.
  return line.key.split(vendorTaskId).join(ref).split(asStored).join(ref);
}

/**
 * One ledger line as the client sees it. The render pools' internal fields (the vendor task id,
 * the error class) are left out by construction: only the named fields are copied. Lines written
 * before seconds, charged and taskRef were recorded get the documented defaults.
 */
function lineView(line: LedgerLine): CostLineView {
  const amountUsd = typeof line.costUsd === 'number' ? line.costUsd : 0;
  const at = line.at as { toDate?: () => Date } | undefined;
  const taskRef = str(line.taskRef);
  return {
    line: publicLineId(line, str(line.vendorTaskId)),
    shotId: str(line.shotId) ?? '',
    attempt: typeof line.attempt === 'number' ? line.attempt : 1,
    backend: line.backend as CostLineView['backend'],
    model: str(line.model) ?? '',
    outcome: line.outcome as CostLineView['outcome'],
    seconds: typeof line.seconds === 'number' ? line.seconds : null,
    charged: typeof line.charged === 'boolean' ? line.charged : amountUsd > 0,
    amountUsd,
    at: typeof at?.toDate === 'function' ? at.toDate().toISOString() : null,
    task: taskRef && /^[0-9a-f]{16}$/.test(taskRef) ? taskRef : null,
  };
}

export function costsView(job: Job, ledger: LedgerLine[]): CostsViewBody {
  const lines = ledger.map(lineView);
  return {
    jobId: job.jobId,
    currency: 'USD',
    totalUsd: roundUsd(lines.reduce((sum, l) => sum + l.amountUsd, 0)),
    budgetCapUsd: job.plan?.estimate?.budgetCapUsd ?? null,
    lines,
  };
}

/**
 * GET /v1/jobs/{id}/costs: the cost ledger (jobs/{id}/costs), oldest first. A job has a bounded
 * number of lines (shots × attempts × tries), so the ledger is answered whole, unpaged. An erased
 * job's ledger is kept, stripped to its billing fields, for the tenant's invoice: it answers too.
 */
export function costRoutes(deps: { jobs: JobStore; requireScope: (scope: ApiKeyScope) => RequestHandler }): Router {
  const router = Router();
  router.get('/v1/jobs/:id/costs', deps.requireScope('jobs:read'), async (req, res) => {
    const job = await jobOrTombstoneOfCaller(req, res, deps.jobs);
    res.json(costsView(job, await deps.jobs.listCosts(job.jobId)));
  });
  return router;
}
