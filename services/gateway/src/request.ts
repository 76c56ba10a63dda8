import type { Request, Response } from 'express';
import type { TSchema, Static } from '@sinclair/typebox';
import { validate } from '@aiprod/contracts';
import { isErased, type Job, type JobStore } from '@aiprod/job-store';
import { coerceQuery } from './brief';
import { HttpProblem } from './problem';

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const tenantOf = (req: Request) => req.principal!.tenantId;

/**
 * Who is acting, for the audit trail and `approver`: the OIDC subject for a token, else the API
 * key's prefix (never the key itself).
 */
export function principalName(req: Request): string {
  const p = req.principal as (Request['principal'] & { subject?: string; keyPrefix?: string }) | undefined;
  if (!p) return 'anonymous';
  if (p.via === 'review_link') return `review-link:${p.jobId ?? 'unknown'}`;
  if (p.subject) return `oidc:${p.subject}`.slice(0, 200);
  return `key:${p.keyPrefix ?? 'unknown'}`;
}

/**
 * The caller's job named by `:id`, or a 404: a malformed id, a missing job and another tenant's
 * job all answer the same, so a caller learns nothing about jobs it does not own. An erased job
 * (its tombstone) answers 410 on every route that goes through here: only its owner learns that.
 */
export async function jobOfCaller(req: Request, res: Response, jobs: JobStore): Promise<Job> {
  const job = await jobOrTombstoneOfCaller(req, res, jobs);
  if (isErased(job)) throw goneProblem(job);
  return job;
}

/** jobOfCaller, but an erased job's tombstone is returned rather than refused (DELETE answers it). */
export async function jobOrTombstoneOfCaller(req: Request, res: Response, jobs: JobStore): Promise<Job> {
  const id = String(req.params.id);
  const job = JOB_ID.test(id) ? await jobs.getJobForTenant(tenantOf(req), id) : null;
  if (!job) throw new HttpProblem('not_found', `no job ${JOB_ID.test(id) ? id : '(malformed id)'}`);
  // The access log names the job each request touched.
  res.locals.jobId = job.jobId;
  return job;
}

export const goneProblem = (job: Pick<Job, 'jobId' | 'erasedAt'>) =>
  new HttpProblem(
    'gone',
    `job ${job.jobId} was erased at ${job.erasedAt?.toDate().toISOString() ?? 'an unknown time'}`,
    {
      members: { erasedAt: job.erasedAt?.toDate().toISOString() ?? null },
    },
  );

/** Validates the query string against a closed schema; every rejection names the parameter. */
export function parseQuery<S extends TSchema>(req: Request, schema: S, integers: readonly string[]): Static<S> {
  const checked = validate(schema, coerceQuery(req.query as Record<string, unknown>, integers));
  if (!checked.ok) {
    throw new HttpProblem('validation', 'the query string is not valid', {
      errors: checked.errors.map((e) => ({ ...e, field: e.field.replace(/^\//, '/query/') })),
    });
  }
  return checked.value;
}
