import { join } from 'node:path';
import { PermanentError, RetryableError, briefLanguages, presetOf } from '@aiprod/contracts';
import type { Job, JobPlan, Shot } from '@aiprod/job-store';
import {
  mapLimit,
  MAX_VOICE_TEMPO,
  quickenVoiceLine,
  voiceWindow,
  type FinishInput,
  type FinishTimeline,
  type FinishVoiceLine,
} from '@aiprod/media';
import type { Log } from '@aiprod/pubsub';
import { SpeechError, type SpeechEngine, type SpokenLine } from '@aiprod/speech';

/** One language's words as delivery makes its set: per shot the line and the text to draw. */
export interface LanguageWords {
  language: string;
  shots: { voiceOver?: string; onScreenText?: string }[];
  callToAction?: string;
  /**
   * Several languages: finishing draws each shot's on-screen text (the clips carry none). One
   * language: the clips carry it already, as rendered and checked by QA.
   */
  drawOnScreenText: boolean;
}

/** Every language the job delivers, its plan's own first. */
export function jobLanguages(job: Job & { plan: JobPlan }, shots: Shot[]): LanguageWords[] {
  if (job.plan.languages?.length) {
    return job.plan.languages.map((l) => ({
      language: l.language,
      shots: l.shots,
      ...(l.callToAction ? { callToAction: l.callToAction } : {}),
      drawOnScreenText: true,
    }));
  }
  return [
    {
      language: briefLanguages(job.brief)[0]!,
      shots: shots.map((s) => (s.spec.voiceOver ? { voiceOver: s.spec.voiceOver } : {})),
      ...(job.brief.callToAction ? { callToAction: job.brief.callToAction } : {}),
      drawOnScreenText: false,
    },
  ];
}

/** Lines spoken at once for one language. */
const SPEAK_PARALLELISM = 2;

/** A language's lines, spoken: what finishing places, and what the job records of the voice. */
export interface SpokenLanguage {
  lines: FinishVoiceLine[];
  engine: string;
  voice: string;
  timing: 'engine' | 'measured';
}

/**
 * Speaks each shot's line of one language into `dir` (one WAV a line, with its phrase and word
 * timings). Undefined when the language has no line. An engine outage is retryable (the assembly
 * is tried again); a line the engine refuses fails the assembly with the engine's reason.
 */
export async function speakLanguage(
  engine: SpeechEngine,
  words: LanguageWords,
  dir: string,
  timeLeftMs: () => number,
): Promise<SpokenLanguage | undefined> {
  const wanted = words.shots.flatMap((shot, shotIndex) =>
    shot.voiceOver ? [{ shotIndex, text: shot.voiceOver }] : [],
  );
  if (!wanted.length) return undefined;
  // Two lines at a time: espeak-ng runs on the pool's two CPUs, a cloud voice answers in parallel.
  const said = await mapLimit(wanted, SPEAK_PARALLELISM, async ({ shotIndex, text }): Promise<SpokenLine> => {
    try {
      return await engine.speak(text, {
        language: words.language,
        outFile: join(dir, `voice-${words.language}-${shotIndex}.wav`),
        timeoutMs: timeLeftMs(),
      });
    } catch (err) {
      if (!(err instanceof SpeechError)) throw err;
      const what = `the ${words.language} voice-over of shot ${shotIndex + 1} (${engine.name}): ${err.message}`;
      if (err.kind === 'retryable') throw new RetryableError(what, err.retryAfterSeconds, { cause: err });
      throw new PermanentError('assembly_failed', what, { cause: err });
    }
  });
  const lines: FinishVoiceLine[] = said.map((line, k) => ({
    shotIndex: wanted[k]!.shotIndex,
    file: line.file,
    durationSeconds: line.durationSeconds,
    phrases: line.phrases,
  }));
  const last = said[said.length - 1]!;
  return { lines, engine: last.engine, voice: last.voice, timing: last.timing };
}

/**
 * What one language's cut is made of, the same for the final cut and its free preview: the shots
 * (with this language's on-screen text when finishing draws it), the plan's transition and end
 * card in this language, the client's music or the mood's bed, the spoken lines with their
 * captions, and the preset's loudness and true peak. The caller adds its outputs and extras.
 */
export function languageCut(
  job: Job & { plan: JobPlan },
  shots: Shot[],
  words: LanguageWords,
  files: { clips: string[]; musicFile?: string; logoFile?: string; spoken?: SpokenLanguage },
): Omit<FinishInput, 'variants' | 'timeoutMs'> {
  const preset = presetOf(job.preset);
  const [darkest, brightest] = shots[0]!.spec.palette as [string, string];
  return {
    clips: shots.map((s, i) => {
      const onScreenText = words.drawOnScreenText ? words.shots[i]?.onScreenText : undefined;
      return {
        file: files.clips[i]!,
        durationSeconds: s.spec.durationSeconds,
        ...(onScreenText ? { onScreenText } : {}),
      };
    }),
    transition: job.plan.transition ?? { kind: 'cut', durationSeconds: 0 },
    endCard: {
      brandName: job.brief.brand.name,
      ...(words.callToAction ? { callToAction: words.callToAction } : {}),
      colors: [darkest, job.brief.brand.colors?.[0] ?? brightest],
      durationSeconds: job.plan.endCardSeconds,
      ...(files.logoFile ? { logoFile: files.logoFile } : {}),
    },
    ...(files.musicFile
      ? { music: { file: files.musicFile } }
      : job.brief.musicMood
        ? { music: { mood: job.brief.musicMood } }
        : {}),
    ...(files.spoken ? { voice: { lines: files.spoken.lines }, captionStyle: job.brief.captions ?? 'phrase' } : {}),
    loudnessLufs: preset.deliveryLoudnessLufs,
    truePeakDbtp: preset.deliveryTruePeakDbtp,
    fps: job.plan.fps,
    sourceAspect: job.brief.aspectRatios[0]!,
  };
}

/**
 * Every spoken line must fit the room its shot gives it (voiceWindow). The planner held each line
 * to 95 % of its room with its own measure, but the spoken one is what counts (another voice, a
 * vendor's new model): a line that came out longer is sped up, by at most MAX_VOICE_TEMPO (pitch
 * kept), rather than fail a paid job; one longer still fails the assembly for good, naming the
 * shot and language, rather than being cut off mid-word or failing inside finishing as a bug to
 * retry. The sped-up lines are written into `dir` and returned in place of the originals.
 */
export async function fitLinesToShots(
  timeline: FinishTimeline,
  spoken: SpokenLanguage,
  shots: Shot[],
  language: string,
  dir: string,
  opts: { timeoutMs: () => number; log: Log },
): Promise<SpokenLanguage> {
  const lines: FinishVoiceLine[] = [];
  for (const line of spoken.lines) {
    const room = voiceWindow(timeline, line.shotIndex).seconds;
    const shotId = shots[line.shotIndex]?.shotId ?? `#${line.shotIndex + 1}`;
    if (line.durationSeconds <= room + 1e-6) {
      lines.push(line);
      continue;
    }
    if (line.durationSeconds > room * MAX_VOICE_TEMPO) {
      throw new PermanentError(
        'assembly_failed',
        `shot ${shotId}'s ${language} voice-over lasts ${line.durationSeconds.toFixed(2)} s but its shot leaves ` +
          `${room.toFixed(2)} s for it: shorten the line or lengthen the shot`,
      );
    }
    const { tempo, ...quickened } = await quickenVoiceLine(
      line,
      room,
      join(dir, `voice-${language}-${line.shotIndex}-fitted.wav`),
      { timeoutMs: opts.timeoutMs() },
    );
    opts.log.warn('voice-over line sped up to fit its shot', {
      shotId,
      language,
      spokenSeconds: line.durationSeconds,
      roomSeconds: room,
      tempo: Number(tempo.toFixed(3)),
    });
    lines.push(quickened);
  }
  return { ...spoken, lines };
}
