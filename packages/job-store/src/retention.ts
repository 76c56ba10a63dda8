import type { Timestamp } from '@google-cloud/firestore';

/**
 * How long a tenant's job data is kept, in days after the job ended (DELIVERED, FAILED or
 * CANCELED): its delivered files, its working copies, and the job record itself. Absent fields
 * take DEFAULT_RETENTION's.
 */
export interface TenantRetention {
  /** Final cuts, captions, voice tracks, stills and provenance: what the client downloads. */
  outputsDays?: number;
  /** Shot attempt clips, QA evidence frames, reference and music copies, previews. */
  intermediateDays?: number;
  /** The job document and its subcollections (timeline, shots, costs): billing and audit. */
  recordsDays?: number;
}

export type Retention = Required<TenantRetention>;

/** A week to re-download or dispute a shot, a month to fetch the deliverables, 13 months of records for a year's invoices and audits. */
export const DEFAULT_RETENTION: Readonly<Retention> = Object.freeze({
  outputsDays: 30,
  intermediateDays: 7,
  recordsDays: 400,
});

/**
 * Files are kept at most 400 days whatever a tenant asks: the media bucket's lifecycle rule deletes
 * any object older than that (terraform/modules/storage, a backstop should the sweeper stop), so a
 * longer setting would be a promise the cloud does not keep. Records may be kept up to ten years.
 */
export const RETENTION_BOUNDS: Readonly<Record<keyof Retention, { min: number; max: number }>> = Object.freeze({
  outputsDays: { min: 1, max: 400 },
  intermediateDays: { min: 1, max: 400 },
  // The record holds the cost ledger the tenant's invoice is made from: a quarter at least, so a
  // month's bill can be closed and disputed before it goes.
  recordsDays: { min: 90, max: 3650 },
});

/** Why `r` is not a valid retention setting, or null. */
export function retentionProblem(r: unknown): string | null {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'retention must be an object';
  for (const key of Object.keys(r)) {
    if (!(key in RETENTION_BOUNDS)) return `unknown retention field ${JSON.stringify(key)}`;
  }
  for (const [key, { min, max }] of Object.entries(RETENTION_BOUNDS)) {
    const value = (r as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max)
      return `${key} must be an integer number of days in ${min}..${max}`;
  }
  return null;
}

/** A tenant's retention with the defaults filled in (a tenant without a setting, or none at all, gets the defaults). */
export function effectiveRetention(tenant: { retention?: TenantRetention } | null | undefined): Retention {
  const r = tenant?.retention ?? {};
  return {
    outputsDays: r.outputsDays ?? DEFAULT_RETENTION.outputsDays,
    intermediateDays: r.intermediateDays ?? DEFAULT_RETENTION.intermediateDays,
    recordsDays: r.recordsDays ?? DEFAULT_RETENTION.recordsDays,
  };
}

/** What the retention sweeper has done to a job, kept on the job document. */
export interface JobRetentionState {
  /** When the working copies (shots, evidence, references, music, previews) were deleted. */
  intermediatesDeletedAt?: Timestamp;
}
