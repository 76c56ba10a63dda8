import { MediaError } from '../process';
import type { FinishClip, FinishEndCard, FinishInput, TransitionKind } from './types';

// ---------------------------------------------------------------------------------------------
// Timeline
// ---------------------------------------------------------------------------------------------

/** Where everything sits in the finished cut, in frames at `fps`. */
export interface FinishTimeline {
  fps: number;
  /** Length of each transition in frames; 0 for cuts. */
  transitionFrames: number;
  /** Per shot: first frame and end frame (exclusive), overlaps included. */
  shots: { start: number; end: number; captionStart: number; captionEnd: number }[];
  endCard: { start: number; end: number };
  totalFrames: number;
  durationSeconds: number;
}

const TRANSITIONS: readonly TransitionKind[] = ['cut', 'fade', 'slideleft', 'wipeleft', 'dissolve'];

/**
 * The finished cut's timeline. Each transition of d seconds overlaps the end of one segment
 * with the start of the next, so
 *
 *     total = sum(clip durations) + end card - (number of transitions) x d
 *
 * where the number of transitions is the number of clips (one between each pair of shots and
 * one into the end card). Durations are whole frames: round(seconds x fps) per segment. The
 * planner is responsible for clip durations that land this total on the brief's duration: the
 * shots must add up to brief - end card + (number of clips) x d, not brief - end card (e.g. a
 * 15 s brief, 2 s card, three shots, 0.5 s fades: 3 x 4.8333 s = 145 frames each at 30 fps;
 * planned as for hard cuts, 3 x 4.3333 s, the cut would come out 1.5 s short).
 * A shot's caption runs from the middle of its incoming transition to the middle of its
 * outgoing one, so two captions never share the screen.
 */
/** What the timeline depends on: lengths only (the planner and the gateway compute it without files). */
export interface TimelineInput {
  clips: readonly (FinishClip | Pick<FinishClip, 'durationSeconds'>)[];
  transition: FinishInput['transition'];
  endCard: FinishEndCard | Pick<FinishEndCard, 'durationSeconds'>;
  fps: number;
}

export function finishTimeline(input: TimelineInput): FinishTimeline {
  const { fps } = input;
  if (!Number.isInteger(fps) || fps < 1 || fps > 120)
    throw new MediaError(`fps must be an integer 1..120, got ${fps}`, 'invalid');
  if (input.clips.length === 0) throw new MediaError('finishing needs at least one clip', 'invalid');
  if (!TRANSITIONS.includes(input.transition.kind))
    throw new MediaError(`unknown transition ${String(input.transition.kind)}`, 'invalid');
  const frames = (seconds: number, what: string) => {
    const n = Math.round(seconds * fps);
    if (!(n >= 1)) throw new MediaError(`${what} must last at least one frame, got ${seconds}s`, 'invalid');
    return n;
  };
  const clipFrames = input.clips.map((c, i) => frames(c.durationSeconds, `clip ${i}`));
  const cardFrames = frames(input.endCard.durationSeconds, 'the end card');
  const td = input.transition.durationSeconds;
  if (input.transition.kind !== 'cut' && !(td >= 0)) throw new MediaError(`bad transition duration ${td}`, 'invalid');
  const t = input.transition.kind === 'cut' ? 0 : Math.round(td * fps);
  // A transition may not start before the previous one has finished.
  clipFrames.forEach((n, i) => {
    const needed = (i === 0 ? 1 : 2) * t;
    if (n < needed) throw new MediaError(`clip ${i} (${n} frames) is shorter than its transitions`, 'invalid');
  });
  if (cardFrames < t) throw new MediaError('the end card is shorter than its transition', 'invalid');

  const half = Math.floor(t / 2);
  const shots: FinishTimeline['shots'] = [];
  let at = 0;
  clipFrames.forEach((n, i) => {
    const start = at;
    const end = start + n;
    shots.push({ start, end, captionStart: i === 0 ? 0 : start + (t - half), captionEnd: end - half });
    at = end - t;
  });
  const endCard = { start: at, end: at + cardFrames };
  return {
    fps,
    transitionFrames: t,
    shots,
    endCard,
    totalFrames: endCard.end,
    durationSeconds: endCard.end / fps,
  };
}

/** Expected length of the finished cut in seconds; see finishTimeline for the arithmetic. */
export function finishedDuration(input: TimelineInput): number {
  return finishTimeline(input).durationSeconds;
}
