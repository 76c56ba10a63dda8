import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PermanentError, presetOf, RetryableError, type Preset, type QaCheck } from '@aiprod/contracts';
import {
  contactSheet,
  finishCut,
  MediaError,
  finishTimeline,
  placeVoice,
  posterFrame,
  type FinishCue,
  type FinishInput,
  type FinishedVariant,
} from '@aiprod/media';
import { captionsSrt, captionsVtt } from '@aiprod/speech';
import { technicalChecks } from '@aiprod/clip-checks';
import type { Log } from '@aiprod/pubsub';
import type { Job, JobOutput, JobVoiceTrack } from '@aiprod/job-store';
import type { DeliveryDeps } from '../app';
import { captionsKey, finalCutKey, outputsPrefix, voiceTrackKey } from '@aiprod/storage';
import { fetchLogo } from '../brand-logo';
import { withLocalFiles } from '../local-files';
import { buildProvenanceManifest, storeProvenanceManifest } from './provenance';
import { fitLinesToShots, jobLanguages, languageCut, speakLanguage } from './sound';

/** Technical checks of a whole final cut (decoding it several times: black, frozen, loudness). */
const FINAL_CHECKS_TIMEOUT_MS = 120_000;
/** One frame grabbed from the first variant. */
const POSTER_FRAME_TIMEOUT_MS = 30_000;
/** A frame from each shot, tiled: one ffmpeg run over all the clips. */
const CONTACT_SHEET_TIMEOUT_MS = 60_000;

const variantName = (aspect: string) => aspect.replace(':', 'x');

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
 * deterministic key and marks the job DELIVERED. A repeat after DELIVERED only re-announces; one
 * during assembly rewrites the same key with the same bytes (the render is deterministic). The
 * job.assemble handler and the ASSEMBLING sweeper both call it.
 */
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

  const preset = presetOf(job.preset);
  const plan = job.plan;
  const dir = await mkdtemp(join(deps.workDir, 'assemble-'));
  try {
    const logoFile = await fetchLogo(deps, job, dir, log);
    const languages = jobLanguages({ ...job, plan }, shots);
    const musicKeys = job.music ? [job.music.path] : [];
    const outputs: JobOutput[] = [];
    const voiceTracks: JobVoiceTrack[] = [];
    let stills: { posterUri: string; contactSheetUri: string } | undefined;
    const deadline = Date.now() + deps.assemblyTimeoutMs;
    const timeLeft = () => Math.max(1, deadline - Date.now());
    // Where the assembly's time goes, on the timeline (job.delivered) for operators and benchmarks.
    const stagesMs = { speak: 0, finish: 0, qa: 0, stills: 0, store: 0 };
    const timed = async <T>(stage: keyof typeof stagesMs, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        stagesMs[stage] += Math.round(performance.now() - started);
      }
    };
    // One set per language (the plan's own first): its voice, captions, on-screen text and end
    // card over the same passed shots; each set one decode of the shots and one encode a variant.
    await withLocalFiles(deps.storage, [...keys, ...musicKeys], async (files) => {
      const clips = files.slice(0, keys.length);
      const musicFile = job.music ? files[keys.length] : undefined;
      for (const [k, words] of languages.entries()) {
        const said = await timed('speak', () => speakLanguage(deps.speech, words, dir, timeLeft));
        const name = (aspect: string) => (k === 0 ? variantName(aspect) : `${words.language}-${variantName(aspect)}`);
        const voiceFile = join(dir, `voice-${words.language}.wav`);
        const sources = {
          clips,
          ...(musicFile ? { musicFile } : {}),
          ...(logoFile ? { logoFile } : {}),
        };
        // Finishing refuses what it was given (a plan it cannot time, a misfit, a silent bed) the
        // same way every time: the job fails now rather than after every redelivery.
        const timeline = await invalidIsPermanent(words.language, async () =>
          finishTimeline(languageCut({ ...job, plan }, shots, words, sources)),
        );
        const spoken = said
          ? await timed('speak', () =>
              invalidIsPermanent(words.language, () =>
                fitLinesToShots(timeline, said, shots, words.language, dir, { timeoutMs: timeLeft, log }),
              ),
            )
          : undefined;
        const input: FinishInput = {
          ...languageCut({ ...job, plan }, shots, words, { ...sources, ...(spoken ? { spoken } : {}) }),
          ...(spoken ? { stems: { voiceFile } } : {}),
          // The vendor's own sound (Veo) where the preset paid for it.
          clipAudio: preset.nativeAudio && shots.some((s) => s.spec.audio === true),
          variants: job.brief.aspectRatios.map((aspect) => ({
            aspect,
            outFile: join(dir, `final-${name(aspect)}.mp4`),
          })),
          timeoutMs: timeLeft(),
        };
        const { finished, cues } = await timed('finish', () =>
          invalidIsPermanent(words.language, async () => ({
            finished: await finishCut(input),
            cues: spoken ? placeVoice(timeline, spoken.lines).cues : [],
          })),
        );
        // The poster and contact sheet from the files at hand (the first cut, the clips), made
        // while the first variant is checked: two ffmpeg runs on the pool's two CPUs.
        const stillsMade =
          k === 0 ? timed('stills', () => makeStills(deps, job, finished[0]!.outFile, clips, dir)) : undefined;
        // Settled before anything throws below, so no still is left running into a removed folder.
        const stillsSettled = stillsMade?.then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        try {
          for (const [v, variant] of finished.entries()) {
            const checks = await timed('qa', () => finalCutChecks(variant.outFile, job, variant, preset));
            if (v === 0 && stillsSettled) {
              const made = await stillsSettled;
              if ('error' in made) throw made.error;
              stills = made.value;
            }
            const failed = checks.filter((c) => c.verdict === 'fail');
            if (failed.length) {
              const summary = failed.map((c) => `${c.name} ${String(c.measured)} (expected ${c.expected ?? 'a pass'})`);
              throw new PermanentError(
                'assembly_failed',
                `the ${words.language} ${variant.aspect} cut failed QA: ${summary.join('; ')}`,
              );
            }
            const stored = await timed('store', () =>
              deps.storage.putFile(finalCutKey(job, name(variant.aspect)), variant.outFile, {
                contentType: 'video/mp4',
                move: true,
              }),
            );
            outputs.push({
              variant: variant.aspect,
              language: words.language,
              uri: stored.uri,
              durationSeconds: Number(variant.durationSeconds.toFixed(3)),
              width: variant.width,
              height: variant.height,
              sizeBytes: stored.sizeBytes,
              sha256: stored.sha256,
              integratedLufs: Number(variant.integratedLufs.toFixed(1)),
              qa: checks,
              ...(cues.length ? { captions: await storeCaptions(deps, job, name(variant.aspect), cues) } : {}),
            });
          }
        } finally {
          // Never left running into the scratch folder the assembly removes when it fails.
          await stillsSettled;
        }
        if (spoken) {
          const stored = await deps.storage.putFile(voiceTrackKey(job, words.language), voiceFile, {
            contentType: 'audio/wav',
            move: true,
          });
          voiceTracks.push({
            language: words.language,
            uri: stored.uri,
            engine: spoken.engine,
            voice: spoken.voice,
            timing: spoken.timing,
            lines: spoken.lines.length,
          });
        }
      }
    });

    // Part of what is delivered: built from records every passed shot has, so failing here is a
    // bug and takes the handler's normal error path (see docs/decisions/2026-12-provenance-manifest.md).
    const provenanceUri = await storeProvenanceManifest(
      deps,
      job,
      buildProvenanceManifest({ ...job, voiceTracks }, shots, new Date()),
    );
    log.info('assembled', { stagesMs });
    const delivered = await deps.jobs.transition(job.jobId, 'ASSEMBLING', 'DELIVERED', {
      patch: { outputs, stills, provenanceUri, ...(voiceTracks.length ? { voiceTracks } : {}) },
      event: {
        type: 'job.delivered',
        data: {
          outputs: outputs.map((o) => ({
            variant: o.variant,
            language: o.language,
            durationSeconds: o.durationSeconds,
            sizeBytes: o.sizeBytes,
          })),
          stagesMs,
        },
      },
    });
    if (delivered.value?.status === 'DELIVERED') await announce(deps, delivered.value);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The finished file's own technical QA, with the same code the qa service runs on shots. The
 * end card is a still by design, so the frozen-frame limit allows it; the loudness must hit the
 * preset's target within 1 LU and the length the brief's within half a second.
 */
async function finalCutChecks(file: string, job: Job, variant: FinishedVariant, preset: Preset): Promise<QaCheck[]> {
  const endCard = job.plan?.endCardSeconds ?? 0;
  const { checks } = await technicalChecks(
    file,
    {
      width: variant.width,
      height: variant.height,
      ...(job.plan ? { fps: job.plan.fps } : {}),
      durationSeconds: job.brief.durationSeconds,
      expectAudio: true,
    },
    {
      ...preset.qa,
      durationToleranceSeconds: 0.5,
      maxFrozenSeconds: Math.max(preset.qa.maxFrozenSeconds, endCard + 0.5),
      loudnessRangeLufs: [preset.deliveryLoudnessLufs - 1, preset.deliveryLoudnessLufs + 1],
    },
    { timeoutMs: FINAL_CHECKS_TIMEOUT_MS },
  );
  return checks;
}

/** `work`, with finishing's refusal of its input (MediaError invalid) as a permanent failure of the assembly. */
async function invalidIsPermanent<T>(language: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof MediaError && err.kind === 'invalid')
      throw new PermanentError('assembly_failed', `the ${language} cut: ${err.message}`, { cause: err });
    throw err;
  }
}

/** A cut's captions as WebVTT and SubRip files beside it (the same cues for every variant of a language). */
async function storeCaptions(deps: DeliveryDeps, job: Job, name: string, cues: FinishCue[]) {
  const [vtt, srt] = await Promise.all([
    deps.storage.putBytes(captionsKey(job, name, 'vtt'), Buffer.from(captionsVtt(cues), 'utf8'), {
      contentType: 'text/vtt; charset=utf-8',
    }),
    deps.storage.putBytes(captionsKey(job, name, 'srt'), Buffer.from(captionsSrt(cues), 'utf8'), {
      contentType: 'application/x-subrip; charset=utf-8',
    }),
  ]);
  return { vttUri: vtt.uri, srtUri: srt.uri, cues: cues.length };
}

/** A poster frame of the first variant and a contact sheet of the shots, stored beside the outputs. */
async function makeStills(deps: DeliveryDeps, job: Job, firstCut: string, clips: string[], dir: string) {
  const poster = join(dir, 'poster.png');
  const sheet = join(dir, 'contact-sheet.png');
  await posterFrame(firstCut, poster, { timeoutMs: POSTER_FRAME_TIMEOUT_MS });
  await contactSheet(clips, sheet, { timeoutMs: CONTACT_SHEET_TIMEOUT_MS });
  const prefix = outputsPrefix(job);
  const [posterStored, sheetStored] = await Promise.all([
    deps.storage.putFile(`${prefix}/poster.png`, poster, { contentType: 'image/png', move: true }),
    deps.storage.putFile(`${prefix}/contact-sheet.png`, sheet, { contentType: 'image/png', move: true }),
  ]);
  return { posterUri: posterStored.uri, contactSheetUri: sheetStored.uri };
}
