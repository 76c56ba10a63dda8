import type { SpeechEngine } from '@aiprod/speech';
import type { TopicsOf } from '@aiprod/contracts';
import type { HandlerMap } from '@aiprod/pubsub';
import type { CoreDeps, SweepPolicies } from '@aiprod/service-runtime';
import type { PreviewStore } from '@aiprod/job-store';
import type { BlobStore } from '@aiprod/storage';
import { jobAssembleHandler } from './handlers/job-assemble';
import { jobFinishedHandler } from './handlers/job-finished';
import { previewRequestedHandler } from './handlers/preview-requested';
import { assembleJob } from './steps/assemble-job';
import type { WebhookDeps } from './steps/send-webhook';

export interface DeliveryDeps extends CoreDeps<'delivery'>, WebhookDeps {
  storage: BlobStore;
  /** job.preview: the free previews' state (never the paid render's). */
  previews: PreviewStore;
  workDir: string;
  assemblyTimeoutMs: number;
  /** Overall deadline of the brand-logo download (default 15 s). */
  logoFetchTimeoutMs?: number;
  /** Speaks the voice-over lines (SPEECH_ENGINE: espeak-ng offline, or Google Cloud Text-to-Speech). */
  speech: SpeechEngine;
}

export function buildDelivery(deps: DeliveryDeps): HandlerMap<TopicsOf<'delivery'>> {
  return {
    'aiprod.job.assemble.v1': jobAssembleHandler(deps),
    'aiprod.job.finished.v1': jobFinishedHandler(deps),
    'aiprod.preview.requested.v1': previewRequestedHandler(deps),
  };
}

/** Delivery sweeps ASSEMBLING (see SWEEPERS): an assembly that never finished is run again, then given up on. */
export function deliverySweep(deps: DeliveryDeps): SweepPolicies<'delivery'> {
  return {
    ASSEMBLING: {
      maxSweeps: 2,
      nudge: (job) => assembleJob(deps, job, deps.log.child({ jobId: job.jobId, sweep: true })),
    },
  };
}

/**
 * What a dead letter of delivery's means for its job: a preview's never fails it (see
 * previewLetterSuperseded), and neither does an assembly's while the job is still ASSEMBLING.
 * Every shot of that job is paid for, and a dead-lettered assembly is one whose every attempt
 * failed retryably (an outage of Text-to-Speech or storage outlasting the message's retries; a
 * refusal of its input fails the job at once, without a dead letter): the ASSEMBLING sweeper runs
 * it again later, and fails the job with deadline_exceeded only after its last nudge.
 */
export async function deliveryLetterSuperseded(
  deps: DeliveryDeps,
  letter: { topic: string; jobId?: string; data: string },
): Promise<string | null> {
  if (letter.topic === 'aiprod.preview.requested.v1') return previewLetterSuperseded(deps, letter);
  if (letter.topic !== 'aiprod.job.assemble.v1' || !letter.jobId) return null;
  const job = await deps.jobs.getJob(letter.jobId);
  if (job?.status !== 'ASSEMBLING') return null;
  return 'the assembly failed on every delivery of its message; the ASSEMBLING sweeper runs it again later';
}

/**
 * A dead-lettered preview request must not fail the job (the runtime's default for a dead letter):
 * the preview is marked FAILED instead, and the letter is reported as moot for the job.
 */
export async function previewLetterSuperseded(
  deps: DeliveryDeps,
  letter: { topic: string; jobId?: string; data: string },
): Promise<string | null> {
  if (letter.topic !== 'aiprod.preview.requested.v1') return null;
  let planVersion = NaN;
  try {
    planVersion = Number((JSON.parse(letter.data) as { planVersion?: unknown }).planVersion);
  } catch {
    // A letter that is not even JSON: nothing to mark, and still nothing to fail the job over.
  }
  if (letter.jobId && Number.isSafeInteger(planVersion) && planVersion >= 1) {
    await deps.previews.record(letter.jobId, {
      planVersion,
      status: 'FAILED',
      error: 'the preview could not be rendered',
    });
  }
  return 'a preview failed; the job does not depend on it';
}
