import { planVersionOf, type Job, type Shot } from '@aiprod/job-store';
import type { BlobStore } from '@aiprod/storage';
import { cutSeconds, roundUsd } from '@aiprod/vendor-catalogue';
import type { PlanViewBody } from './openapi/plan-schemas';
import { EDITABLE_SHOT_FIELDS, editableBackends, shotPlanOf, type EditContext } from './plan-edits';

/** The plan's ETag: its version, quoted (a strong validator). */
export const planEtag = (job: Job) => `"${planVersionOf(job)}"`;

/**
 * The job's latest preview, as the preview pipeline stores it on the job (see the issue-17
 * contract); read here without depending on how it is written.
 */
interface JobPreview {
  planVersion: number;
  status: 'RENDERING' | 'READY' | 'FAILED';
  uri?: string;
}

const iso = (t: { toDate(): Date } | null | undefined) => (t ? t.toDate().toISOString() : null);

async function previewView(job: Job, storage: BlobStore, ttlSeconds: number): Promise<PlanViewBody['preview']> {
  const preview = (job as Job & { preview?: JobPreview }).preview;
  if (!preview) return null;
  const url =
    preview.status === 'READY' && preview.uri
      ? await storage.signedUrl(storage.keyFromUri(preview.uri), { expiresInSeconds: ttlSeconds })
      : undefined;
  return {
    planVersion: preview.planVersion,
    status: preview.status,
    current: preview.planVersion === planVersionOf(job),
    ...(url ? { url } : {}),
  };
}

/**
 * The storyboard a client approves: each shot exactly as the render pools will be sent it, with
 * what it costs from the estimate stored with this version (the figures the approval and the
 * budget cap were compared with), and the totals of that estimate.
 */
export async function planView(
  job: Job,
  shots: Shot[],
  ctx: EditContext & { storage: BlobStore; urlTtlSeconds: number },
): Promise<PlanViewBody> {
  const plan = job.plan!;
  const estimate = plan.estimate;
  const costOf = new Map((estimate?.shots ?? []).map((s) => [s.shotId, s]));
  const table = shotPlanOf(job, shots).continuity;
  const base = `/v1/jobs/${job.jobId}`;
  return {
    jobId: job.jobId,
    status: job.status,
    version: planVersionOf(job),
    etag: planEtag(job),
    approvedVersion: plan.approval?.version ?? null,
    changesRequested: plan.changesRequested
      ? {
          version: plan.changesRequested.version,
          notes: plan.changesRequested.notes,
          at: iso(plan.changesRequested.at),
        }
      : null,
    notes: plan.notes ?? [],
    director: plan.director,
    width: plan.width,
    height: plan.height,
    fps: plan.fps,
    endCardSeconds: plan.endCardSeconds,
    transition: plan.transition ?? null,
    cutSeconds: roundUsd(
      cutSeconds(
        shots.map((s) => s.spec.durationSeconds),
        plan.endCardSeconds,
        plan.transition?.durationSeconds ?? 0,
      ),
    ),
    continuity: table,
    references: (job.references ?? []).map((r) => ({
      id: r.id,
      role: r.role,
      source: r.source.kind,
      contentType: r.contentType,
      width: r.width,
      height: r.height,
      sizeBytes: r.sizeBytes,
      sha256: r.sha256,
      description: r.description ?? null,
    })),
    shots: shots.map((s) => {
      const cost = costOf.get(s.shotId);
      return {
        id: s.shotId,
        index: s.index,
        purpose: s.spec.purpose,
        durationSeconds: s.spec.durationSeconds,
        prompt: s.spec.prompt,
        negativePrompt: s.spec.negativePrompt ?? null,
        camera: s.spec.camera,
        onScreenText: s.spec.onScreenText ?? null,
        voiceOver: s.spec.voiceOver ?? null,
        continuity: (s.spec.continuity ?? []).map((c) => c.id),
        references: (s.spec.references ?? []).map((r) => r.id),
        backend: s.backend,
        model: cost?.model ?? null,
        audio: s.spec.audio === true,
        cost: cost
          ? {
              firstPassUsd: cost.firstAttemptUsd,
              expectedUsd: cost.expectedUsd,
              worstCaseUsd: cost.worstCaseUsd,
              fallbackChain: cost.fallbackChain ?? null,
              ...(cost.degraded ? { degraded: cost.degraded } : {}),
              ...(cost.referenceNote ? { referenceNote: cost.referenceNote } : {}),
            }
          : null,
      };
    }),
    totals: estimate
      ? {
          currency: estimate.currency,
          priceTableVersion: estimate.priceTableVersion,
          firstPassUsd: estimate.firstPassUsd,
          expectedUsd: estimate.totalUsd,
          worstCaseUsd: estimate.worstCaseUsd,
          budgetCapUsd: estimate.budgetCapUsd ?? null,
        }
      : null,
    editable: { fields: [...EDITABLE_SHOT_FIELDS], backends: editableBackends(job, ctx) },
    preview: await previewView(job, ctx.storage, ctx.urlTtlSeconds),
    links: { job: base, approve: `${base}/approve`, changes: `${base}/plan/changes`, events: `${base}/events` },
  };
}
