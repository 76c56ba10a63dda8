import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PermanentError, RetryableError } from '@aiprod/contracts';
import { assemble, probe } from '@aiprod/media';
import { defineHandler, type Log } from '@aiprod/pubsub';
import type { Job, JobOutput } from '@aiprod/job-store';
import type { DeliveryDeps } from '../app';
import { withLocalFiles } from '../local-files';

const variantName = (aspect: string) => aspect.replace(':', 'x');
export const finalKey = (job: Pick<Job, 'tenantId' | 'jobId'>, aspect: string) =>
  `tenants/${job.tenantId}/jobs/${job.jobId}/outputs/final-${variantName(aspect)}.mp4`;

async function announce(deps: DeliveryDeps, job: Job): Promise<void> {
  await deps.publisher.publish('aiprod.job.finished.v1', {
    v: 1,
    jobId: job.jobId,
    tenantId: job.tenantId,
    status: 'DELIVERED',
  });
}

/**
 * Joins the passed shots and the end card into the final cut with one encode, stores it under a
 * deterministic key and marks the job DELIVERED. A redelivery after DELIVERED only re-announces;
 * one during assembly rewrites the same key with the same bytes (the render is deterministic).
 */
export const jobAssembleHandler = (deps: DeliveryDeps) =>
  defineHandler('aiprod.job.assemble.v1', async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId)
      throw new PermanentError('invalid_message', `job ${msg.jobId} does not exist`);
    await assembleJob(deps, job, ctx.log);
  });

/** Assembles, stores and delivers a job in ASSEMBLING; the handler and the sweeper both call it. */
export async function assembleJob(deps: DeliveryDeps, job: Job, log: Log): Promise<void> {
  if (job.status === 'DELIVERED') return announce(deps, job);
  if (job.status !== 'ASSEMBLING') {
    log.info('assembly not due', { status: job.status });
    return;
  }
  if (!job.plan) throw new PermanentError('assembly_failed', 'the job has no plan');
  const shots = await deps.jobs.listShots(job.jobId);
  const notPassed = shots.filter((s) => s.status !== 'PASSED');
  if (notPassed.length) throw new RetryableError(`shots not yet passed: ${notPassed.map((s) => s.shotId).join(', ')}`);
  const keys = shots.map((s) => {
    const uri = s.attempts[String(s.attempt)]?.clipUri;
    if (!uri) throw new PermanentError('assembly_failed', `shot ${s.shotId} has no stored clip`);
    return deps.storage.keyFromUri(uri);
  });

  const aspect = job.brief.aspectRatios[0]!;
  const brandColours = job.brief.brand.colors ?? [];
  const [darkest, brightest] = shots[0]!.spec.palette as [string, string];
  const dir = await mkdtemp(join(deps.workDir, 'assemble-'));
  try {
    const outFile = join(dir, 'final.mp4');
    await withLocalFiles(deps.storage, keys, (clips) =>
      assemble({
        clips,
        endCard: {
          brandName: job.brief.brand.name,
          ...(job.brief.callToAction ? { callToAction: job.brief.callToAction } : {}),
          colors: [darkest, brandColours[0] ?? brightest],
          durationSeconds: job.plan!.endCardSeconds,
        },
        width: job.plan!.width,
        height: job.plan!.height,
        fps: job.plan!.fps,
        outFile,
        timeoutMs: deps.assemblyTimeoutMs,
      }),
    );
    const info = await probe(outFile);
    const stored = await deps.storage.putFile(finalKey(job, aspect), outFile, { contentType: 'video/mp4', move: true });
    const output: JobOutput = {
      variant: aspect,
      uri: stored.uri,
      durationSeconds: Number(info.durationSeconds.toFixed(3)),
      width: info.video?.width ?? job.plan.width,
      height: info.video?.height ?? job.plan.height,
      sizeBytes: stored.sizeBytes,
      sha256: stored.sha256,
    };
    const delivered = await deps.jobs.transition(job.jobId, 'ASSEMBLING', 'DELIVERED', {
      patch: { outputs: [output] },
      event: {
        type: 'job.delivered',
        data: { outputs: [{ variant: aspect, durationSeconds: output.durationSeconds, sizeBytes: output.sizeBytes }] },
      },
    });
    if (delivered.value?.status === 'DELIVERED') await announce(deps, delivered.value);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
