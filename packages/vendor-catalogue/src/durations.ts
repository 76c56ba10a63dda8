import { END_CARD_SECONDS, type BackendName } from '@aiprod/contracts';
import { durationRange, modelCapability, neighbourDurations, snapDuration } from './capabilities';

/** A short crossfade between shots and into the end card. */
export const TRANSITION_SECONDS = 0.5;
/** The finished cut may differ from the brief's length by this much (delivery checks it too). */
export const DURATION_TOLERANCE_SECONDS = 0.5;
export const PLAN_FPS = 30;

export const preferredEndCardSeconds = (briefSeconds: number) => (briefSeconds >= 10 ? 2 : 1);

/**
 * The finished cut's length: each shot overlaps the next segment (the next shot, or the end
 * card after the last one) by one transition.
 */
export function cutSeconds(shotSeconds: readonly number[], endCardSeconds: number, transitionSeconds: number): number {
  return shotSeconds.reduce((a, b) => a + b, 0) + endCardSeconds - shotSeconds.length * transitionSeconds;
}

export type FittedDurations =
  { ok: true; durations: number[]; endCardSeconds: number; cutSeconds: number } | { ok: false; why: string };

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** Splits `frames` over `weights` in whole frames, largest remainder first (deterministic). */
function splitByWeight(frames: number, weights: readonly number[]): number[] {
  const total = sum(weights) || weights.length;
  const exact = weights.map((w) => (frames * (sum(weights) ? w : 1)) / total);
  const parts = exact.map(Math.floor);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; k < frames - sum(parts) && k < order.length; k += 1) parts[order[k]!.i]! += 1;
  return parts;
}

/**
 * Lengths for each shot that its backend accepts, as close to the `ideal` proportions as the
 * backends allow, plus an end-card length, such that the finished cut lands on `targetSeconds`
 * within DURATION_TOLERANCE_SECONDS. Discrete backends (Veo 4/6/8, Runway whole seconds) are
 * snapped and nudged first; frame-exact ones (local) then take up the difference; the end card
 * absorbs what is left. Deterministic, and bounded in work (a few passes over at most 8 shots).
 * Each backend's lengths are its model's in `models` (its default model otherwise).
 */
export function fitDurations(
  ideal: readonly number[],
  backends: readonly BackendName[],
  targetSeconds: number,
  options: { fps?: number; transitionSeconds?: number; models?: Partial<Record<BackendName, string>> } = {},
): FittedDurations {
  const fps = options.fps ?? PLAN_FPS;
  const t = options.transitionSeconds ?? TRANSITION_SECONDS;
  const model = (b: BackendName) => options.models?.[b];
  const n = ideal.length;
  if (n === 0 || backends.length !== n) return { ok: false, why: 'a plan needs shots and one backend per shot' };
  const preferredEnd = preferredEndCardSeconds(targetSeconds);
  const want = targetSeconds - preferredEnd + n * t;
  const idealSum = sum(ideal);
  const scaled = ideal.map((d) => (idealSum > 0 ? (d * want) / idealSum : want / n));
  const flexible = backends.map((b) => modelCapability(b, model(b)).durations.kind === 'frames');
  const durations = scaled.map((d, i) => snapDuration(backends[i]!, d, fps, model(backends[i]!)));

  // Discrete shots first, assuming the flexible ones stay at their ideal lengths.
  const flexibleIdeal = sum(scaled.filter((_, i) => flexible[i]));
  for (let step = 0; step < 64; step += 1) {
    const residual = want - flexibleIdeal - sum(durations.filter((_, i) => !flexible[i]));
    let best: { i: number; v: number; after: number } | undefined;
    durations.forEach((d, i) => {
      if (flexible[i]) return;
      for (const v of neighbourDurations(backends[i]!, d, fps, model(backends[i]!))) {
        const after = Math.abs(residual - (v - d));
        if (after < Math.abs(residual) - 1e-9 && (!best || after < best.after - 1e-9)) best = { i, v, after };
      }
    });
    if (!best) break;
    durations[best.i] = best.v;
  }

  // Frame-exact shots share what the discrete ones leave, in proportion to their ideal lengths.
  const flexIdx = flexible.flatMap((f, i) => (f ? [i] : []));
  if (flexIdx.length) {
    const { min, max } = durationRange(backends[flexIdx[0]!]!, model(backends[flexIdx[0]!]!));
    const room = want - sum(durations.filter((_, i) => !flexible[i]));
    const frames = Math.round(Math.min(max * flexIdx.length, Math.max(min * flexIdx.length, room)) * fps);
    const parts = splitByWeight(
      frames,
      flexIdx.map((i) => scaled[i]!),
    );
    // Clamp the rare part that a lopsided ideal pushes out of range; the end card then absorbs it.
    flexIdx.forEach((i, k) => {
      durations[i] = Math.min(max, Math.max(min, parts[k]! / fps));
    });
  }

  const endRaw = targetSeconds - sum(durations) + n * t;
  const endCardSeconds = Math.round(Math.min(END_CARD_SECONDS.max, Math.max(END_CARD_SECONDS.min, endRaw)) * fps) / fps;
  const cut = cutSeconds(durations, endCardSeconds, t);
  if (Math.abs(cut - targetSeconds) > DURATION_TOLERANCE_SECONDS + 1e-9) {
    return {
      ok: false,
      why:
        `${n} shots on ${[...new Set(backends)].join('/')} cannot make a ${targetSeconds} s cut ` +
        `(closest: ${cut.toFixed(2)} s with shots of ${durations.map((d) => d.toFixed(2)).join(', ')} s)`,
    };
  }
  return { ok: true, durations, endCardSeconds, cutSeconds: cut };
}

/** How many shots, between min and max, a cut of `targetSeconds` can have with every shot on `backend` (its `model`). */
export function feasibleShotCounts(
  backend: BackendName,
  targetSeconds: number,
  range: { min: number; max: number },
  fps = PLAN_FPS,
  model?: string,
): number[] {
  const counts: number[] = [];
  const models = model ? { [backend]: model } : undefined;
  for (let n = range.min; n <= range.max; n += 1) {
    const fit = fitDurations(Array<number>(n).fill(1), Array<BackendName>(n).fill(backend), targetSeconds, {
      fps,
      ...(models ? { models } : {}),
    });
    if (fit.ok) counts.push(n);
  }
  return counts;
}
