import { Timestamp, type Firestore } from '@google-cloud/firestore';
import { runJobTransaction } from './firestore';
import { planVersionOf, type Job, type JobPreview } from './types';

export type PreviewChange = Pick<JobPreview, 'planVersion' | 'status'> &
  Partial<Pick<JobPreview, 'uri' | 'durationSeconds' | 'error'>>;

export type PreviewResult =
  | { changed: true; job: Job }
  | { changed: false; job: Job | null; why: 'not_found' | 'stale' | 'already_there' | 'final' };

/**
 * `job.preview`: the state of the newest plan version's free preview. It never goes back: a
 * preview of an older version than the job's plan or the stored preview is refused (`stale`),
 * and a READY preview stays READY (a redelivered request cannot put it back to RENDERING). A
 * FAILED one may be tried again. Only `preview` and one timeline event are written: nothing the
 * paid pipeline reads (status, version, shots, costs) changes.
 */
export class PreviewStore {
  constructor(private readonly db: Firestore) {}

  async record(jobId: string, change: PreviewChange): Promise<PreviewResult> {
    return runJobTransaction(this.db, 'recordPreview', async (tx) => {
      const ref = this.db.collection('jobs').doc(jobId);
      const snap = await tx.get(ref);
      if (!snap.exists) return { changed: false, job: null, why: 'not_found' } as const;
      const job = snap.data() as Job;
      const current = job.preview;
      if (change.planVersion < planVersionOf(job) || change.planVersion < (current?.planVersion ?? 0))
        return { changed: false, job, why: 'stale' } as const;
      if (current?.planVersion === change.planVersion) {
        if (current.status === change.status) return { changed: false, job, why: 'already_there' } as const;
        if (current.status === 'READY') return { changed: false, job, why: 'final' } as const;
      }
      const at = Timestamp.now();
      const preview: JobPreview = { ...change, at };
      tx.update(ref, { preview });
      tx.set(ref.collection('events').doc(`preview-v${change.planVersion}-${change.status}`), {
        type: `preview.${change.status.toLowerCase()}`,
        at,
        data: {
          planVersion: change.planVersion,
          ...(change.durationSeconds !== undefined ? { durationSeconds: change.durationSeconds } : {}),
          ...(change.error ? { error: change.error } : {}),
          // The ledger's side of it: a preview is never billed.
          costUsd: 0,
        },
      });
      return { changed: true, job: { ...job, preview } } as const;
    });
  }
}
