import { mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Timestamp } from '@google-cloud/firestore';
import { isTerminal, PermanentError, presetOf, type ShotSpec } from '@aiprod/contracts';
import { renderRequestFor, type Job, type QaReport, type Shot } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { evaluateClip, expectationFromSpec } from '@aiprod/clip-checks';
import { count } from '@aiprod/observability';
import { qaEvidencePrefix } from '@aiprod/storage';
import type { QaDeps } from '../app';

async function requestAssembly(deps: QaDeps, job: Job): Promise<void> {
  await deps.publisher.publish('aiprod.job.assemble.v1', { v: 1, jobId: job.jobId, tenantId: job.tenantId });
}

/** Publishes the render request for a shot's current attempt (render dedupes a repeat). */
export async function requestRender(deps: QaDeps, job: Job, shot: Shot): Promise<void> {
  const request = renderRequestFor(job, shot);
  await deps.publisher.publish(request.topic, request.message);
}

/** A retake is not the same request again: a new seed, and the reasons the last take failed. */
export function retakeSpec(spec: ShotSpec, nextAttempt: number, failedChecks: string[]): ShotSpec {
  return {
    ...spec,
    seed: nextAttempt * 7919,
    retakeNote: `Previous take rejected by QA: ${failedChecks.join(', ')}.`.slice(0, 300),
  };
}

/** What QA needs to know about one rendered attempt: the message, or the stored shot. */
export interface RenderedAttempt {
  jobId: string;
  tenantId: string;
  shotId: string;
  attempt: number;
  clipUri: string;
}

/** Runs every check on the clip and stores the evidence frames beside it. */
async function inspect(deps: QaDeps, job: Job, shot: Shot, msg: RenderedAttempt): Promise<QaReport> {
  const dir = await mkdtemp(join(deps.workDir, 'qa-'));
  try {
    const preset = presetOf(job.preset);
    const evaluation = await deps.storage.withLocalFile(deps.storage.keyFromUri(msg.clipUri), (file) =>
      evaluateClip({
        file,
        // Only Veo generates sound with the picture; the others are silent and sound is added at assembly.
        expectation: expectationFromSpec(shot.spec, shot.spec.audio === true),
        thresholds: preset.qa,
        spec: shot.spec,
        backend: shot.backend,
        judge: deps.judge,
        workDir: dir,
        timeoutMs: deps.timeoutMs,
      }),
    );
    const prefix = qaEvidencePrefix({
      tenantId: job.tenantId,
      jobId: job.jobId,
      shotId: shot.shotId,
      attempt: msg.attempt,
    });
    const evidence = await Promise.all(
      evaluation.evidenceFrames.map(
        async (frame) =>
          (await deps.storage.putFile(`${prefix}/${basename(frame)}`, frame, { contentType: 'image/png' })).uri,
      ),
    );
    return {
      attempt: msg.attempt,
      verdict: evaluation.verdict,
      checks: evaluation.checks,
      evidence,
      judge: deps.judge?.name ?? null,
      timings: evaluation.timings,
      at: Timestamp.now(),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Checks one rendered attempt. Pass → the shot is PASSED, and the last shot to pass requests
 * assembly (once, in the same transaction). Reject → a retake (new seed, the reasons attached),
 * up to the preset's attempts, then the job fails naming the checks that failed. Repeats
 * re-publish what the state says was due.
 */
export async function checkRenderedShot(deps: QaDeps, msg: RenderedAttempt, log: Log): Promise<void> {
  const [job, shot] = await Promise.all([deps.jobs.getJob(msg.jobId), deps.jobs.getShot(msg.jobId, msg.shotId)]);
  if (!job || !shot || job.tenantId !== msg.tenantId) {
    throw new PermanentError('invalid_message', `shot ${msg.shotId} of job ${msg.jobId} does not exist`);
  }
  if (isTerminal(job.status)) return;
  if (shot.status === 'PASSED' && shot.attempt === msg.attempt) {
    if (job.status === 'ASSEMBLING') await requestAssembly(deps, job);
    return;
  }
  if (shot.status === 'REJECTED' && shot.attempt === msg.attempt + 1) return requestRender(deps, job, shot);
  if (shot.status !== 'RENDERED' || shot.attempt !== msg.attempt) {
    log.info('stale QA request', { status: shot.status, current: shot.attempt });
    return;
  }

  const report = await inspect(deps, job, shot, msg);
  recordChecks(report);
  const failed = report.checks.filter((c) => c.verdict === 'fail');
  log.info('QA verdict', { verdict: report.verdict, failed: failed.map((c) => c.name), ...report.timings });
  if (!failed.length) {
    const result = await deps.attempts.pass(msg.jobId, msg.shotId, msg.attempt, report);
    if (result.job?.status === 'ASSEMBLING') await requestAssembly(deps, result.job);
    return;
  }

  const summary = failed
    .map((c) => `${c.name}: measured ${String(c.measured)}, expected ${c.expected ?? 'a pass'}`)
    .join('; ');
  const maxAttempts = presetOf(job.preset).qa.maxAttempts;
  if (msg.attempt >= maxAttempts) {
    await deps.attempts.failQa(msg.jobId, msg.shotId, msg.attempt, report);
    throw new PermanentError('qa_failed', `shot ${msg.shotId} failed QA after ${msg.attempt} attempts: ${summary}`);
  }
  const retake = await deps.attempts.reject(
    msg.jobId,
    msg.shotId,
    msg.attempt,
    report,
    (spec) =>
      retakeSpec(
        spec,
        msg.attempt + 1,
        failed.map((c) => c.name),
      ),
    summary,
  );
  if (retake) await requestRender(deps, job, retake);
}

/** Each check's verdict; a check that ran gets its `fail` series at zero too, for rates and alerts. */
function recordChecks(report: QaReport): void {
  for (const check of report.checks) {
    count('qaChecks', { check: check.name, verdict: check.verdict });
    if (check.verdict !== 'fail') count('qaChecks', { check: check.name, verdict: 'fail' }, 0);
  }
}
