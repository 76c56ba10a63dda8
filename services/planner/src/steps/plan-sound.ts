import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  briefLanguages,
  RetryableError,
  type Brief,
  type PlanLanguage,
  type Preset,
  type ShotPlan,
} from '@aiprod/contracts';
import { finishTimeline, mapLimit, voiceWindow } from '@aiprod/media';
import { PlanningError, planLanguages } from '@aiprod/planning';
import { SpeechError, estimatedSpeechSeconds, maxCharsFor, type SpeechEngine, type SpokenLine } from '@aiprod/speech';
import type { Job, Shot } from '@aiprod/job-store';
import type { PlannerDeps } from '../app';

/** One synthesised line, spoken to be measured: seconds for espeak-ng, more for a cloud voice. */
const SPEAK_TIMEOUT_MS = 30_000;
/** Lines measured at once. */
const MEASURE_PARALLELISM = 2;
/** Measure, shorten, measure again: at most this many shortenings of one line. */
const MAX_SHORTENINGS = 3;
/** A shortening aims this far under the room, so the next measurement fits rather than grazes it. */
const SHORTEN_MARGIN = 0.92;
/**
 * The share of its room a line may take as the planner measures it. Delivery speaks it again,
 * maybe days later and with another voice or model: this leaves it 5 % to come out longer, and
 * delivery may then speed it up by MAX_VOICE_TEMPO before a paid job fails over it.
 */
export const PLANNED_VOICE_SHARE = 0.95;

/** A line the planner shortened to fit its shot, for the job's timeline. */
export interface VoiceShortening {
  shotId: string;
  language: string;
  from: string;
  to: string;
  roomSeconds: number;
  spokenSeconds: number;
}

export interface PlanSound {
  /** The plan with each line fitted (and, with several languages, no on-screen text in the specs). */
  plan: ShotPlan;
  /** Several languages: every language's words, the plan's own first; one language: absent. */
  languages?: PlanLanguage[];
  shortened: VoiceShortening[];
}

/**
 * The plan's words in every language the brief asks for, each voice-over line sized to its shot:
 * first by the language's speaking rate, then by speaking it with the delivery's own engine and
 * measuring, shortened at a sentence, clause or word end (never mid-word) until it fits the room
 * its shot gives it (voiceWindow: from its caption start plus a lead-in to just before its caption
 * end). A line that cannot fit after MAX_SHORTENINGS is a permanent planning failure naming the
 * shot and language. With several languages, the shots render without on-screen text: finishing
 * draws each language's over the picture, so one set of clips serves every language.
 */
export async function planSound(
  deps: Pick<PlannerDeps, 'translator' | 'speech' | 'models'>,
  brief: Brief,
  plan: ShotPlan,
  preset: Preset,
  signal?: AbortSignal,
): Promise<PlanSound> {
  const several = briefLanguages(brief).length > 1;
  if (!several && !brief.voiceOver) return { plan, shortened: [] };
  const context = {
    preset,
    backend: plan.fittedFor,
    ...(deps.models?.[plan.fittedFor] ? { model: deps.models[plan.fittedFor] } : {}),
    ...(signal ? { signal } : {}),
  };
  const languages = await planLanguages(brief, plan, context, deps.translator);
  const timeline = finishTimeline({
    clips: plan.shots.map((s) => ({ durationSeconds: s.durationSeconds })),
    transition: plan.transition ?? { kind: 'cut', durationSeconds: 0 },
    endCard: { durationSeconds: plan.endCardSeconds },
    fps: plan.fps,
  });
  const shortened: VoiceShortening[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'aiprod-voice-fit-'));
  try {
    for (const language of languages) {
      // Each line is measured on its own: two at a time (espeak-ng on two CPUs, or a cloud voice).
      const voiced = [...language.shots.entries()].filter(([, shot]) => shot.voiceOver);
      const fits = await mapLimit(voiced, MEASURE_PARALLELISM, ([i, shot]) =>
        fitLine(
          shot.voiceOver!,
          language.language,
          voiceWindow(timeline, i).seconds * PLANNED_VOICE_SHARE,
          deps.speech,
          join(dir, `${language.language}-${i}.wav`),
          signal,
        ),
      );
      for (const [k, [i, shot]] of voiced.entries()) {
        const room = voiceWindow(timeline, i).seconds;
        const fitted = fits[k]!;
        if (!fitted.ok) {
          throw new PlanningError(
            'permanent',
            `shot ${plan.shots[i]!.shotId}'s ${language.language} voice-over cannot fit: "${fitted.text}" lasts ${fitted.seconds.toFixed(2)} s and its shot leaves ${room.toFixed(2)} s (a line may take ${PLANNED_VOICE_SHARE * 100} % of it)`,
          );
        }
        if (fitted.text !== shot.voiceOver) {
          shortened.push({
            shotId: plan.shots[i]!.shotId,
            language: language.language,
            from: shot.voiceOver!,
            to: fitted.text,
            roomSeconds: Number(room.toFixed(3)),
            spokenSeconds: Number(fitted.seconds.toFixed(3)),
          });
          shot.voiceOver = fitted.text;
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const own = languages[0]!;
  const shots = plan.shots.map((spec, i) => {
    const { onScreenText: _drawnByFinishing, voiceOver: _line, ...rest } = spec;
    const line = own.shots[i]?.voiceOver;
    return {
      ...(several ? rest : { ...rest, ...(spec.onScreenText ? { onScreenText: spec.onScreenText } : {}) }),
      ...(line ? { voiceOver: line } : {}),
    };
  });
  return { plan: { ...plan, shots }, ...(several ? { languages } : {}), shortened };
}

type Fitted = { ok: true; text: string; seconds: number } | { ok: false; text: string; seconds: number };

/** One line: estimated, then spoken and measured, shortened until it fits `room` seconds. */
async function fitLine(
  line: string,
  language: string,
  room: number,
  engine: SpeechEngine | undefined,
  outFile: string,
  signal?: AbortSignal,
): Promise<Fitted> {
  let text = line;
  if (estimatedSpeechSeconds(text, language) > room) text = shortenLine(text, maxCharsFor(room, language));
  if (!engine) {
    // Without an engine (tests that plan without speech) only the estimate is held.
    const seconds = estimatedSpeechSeconds(text, language);
    return { ok: text.length > 0 && seconds <= room, text, seconds };
  }
  for (let shortenings = 0; ; shortenings += 1) {
    if (!text) return { ok: false, text: line, seconds: Infinity };
    let spoken: SpokenLine;
    try {
      spoken = await engine.speak(text, {
        language,
        outFile,
        timeoutMs: SPEAK_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (!(err instanceof SpeechError)) throw err;
      // An engine outage is tried again; a line it cannot say (nothing to say, no voice) is final.
      throw new PlanningError(
        err.kind === 'retryable' ? 'retryable' : 'permanent',
        `the ${language} voice-over "${text}" cannot be spoken (${engine.name}): ${err.message}`,
        err.retryAfterSeconds,
        { cause: err },
      );
    }
    if (spoken.durationSeconds <= room) return { ok: true, text, seconds: spoken.durationSeconds };
    if (shortenings === MAX_SHORTENINGS) return { ok: false, text, seconds: spoken.durationSeconds };
    const chars = Math.floor(((text.length * room) / spoken.durationSeconds) * SHORTEN_MARGIN);
    text = shortenLine(text, Math.min(chars, text.length - 1));
  }
}

/**
 * `text` cut to at most `max` characters at the last sentence end, else the last clause end,
 * else the last word end that leaves at least half of it; never mid-word, and closed with a full
 * stop. Empty when not even the first word fits.
 */
export function shortenLine(text: string, max: number): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  const head = clean.slice(0, max + 1);
  const lastAt = (re: RegExp) => {
    let at = -1;
    for (const m of head.matchAll(re)) if (m.index + 1 <= max) at = m.index + 1;
    return at;
  };
  const sentence = lastAt(/[.!?…](?=\s|$)/g);
  const clause = lastAt(/[,;:—–](?=\s)/g);
  // A cut at a word end gets a full stop added: the word must end before `max`, not at it.
  const word = max > 0 ? clean.lastIndexOf(' ', max - 1) : -1;
  const cut = sentence >= max / 2 ? sentence : clause >= max / 2 ? clause - 1 : word > 0 ? word : -1;
  if (cut <= 0) return '';
  const kept = clean.slice(0, cut).replace(/[\s,;:—–-]+$/, '');
  if (!kept) return '';
  return /[.!?…]$/.test(kept) ? kept : `${kept}.`;
}

/**
 * Before an approved plan is rendered: every line as it now stands (the client may have edited
 * lines or lengths since the planner measured them, and the gateway can only estimate) spoken and
 * measured against its shot's room. The first that does not fit is returned as the reason to
 * fail the job before any spend; null when all fit. A retryable engine failure throws (the
 * approval is acted on again).
 */
export async function approvedLinesMisfit(
  deps: Pick<PlannerDeps, 'speech'>,
  job: Job,
  shots: readonly Shot[],
  signal?: AbortSignal,
): Promise<string | null> {
  if (!deps.speech || !job.plan) return null;
  const words = job.plan.languages ?? [
    { language: briefLanguages(job.brief)[0]!, shots: shots.map((s) => ({ voiceOver: s.spec.voiceOver })) },
  ];
  if (!words.some((l) => l.shots.some((s) => s.voiceOver))) return null;
  const timeline = finishTimeline({
    clips: shots.map((s) => ({ durationSeconds: s.spec.durationSeconds })),
    transition: job.plan.transition ?? { kind: 'cut', durationSeconds: 0 },
    endCard: { durationSeconds: job.plan.endCardSeconds },
    fps: job.plan.fps,
  });
  const dir = await mkdtemp(join(tmpdir(), 'aiprod-voice-check-'));
  try {
    for (const { language, shots: lines } of words) {
      for (const [i, line] of lines.entries()) {
        if (!line.voiceOver) continue;
        // The whole room, not the planner's 95 %: a plan made before that margin (or a line the
        // client edited) that fits its shot is delivered, sped up at most MAX_VOICE_TEMPO if need be.
        const room = voiceWindow(timeline, i).seconds;
        let spoken: SpokenLine;
        try {
          spoken = await deps.speech.speak(line.voiceOver, {
            language,
            outFile: join(dir, `${i}.wav`),
            timeoutMs: SPEAK_TIMEOUT_MS,
            ...(signal ? { signal } : {}),
          });
        } catch (err) {
          if (!(err instanceof SpeechError)) throw err;
          if (err.kind !== 'retryable')
            return `shot ${shots[i]!.shotId}'s ${language} voice-over cannot be spoken: ${err.message}`;
          // An outage: the approval is recorded, so a message that dead-letters over it leaves
          // it to the decision sweep (planLetterSuperseded), not a failed job.
          throw new RetryableError(
            `the ${language} voice-over of shot ${shots[i]!.shotId} could not be measured (${deps.speech.name}): ${err.message}`,
            err.retryAfterSeconds,
            { cause: err },
          );
        }
        if (spoken.durationSeconds > room) {
          return (
            `shot ${shots[i]!.shotId}'s ${language} voice-over "${line.voiceOver}" lasts ` +
            `${spoken.durationSeconds.toFixed(2)} s spoken and its shot leaves ${room.toFixed(2)} s: shorten the line`
          );
        }
      }
    }
    return null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
