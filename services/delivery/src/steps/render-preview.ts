import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CAMERA_MOVE_NAMES, finishCut, finishTimeline, MediaError, renderAnimatic } from '@aiprod/media';
import type { Job, JobPlan } from '@aiprod/job-store';
import { previewKey } from '@aiprod/storage';
import type { DeliveryDeps } from '../app';
import { fitLinesToShots, jobLanguages, languageCut, speakLanguage } from './sound';

/** Burned into every frame of a preview, end card included. */
export const PREVIEW_MARK = 'PREVIEW';

/**
 * Renders the free preview of one plan version: every shot as the `local` backend's animatic (the
 * same renderer, so no vendor is called), joined with exactly the final cut's timing (shot
 * durations, the plan's transition, end card and fps, the same music and voice-over with its captions)
 * in the brief's first aspect ratio, with a storyboard caption per shot (its visual description
 * and camera move) and the PREVIEW mark. It reads the shots' specs only: no attempt, lease, cache
 * entry or ledger line of the paid render is touched. No brand logo: fetching it is the paid
 * assembly's work, and the card's timing does not depend on it.
 */
export async function renderPreview(
  deps: DeliveryDeps,
  job: Job & { plan: JobPlan },
  planVersion: number,
): Promise<{ uri: string; durationSeconds: number }> {
  const shots = await deps.jobs.listShots(job.jobId);
  if (shots.length === 0) throw new MediaError('the plan has no shots', 'invalid');
  const aspect = job.brief.aspectRatios[0]!;
  const deadline = Date.now() + deps.assemblyTimeoutMs;
  const timeLeft = () => Math.max(1, deadline - Date.now());
  const dir = await mkdtemp(join(deps.workDir, 'preview-'));
  try {
    // The plan's own language, spoken and captioned as the final cut will be.
    const words = jobLanguages(job, shots)[0]!;
    const said = await speakLanguage(deps.speech, words, dir, timeLeft);
    const files: string[] = [];
    // One shot at a time: a preview takes one core's worth and leaves the rest to paid work.
    for (const shot of shots) {
      const file = join(dir, `${shot.shotId}.mp4`);
      await renderAnimatic(shot.spec, file, { timeoutMs: timeLeft() });
      files.push(file);
    }
    // A line a little longer than its shot leaves is sped up as the final cut's will be.
    const spoken = said
      ? await fitLinesToShots(
          finishTimeline(languageCut(job, shots, words, { clips: files })),
          said,
          shots,
          words.language,
          dir,
          { timeoutMs: timeLeft, log: deps.log.child({ jobId: job.jobId, planVersion }) },
        )
      : undefined;
    const outFile = join(dir, 'preview.mp4');
    const finish = (musicFile?: string) => {
      const cut = languageCut(job, shots, words, {
        clips: files,
        ...(musicFile ? { musicFile } : {}),
        ...(spoken ? { spoken } : {}),
      });
      return finishCut({
        ...cut,
        clips: cut.clips.map((clip, i) => ({
          ...clip,
          storyboard: { camera: CAMERA_MOVE_NAMES[shots[i]!.spec.camera], description: shots[i]!.spec.prompt },
        })),
        variants: [{ aspect, outFile }],
        sourceAspect: aspect,
        mark: PREVIEW_MARK,
        timeoutMs: timeLeft(),
      });
    };
    // The client's own music, as the final cut will have it.
    const [variant] = job.music
      ? await deps.storage.withLocalFile(job.music.path, (file) => finish(file))
      : await finish();
    const key = previewKey({ tenantId: job.tenantId, jobId: job.jobId, planVersion });
    const stored = await deps.storage.putFile(key, outFile, { contentType: 'video/mp4', move: true });
    return { uri: stored.uri, durationSeconds: Number(variant!.durationSeconds.toFixed(3)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
