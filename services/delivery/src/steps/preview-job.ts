import { RetryableError } from '@aiprod/contracts';
import { planVersionOf, type Job } from '@aiprod/job-store';
import { MediaError } from '@aiprod/media';
import type { Log } from '@aiprod/pubsub';
import { redactInternalNames } from '@aiprod/webhooks';
import type { DeliveryDeps } from '../app';
import { notifyAwaitingApproval } from './notify-awaiting-approval';
import { renderPreview } from './render-preview';

/**
 * Makes the preview of one plan version, at most once: RENDERING → READY (then the approval
 * webhook) or FAILED on job.preview. A request for a superseded version, or for a finished job,
 * does nothing; a repeat after READY only makes sure the webhook was sent. A preview never fails
 * the job or throws a PermanentError (which would): what cannot be rendered is recorded on
 * job.preview, and a transient failure is retried until the last delivery, then recorded too.
 */
export async function previewJob(
  deps: DeliveryDeps,
  job: Job,
  planVersion: number,
  log: Log,
  options: { lastAttempt: boolean },
): Promise<void> {
  const plan = job.plan;
  if (!plan || job.status === 'CANCELED' || job.status === 'FAILED') {
    log.info('no preview: the job has no plan or is over', { status: job.status, planVersion });
    return;
  }
  const current = planVersionOf(job);
  if (planVersion < current) {
    log.info('preview of a superseded plan version skipped', { planVersion, current });
    return;
  }
  // The request was published after the plan was saved, so a newer version is on its way here.
  if (planVersion > current) throw new RetryableError(`plan version ${planVersion} not stored yet (at ${current})`);
  if (job.preview?.planVersion === planVersion && job.preview.status === 'READY')
    return notifyAwaitingApproval(deps, job, log);

  const started = await deps.previews.record(job.jobId, { planVersion, status: 'RENDERING' });
  if (!started.changed && started.why !== 'already_there') {
    log.info('preview not started', { planVersion, why: started.why });
    return;
  }
  let rendered: { uri: string; durationSeconds: number };
  try {
    rendered = await renderPreview(deps, { ...job, plan }, planVersion);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const permanent = err instanceof MediaError && err.kind === 'invalid';
    if (!permanent && !options.lastAttempt) throw new RetryableError(`preview: ${message}`, undefined, { cause: err });
    log.warn('preview failed', { planVersion, error: message });
    const error = redactInternalNames(message).slice(0, 300);
    await deps.previews.record(job.jobId, { planVersion, status: 'FAILED', error });
    return;
  }
  const ready = await deps.previews.record(job.jobId, { planVersion, status: 'READY', ...rendered });
  log.info('preview ready', { planVersion, durationSeconds: rendered.durationSeconds, changed: ready.changed });
  if (ready.job) await notifyAwaitingApproval(deps, ready.job, log);
}
