import { MediaError } from '../process';
import type { FinishTimeline } from './timeline';
import type { FinishCue, FinishVoiceLine } from './types';

// ---------------------------------------------------------------------------------------------
// Voice-over: where each line sits on the cut, and the cues and speech intervals it gives
// ---------------------------------------------------------------------------------------------

export const DEFAULT_LEAD_SECONDS = 0.25;
/** A line ends at least this long before its shot's caption ends: a breath before the cut. */
export const VOICE_TAIL_SECONDS = 0.1;

/** The room a line has on shot `shotIndex`: from its caption start + lead to its caption end − 0.1 s. */
export function voiceWindow(
  timeline: FinishTimeline,
  shotIndex: number,
  leadSeconds = DEFAULT_LEAD_SECONDS,
): { startSeconds: number; endSeconds: number; seconds: number } {
  const shot = timeline.shots[shotIndex];
  if (!shot || !Number.isInteger(shotIndex))
    throw new MediaError(`voice line for shot ${shotIndex}, but the cut has ${timeline.shots.length} shots`, 'invalid');
  if (!(leadSeconds >= 0)) throw new MediaError(`bad voice lead ${leadSeconds}`, 'invalid');
  const startSeconds = shot.captionStart / timeline.fps + leadSeconds;
  const endSeconds = shot.captionEnd / timeline.fps - VOICE_TAIL_SECONDS;
  return { startSeconds, endSeconds, seconds: Math.max(0, endSeconds - startSeconds) };
}

export interface VoicePlacement {
  /** One per phrase, absolute times, in order. */
  cues: FinishCue[];
  /** One per word, absolute times, in order. */
  words: FinishCue[];
  /** When speech plays (phrases, or whole lines without phrases), merged where they touch. */
  speech: { startSeconds: number; endSeconds: number }[];
  /** Where each line starts, in seconds, in the order given. */
  starts: number[];
}

/** Lines shorter than their window by less than this still fit (rounding of measured lengths). */
const FIT_TOLERANCE = 1e-6;

/**
 * Where each line sits: at its shot's caption start + leadSeconds. A line must end by the shot's
 * caption end − 0.1 s; one that does not is refused (MediaError 'invalid', naming the shot and
 * both lengths), never cut: the planner sizes lines with voiceWindow, so a misfit is a bug
 * upstream or a line that came out longer than planned, and cutting it would drop words.
 */
export function placeVoice(
  timeline: FinishTimeline,
  lines: FinishVoiceLine[],
  leadSeconds = DEFAULT_LEAD_SECONDS,
): VoicePlacement {
  const seen = new Set<number>();
  const cues: FinishCue[] = [];
  const words: FinishCue[] = [];
  const spans: { startSeconds: number; endSeconds: number }[] = [];
  const starts = lines.map((line) => {
    const window = voiceWindow(timeline, line.shotIndex, leadSeconds);
    if (seen.has(line.shotIndex)) throw new MediaError(`two voice lines for shot ${line.shotIndex}`, 'invalid');
    seen.add(line.shotIndex);
    if (!(line.durationSeconds > 0)) throw new MediaError(`voice line for shot ${line.shotIndex} is empty`, 'invalid');
    if (line.durationSeconds > window.seconds + FIT_TOLERANCE)
      throw new MediaError(
        `voice line for shot ${line.shotIndex} lasts ${line.durationSeconds.toFixed(3)}s but its shot leaves ` +
          `${window.seconds.toFixed(3)}s for it`,
        'invalid',
      );
    const at = window.startSeconds;
    const clamp = (s: number) => Math.min(line.durationSeconds, Math.max(0, s));
    for (const phrase of line.phrases) {
      const cue = { startSeconds: at + clamp(phrase.startSeconds), endSeconds: at + clamp(phrase.endSeconds) };
      cues.push({ ...cue, text: phrase.text });
      spans.push(cue);
      for (const word of phrase.words)
        words.push({
          startSeconds: at + clamp(word.startSeconds),
          endSeconds: at + clamp(word.endSeconds),
          text: word.text,
        });
    }
    if (line.phrases.length === 0) spans.push({ startSeconds: at, endSeconds: at + line.durationSeconds });
    return at;
  });
  const byStart = (a: { startSeconds: number }, b: { startSeconds: number }) => a.startSeconds - b.startSeconds;
  return { cues: cues.sort(byStart), words: words.sort(byStart), speech: mergeIntervals(spans, 0), starts };
}

/** Intervals sorted and merged where they overlap or are less than `gap` apart. */
export function mergeIntervals(
  intervals: { startSeconds: number; endSeconds: number }[],
  gap: number,
): { startSeconds: number; endSeconds: number }[] {
  const merged: { startSeconds: number; endSeconds: number }[] = [];
  for (const span of [...intervals].sort((a, b) => a.startSeconds - b.startSeconds)) {
    const last = merged[merged.length - 1];
    if (last && span.startSeconds - last.endSeconds < gap) last.endSeconds = Math.max(last.endSeconds, span.endSeconds);
    else merged.push({ ...span });
  }
  return merged;
}

/** Speech is padded by this much either side before the bed goes down, and ramps over DUCK_RAMP. */
export const DUCK_PAD_SECONDS = 0.15;
export const DUCK_RAMP_SECONDS = 0.1;

/**
 * A volume expression (for volume's eval=frame, fed short frames) that is 1 outside speech and
 * −duckDb while it plays, with linear ramps: a fixed envelope computed from the voice's timing,
 * so the depth never depends on the signal (unlike a sidechain compressor) and the result is
 * reproducible. `t` is the frame's start.
 */
export function duckExpression(speech: { startSeconds: number; endSeconds: number }[], duckDb: number): string {
  const p = DUCK_PAD_SECONDS;
  const r = DUCK_RAMP_SECONDS;
  const padded = mergeIntervals(
    speech.map((s) => ({ startSeconds: s.startSeconds - p, endSeconds: s.endSeconds + p })),
    2 * r,
  );
  if (padded.length === 0 || duckDb <= 0) return '1';
  const depth = 1 - 10 ** (-duckDb / 20);
  // Each term is 0 outside its span, 1 inside, ramping over r at both ends; merged spans are at
  // least 2r apart so the terms never overlap and their sum is the envelope.
  const terms = padded.map(({ startSeconds: a, endSeconds: b }) => {
    const f = (x: number) => +x.toFixed(4);
    return `clip(min((t-${f(a - r)})/${r},(${f(b + r)}-t)/${r}),0,1)`;
  });
  return `1-${+depth.toFixed(6)}*(${terms.join('+')})`;
}

/**
 * Caption cues to burn in: each shown from its start until its end, held on to the next cue
 * when the gap is short (a caption that blinks off between phrases is harder to read), never
 * overlapping the next.
 */
export function captionWindows(cues: FinishCue[], hold = 0.6): FinishCue[] {
  return cues.map((cue, i) => {
    const next = cues[i + 1];
    let end = cue.endSeconds;
    if (next) end = next.startSeconds - end < hold ? next.startSeconds : Math.min(end, next.startSeconds);
    return { ...cue, endSeconds: Math.max(end, cue.startSeconds) };
  });
}
