import { isErased, planVersionOf, type Job, type JobEvent, type JobOutput, type Shot } from '@aiprod/job-store';
import type { BlobStore } from '@aiprod/storage';
import { redactInternalNames } from '@aiprod/webhooks';

const iso = (t: { toDate(): Date } | null | undefined) => (t ? t.toDate().toISOString() : null);

/** The delivered files and stills as links signed for `urlTtlSeconds`. */
export async function signedOutputs(job: Job, storage: BlobStore, urlTtlSeconds: number) {
  const urlExpiresAt = new Date(Date.now() + urlTtlSeconds * 1000).toISOString();
  // Deleted under the tenant's retention: no link to a file that is gone (GET …/outputs says 410).
  if (job.outputsExpiredAt)
    return { expiresAt: urlExpiresAt, outputs: [], stills: null, provenanceUrl: null, voiceTracks: [] };
  const outputs = await Promise.all(
    (job.outputs ?? []).map(async (o) => ({
      variant: o.variant,
      url: await storage.signedUrl(storage.keyFromUri(o.uri), {
        expiresInSeconds: urlTtlSeconds,
        filename: `${job.jobId}-${fileName(o)}.mp4`,
      }),
      urlExpiresAt,
      durationSeconds: o.durationSeconds,
      width: o.width,
      height: o.height,
      sizeBytes: o.sizeBytes,
      sha256: o.sha256,
      ...(o.integratedLufs !== undefined ? { integratedLufs: o.integratedLufs } : {}),
      ...(o.language ? { language: o.language } : {}),
      ...(o.captions
        ? {
            captions: {
              vttUrl: await storage.signedUrl(storage.keyFromUri(o.captions.vttUri), {
                expiresInSeconds: urlTtlSeconds,
                filename: `${job.jobId}-${fileName(o)}.vtt`,
              }),
              srtUrl: await storage.signedUrl(storage.keyFromUri(o.captions.srtUri), {
                expiresInSeconds: urlTtlSeconds,
                filename: `${job.jobId}-${fileName(o)}.srt`,
              }),
              cues: o.captions.cues,
            },
          }
        : {}),
      qa: o.qa ?? null,
    })),
  );
  const voiceTracks = await Promise.all(
    (job.voiceTracks ?? []).map(async (v) => ({
      language: v.language,
      url: await storage.signedUrl(storage.keyFromUri(v.uri), {
        expiresInSeconds: urlTtlSeconds,
        filename: `${job.jobId}-voice-${v.language}.wav`,
      }),
      engine: v.engine,
      voice: v.voice,
      timing: v.timing,
    })),
  );
  const sign = (uri: string) => storage.signedUrl(storage.keyFromUri(uri), { expiresInSeconds: urlTtlSeconds });
  const stills = job.stills
    ? { posterUrl: await sign(job.stills.posterUri), contactSheetUrl: await sign(job.stills.contactSheetUri) }
    : null;
  const provenanceUrl = job.provenanceUri ? await sign(job.provenanceUri) : null;
  return { expiresAt: urlExpiresAt, outputs, stills, provenanceUrl, voiceTracks };
}

/** A delivered file's download name: its variant, after its language when the job has several. */
const fileName = (o: JobOutput) =>
  `${o.language && o.language !== 'en' ? `${o.language}-` : ''}${o.variant.replace(':', 'x')}`;

/** A job as listed: what a dashboard needs for a row, nothing signed. An erased job is listed
 *  as its tombstone: its cost still counts on the tenant's bill, but it has no product any more. */
export function jobSummaryView(job: Job) {
  if (isErased(job)) return erasedJobView(job);
  return {
    id: job.jobId,
    status: job.status,
    preset: job.preset,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    costUsd: job.costUsd,
    product: job.brief.product,
    ...(job.brief.metadata ? { metadata: job.brief.metadata } : {}),
  };
}

/** What DELETE /v1/jobs/{id} answers, and how the list shows an erased job: its tombstone. */
export function erasedJobView(
  job: Pick<Job, 'jobId' | 'status' | 'preset' | 'createdAt' | 'updatedAt' | 'costUsd' | 'erasedAt'>,
) {
  return {
    id: job.jobId,
    status: job.status,
    preset: job.preset,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    costUsd: job.costUsd,
    erasedAt: iso(job.erasedAt),
  };
}

/** The client's view of a job: never internal storage URIs, outputs as short-lived signed links. */
export async function jobView(job: Job, shots: Shot[], events: JobEvent[], storage: BlobStore, urlTtlSeconds: number) {
  const { outputs, stills, provenanceUrl, voiceTracks } = await signedOutputs(job, storage, urlTtlSeconds);
  return {
    id: job.jobId,
    status: job.status,
    preset: job.preset,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    brief: job.brief,
    costUsd: job.costUsd,
    ...(job.plan
      ? {
          plan: {
            director: job.plan.director,
            width: job.plan.width,
            height: job.plan.height,
            fps: job.plan.fps,
            estimatedCostUsd: job.plan.estimatedCostUsd,
            version: planVersionOf(job),
            approvedVersion: job.plan.approval?.version ?? null,
            // The storyboard: every shot's prompts, camera, text and costs, and its ETag.
            href: `/v1/jobs/${job.jobId}/plan`,
          },
        }
      : {}),
    ...(job.error
      ? { error: { reason: job.error.reason, message: redactInternalNames(job.error.message), at: iso(job.error.at) } }
      : {}),
    qa: {
      shotsPassed: shots.filter((s) => s.status === 'PASSED').length,
      shotsTotal: shots.length,
      retakes: shots.reduce((n, s) => n + Math.max(0, s.attempt - 1), 0),
    },
    shots: await Promise.all(
      shots.map(async (s) => ({
        id: s.shotId,
        status: s.status,
        attempt: s.attempt,
        purpose: s.spec.purpose,
        durationSeconds: s.spec.durationSeconds,
        onScreenText: s.spec.onScreenText ?? null,
        backend: s.backend,
        qa: s.qa
          ? {
              attempt: s.qa.attempt,
              verdict: s.qa.verdict,
              judge: s.qa.judge ?? null,
              checks: s.qa.checks,
              // Working copies deleted under the tenant's retention: no link to a file that is gone.
              evidence: await Promise.all(
                (job.retention?.intermediatesDeletedAt ? [] : (s.qa.evidence ?? [])).map((uri) =>
                  storage.signedUrl(storage.keyFromUri(uri), { expiresInSeconds: urlTtlSeconds }),
                ),
              ),
            }
          : null,
      })),
    ),
    outputs,
    stills,
    provenanceUrl,
    voiceTracks,
    events: events.map(eventView),
  };
}

/**
 * The event data fields a client may see (in GET /v1/jobs/{id} and the SSE feed), at any depth.
 * Anything else stays in Firestore for operators: vendor task ids, Pub/Sub subscriptions, topics
 * and message ids, operators' names, storage URIs. A new field is hidden until it is added here.
 */
export const CLIENT_EVENT_FIELDS: ReadonlySet<string> = new Set([
  // job transitions and outcomes
  'status',
  'from',
  'reason',
  'message',
  'by',
  'approver',
  'sweep',
  // planning, and the plan's versions before approval
  'shots',
  'planVersion',
  'kind',
  'notes',
  'director',
  'estimatedCostUsd',
  'retryable',
  // rendering and QA
  'shotId',
  'attempt',
  'backend',
  'progress',
  'detail',
  'class',
  'code',
  'action',
  'to',
  'delayMs',
  'why',
  'costUsd',
  'failed',
  // an opaque hash of a vendor task (never the vendor's own id), and poll faults so far
  'task',
  'faults',
  // delivery and notifications
  'outputs',
  'variant',
  'durationSeconds',
  'width',
  'height',
  'sizeBytes',
  'webhookId',
  'outcome',
  'state',
  'error',
  // a refused message: what was wrong with it (its topic is not shown)
  'problem',
]);

const MAX_EVENT_DEPTH = 4;

/** Event data as a client may see it: allowed fields only, internal names taken out of the text. */
export function clientEventData(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactInternalNames(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_EVENT_DEPTH) return null;
  if (Array.isArray(value)) return value.map((v) => clientEventData(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [field, v] of Object.entries(value as Record<string, unknown>)) {
    if (CLIENT_EVENT_FIELDS.has(field) && v !== undefined) out[field] = clientEventData(v, depth + 1);
  }
  return out;
}

export const eventView = (e: JobEvent) => ({
  id: e.id,
  type: e.type,
  at: iso(e.at),
  data: clientEventData(e.data ?? {}) as Record<string, unknown>,
});
