import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BITEXACT_ARGS,
  BT709_ARGS,
  DEFAULT_FONT_FILE,
  h264Args,
  PNG_STILL_ARGS,
  ffColor,
  fileUrl,
  filterValue,
  oneLine,
} from '../filters';
import { extractFrame, probe } from '../probe';
import { ASCENT_EM, drawBlock, layoutText, LINE_EM } from '../text-layout';
import { MediaError, runFfmpeg } from '../process';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type AspectRatio = '16:9' | '9:16' | '1:1' | '4:5';

/** Output frame size of each delivery variant. */
export const VARIANT_SIZES: Record<AspectRatio, [number, number]> = {
  '16:9': [1280, 720],
  '9:16': [720, 1280],
  '1:1': [1080, 1080],
  '4:5': [864, 1080],
};

export type TransitionKind = 'cut' | 'fade' | 'slideleft' | 'wipeleft' | 'dissolve';

export interface FinishClip {
  file: string;
  /** The clip is held to exactly round(durationSeconds * fps) frames (cut, or last frame cloned). */
  durationSeconds: number;
  /** The shot's voice-over line, burned in as a caption while the shot is on screen. */
  caption?: string;
  /**
   * Previews only: what the paid shot will show (its visual description) and its camera move,
   * drawn as a storyboard caption in the upper part of the frame while the shot is on screen.
   */
  storyboard?: { camera: string; description: string };
}

export interface FinishEndCard {
  brandName: string;
  callToAction?: string;
  /** Top and bottom of the card's gradient, #RRGGBB (the same twice for a solid card). */
  colors: [string, string];
  durationSeconds: number;
  /** PNG (alpha honoured), drawn above the brand name at about 20% of the frame height. */
  logoFile?: string;
}

export interface FinishMusic {
  /** A supplied bed: looped if short, trimmed to the cut, faded out, loudness-normalised. */
  file?: string;
  /** Without a file, picks the generated bed's character (pitch, chord, pulse), e.g. "calm". */
  mood?: string;
}

export interface FinishVariantRequest {
  aspect: AspectRatio;
  outFile: string;
  /** Override VARIANT_SIZES[aspect] (even numbers; should have the same shape). */
  width?: number;
  height?: number;
}

export interface FinishInput {
  clips: FinishClip[];
  /** Between shots and into the end card. 'cut' (or a duration under one frame) joins hard. */
  transition: { kind: TransitionKind; durationSeconds: number };
  endCard: FinishEndCard;
  music?: FinishMusic;
  /** Integrated loudness of the result, LUFS (-14 social, -16, -23 broadcast); held to ±1 LU. */
  loudnessLufs: number;
  /** Maximum true peak, dBTP; default -1. */
  truePeakDbtp?: number;
  fps: number;
  /**
   * A label burned into the top-left corner of every frame, end card included (e.g. "PREVIEW"),
   * so that the file can never pass for a final cut.
   */
  mark?: string;
  /** One or more outputs from one plan; each gets its own picture layout, captions and card. */
  variants: FinishVariantRequest[];
  /**
   * What the clips were rendered at. A variant of another aspect is centre-cropped from them to
   * fill its frame (never letterboxed); one of the same aspect is only scaled if its size
   * differs. The crop is computed from each clip's real shape, so an off-shape clip is still
   * filled, never stretched.
   */
  sourceAspect: AspectRatio;
  timeoutMs: number;
  signal?: AbortSignal;
  fontFile?: string;
}

export interface FinishedVariant {
  aspect: AspectRatio;
  outFile: string;
  width: number;
  height: number;
  durationSeconds: number;
  /** Measured on the written file with ebur128. */
  integratedLufs: number;
  truePeakDbtp: number;
}

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

const ASPECTS = Object.keys(VARIANT_SIZES) as AspectRatio[];
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
export function finishTimeline(input: Pick<FinishInput, 'clips' | 'transition' | 'endCard' | 'fps'>): FinishTimeline {
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
export function finishedDuration(input: Pick<FinishInput, 'clips' | 'transition' | 'endCard' | 'fps'>): number {
  return finishTimeline(input).durationSeconds;
}

/** Relative luminance (0..1) of #RRGGBB. */
function luminance(hex: string): number {
  const n = parseInt(ffColor(hex).slice(2), 16);
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin((n >> 16) & 255) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
}

// ---------------------------------------------------------------------------------------------
// Audio: the generated bed and loudness
// ---------------------------------------------------------------------------------------------

const SAMPLE_RATE = 48_000;

interface Voice {
  /** Root of the pad in Hz. */
  rootHz: number;
  /** Chord tones in semitones above the root, with their relative levels. */
  tones: ReadonlyArray<readonly [number, number]>;
  /** A slow amplitude pulse: rate in Hz and depth (0 = none, 1 = down to silence). */
  pulseHz: number;
  pulseDepth: number;
}

const MAJOR: Voice['tones'] = [
  [0, 0.6],
  [12, 1],
  [16, 0.8],
  [19, 0.7],
];
const MINOR: Voice['tones'] = [
  [0, 0.6],
  [12, 1],
  [15, 0.8],
  [19, 0.7],
];
/** The assembly bed's soft A-major pad. */
const DEFAULT_VOICE: Voice = { rootHz: 110, tones: MAJOR, pulseHz: 0, pulseDepth: 0 };
/** Moods by keyword: a little lower and swelling for calm, higher and pulsing at 120 bpm for
 *  upbeat, minor with a heartbeat for drama. */
const MOODS: ReadonlyArray<{ words: RegExp; voice: Voice }> = [
  {
    words: /calm|relax|soft|gentle|warm|peace|seren|tranquil|cozy|dream/,
    voice: { rootHz: 98, tones: MAJOR, pulseHz: 0.25, pulseDepth: 0.3 },
  },
  {
    words: /upbeat|energ|happy|fun|bright|excit|playful|sport|dynamic|bold/,
    voice: { rootHz: 123.47, tones: MAJOR, pulseHz: 2, pulseDepth: 0.5 },
  },
  {
    words: /drama|serious|dark|epic|tense|moody|cinematic|mysterious|sad/,
    voice: { rootHz: 103.83, tones: MINOR, pulseHz: 1, pulseDepth: 0.35 },
  },
];
/** The right channel is detuned slightly so the sides beat slowly: less like a test tone. */
const DETUNE = 1.002;

function moodVoice(mood: string | undefined): Voice {
  const m = (mood ?? '').toLowerCase();
  return MOODS.find((entry) => entry.words.test(m))?.voice ?? DEFAULT_VOICE;
}

const toneHz = (voice: Voice, semitones: number, detune: number) => voice.rootHz * 2 ** (semitones / 12) * detune;

/** Squared magnitude of the BS.1770 K-weighting (both stages, 48 kHz coefficients) at `hz`. */
function kWeightPower(hz: number): number {
  const w = (2 * Math.PI * hz) / SAMPLE_RATE;
  const biquad = (b: number[], a: number[]) => {
    const at = (c: number[]) => {
      const re = c[0]! + c[1]! * Math.cos(w) + c[2]! * Math.cos(2 * w);
      const im = -(c[1]! * Math.sin(w) + c[2]! * Math.sin(2 * w));
      return re * re + im * im;
    };
    return at(b) / at(a);
  };
  return (
    biquad([1.53512485958697, -2.69169618940638, 1.19839281085285], [1, -1.69065929318241, 0.73248077421585]) *
    biquad([1, -2, 1], [1, -1.99004745483398, 0.99007225036621])
  );
}

interface Envelope {
  fadeIn: number;
  fadeOutStart: number;
  fadeOut: number;
}

function bedEnvelope(seconds: number): Envelope {
  const fadeIn = Math.min(1, seconds / 4);
  const fadeOut = Math.min(2, seconds / 4);
  return { fadeIn, fadeOutStart: seconds - fadeOut, fadeOut };
}

/**
 * The integrated loudness (BS.1770 / EBU R128, with its 400 ms blocks and both gates) that the
 * generated bed has at unit gain, computed rather than measured: the K-weighted power of each
 * sine plus the fade and pulse envelope. It agrees with ffmpeg's ebur128 to about 0.1 LU.
 */
function bedLoudnessAtUnitGain(voice: Voice, seconds: number): number {
  let power = 0;
  for (const detune of [1, DETUNE])
    for (const [semi, level] of voice.tones) power += (level * level * kWeightPower(toneHz(voice, semi, detune))) / 2;
  const env = bedEnvelope(seconds);
  const ms = Math.floor(seconds * 1000);
  const cumulative = new Float64Array(ms + 1);
  for (let i = 0; i < ms; i += 1) {
    const t = (i + 0.5) / 1000;
    let g = 1;
    if (t < env.fadeIn) g *= t / env.fadeIn;
    if (t > env.fadeOutStart) g *= Math.max(0, 1 - (t - env.fadeOutStart) / env.fadeOut);
    if (voice.pulseDepth > 0)
      g *= 1 - voice.pulseDepth / 2 + (voice.pulseDepth / 2) * Math.cos(2 * Math.PI * voice.pulseHz * t);
    cumulative[i + 1] = cumulative[i]! + g * g;
  }
  const blocks: number[] = [];
  for (let start = 0; start + 400 <= ms; start += 100)
    blocks.push((power * (cumulative[start + 400]! - cumulative[start]!)) / 400);
  const lufs = (p: number) => -0.691 + 10 * Math.log10(p);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const absolute = blocks.filter((p) => p > 0 && lufs(p) > -70);
  // Under 0.4 s there is no block to gate: use the mean power of the whole bed.
  if (absolute.length === 0) return lufs((power * cumulative[ms]!) / Math.max(1, ms));
  const relative = lufs(mean(absolute)) - 10;
  return lufs(mean(absolute.filter((p) => lufs(p) > relative)));
}

/** aevalsrc for the generated bed at `gain`, exactly `samples` long, with its fades. */
function generatedBed(voice: Voice, gain: number, samples: number): string {
  const channel = (detune: number) => {
    const partials = voice.tones.map(
      ([semi, level]) => `${+(gain * level).toFixed(6)}*sin(2*PI*${+toneHz(voice, semi, detune).toFixed(3)}*t)`,
    );
    const pulse =
      voice.pulseDepth > 0 ? `*(${1 - voice.pulseDepth / 2}+${voice.pulseDepth / 2}*cos(2*PI*${voice.pulseHz}*t))` : '';
    return `(${partials.join('+')})${pulse}`;
  };
  const env = bedEnvelope(samples / SAMPLE_RATE);
  return [
    `aevalsrc=exprs=${channel(1)}|${channel(DETUNE)}:s=${SAMPLE_RATE}:c=stereo`,
    // aevalsrc stops on a whole block of samples; trim to the video's length exactly.
    `atrim=end_sample=${samples}`,
    `afade=t=in:d=${env.fadeIn}`,
    `afade=t=out:st=${env.fadeOutStart}:d=${env.fadeOut}`,
  ].join(',');
}

/** The supplied bed (input `index`, looped by -stream_loop) as stereo 48 kHz, `samples` long. */
function suppliedBed(index: number, samples: number): string {
  const seconds = samples / SAMPLE_RATE;
  const fadeOut = Math.min(2, seconds / 4);
  return [
    `[${index}:a:0]aresample=${SAMPLE_RATE}`,
    `aformat=sample_fmts=fltp:sample_rates=${SAMPLE_RATE}:channel_layouts=stereo`,
    `atrim=end_sample=${samples}`,
    `afade=t=in:d=${Math.min(0.05, seconds / 4)}`,
    `afade=t=out:st=${seconds - fadeOut}:d=${fadeOut}`,
  ].join(',');
}

/** Headroom kept below the true-peak ceiling before encoding: AAC adds a little overshoot. */
const TRUE_PEAK_MARGIN_DB = 0.5;

interface Loudness {
  integratedLufs: number;
  truePeakDbtp: number;
}

/** Reads the summary ebur128 prints when it closes. */
function ebur128Summary(stderr: string, what: string): Loudness {
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const i = /I:\s+(-?[\d.]+|-inf) LUFS/.exec(summary)?.[1];
  const peak = /True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary)?.[1];
  if (i === undefined || peak === undefined)
    throw new MediaError(`no loudness summary for ${what}`, 'invalid', stderr.slice(-2000));
  const num = (s: string) => (s === '-inf' ? -Infinity : Number(s));
  return { integratedLufs: num(i), truePeakDbtp: num(peak) };
}

/** Loudness of the audio a filter chain makes (an audio-only ffmpeg run: cheap). */
async function measureChain(
  inputArgs: string[],
  chain: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<Loudness> {
  const { stderr } = await runFfmpeg(
    [
      '-v',
      'info',
      '-nostats',
      ...inputArgs,
      '-filter_complex',
      `${chain},ebur128=peak=true:framelog=verbose[a]`,
      '-map',
      '[a]',
      '-f',
      'null',
      '-',
    ],
    { ...opts, operation: 'measure_chain' },
  );
  return ebur128Summary(stderr, 'the music bed');
}

/** Gain, then a limiter run at 4x the sample rate so it catches inter-sample (true) peaks. */
function limited(gainDb: number, ceilingDb: number): string {
  return [
    `volume=${gainDb.toFixed(3)}dB`,
    `aresample=${4 * SAMPLE_RATE}`,
    `alimiter=limit=${(10 ** (ceilingDb / 20)).toFixed(5)}:attack=5:release=80:level=false:latency=true`,
    `aresample=${SAMPLE_RATE}`,
  ].join(',');
}

/** The AAC settings of the delivered files. */
const AAC_ARGS = ['-c:a', 'aac', '-b:a', '160k', '-ar', String(SAMPLE_RATE), '-ac', '2'];

/**
 * The gain stage that brings `bed` to `target` LUFS with true peaks under `ceiling` dBTP,
 * found by measuring with ebur128 (the meter the result is checked with), audio only.
 *
 * First pass: the bed as it is. If its peaks allow, the stage is that plain gain, exact to
 * ~0.1 LU, with 1 dB left for what AAC adds to the peaks. If not, the gain feeds a true-peak
 * limiter; a limiter takes loudness off the peaks, and AAC then adds up to ~1 dB of peak to
 * heavily limited audio, so each further pass encodes the limited bed as the delivery will and
 * measures that, correcting the gain (secant steps) and the limit, at most five times.
 */
async function measuredGain(
  inputArgs: string[],
  bed: string,
  target: number,
  ceiling: number,
  dir: string,
  opts: () => { timeoutMs: number; signal?: AbortSignal },
): Promise<string> {
  const first = await measureChain(inputArgs, bed, opts());
  if (!(first.integratedLufs > -70)) throw new MediaError('the music bed is silent', 'invalid');
  let gain = target - first.integratedLufs;
  if (first.truePeakDbtp + gain <= ceiling - 1) return `volume=${gain.toFixed(3)}dB`;

  const trial = join(dir, 'bed-trial.m4a');
  let limit = ceiling - 1;
  let stage = limited(gain, limit);
  let best = { stage, miss: Infinity };
  let previous: { gain: number; lufs: number } | undefined;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    await runFfmpeg(
      [
        '-v',
        'error',
        ...inputArgs,
        '-filter_complex',
        `${bed},${stage}[a]`,
        '-map',
        '[a]',
        ...AAC_ARGS,
        '-y',
        fileUrl(trial),
      ],
      { ...opts(), operation: 'gain_trial' },
    );
    const measured = await measureLoudness(trial, opts());
    const miss = target - measured.integratedLufs;
    const over = measured.truePeakDbtp - (ceiling - 0.2);
    if (over <= 0 && Math.abs(miss) < Math.abs(best.miss)) best = { stage, miss };
    if (over <= 0 && Math.abs(miss) <= 0.3) break;
    // A limiter flattens the gain -> loudness curve: follow its measured slope.
    const slope = previous ? (measured.integratedLufs - previous.lufs) / (gain - previous.gain || 1) : 1;
    previous = { gain, lufs: measured.integratedLufs };
    gain += Math.min(12, miss / Math.max(0.1, Math.min(1, slope)));
    if (over > 0) limit -= over + 0.1;
    stage = limited(gain, limit);
  }
  if (best.miss === Infinity)
    throw new MediaError('could not hold the music bed under the true-peak ceiling', 'invalid');
  return best.stage;
}

/** Integrated loudness and true peak of a file's audio, measured with ebur128. */
export async function measureLoudness(
  file: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<Loudness> {
  const { stderr } = await runFfmpeg(
    [
      '-v',
      'info',
      '-nostats',
      '-vn',
      '-i',
      fileUrl(file),
      '-map',
      '0:a:0',
      '-af',
      'ebur128=peak=true:framelog=verbose',
      '-f',
      'null',
      '-',
    ],
    { ...opts, operation: 'measure_loudness' },
  );
  return ebur128Summary(stderr, file);
}

// ---------------------------------------------------------------------------------------------
// The filtergraph
// ---------------------------------------------------------------------------------------------

interface VariantPlan {
  request: FinishVariantRequest;
  width: number;
  height: number;
}

/** `from` (a label or an unterminated chain) fanned out to `n` labels with split/asplit (null for one). */
function fanOut(graph: string[], from: string, n: number, name: (i: number) => string, audio = false): string[] {
  const labels = Array.from({ length: n }, (_, i) => name(i));
  if (n === 1) graph.push(`${from}${audio ? 'anull' : 'null'}[${labels[0]}]`);
  else graph.push(`${from}${audio ? 'asplit' : 'split'}=${n}${labels.map((l) => `[${l}]`).join('')}`);
  return labels;
}

interface GraphContext {
  input: FinishInput;
  timeline: FinishTimeline;
  fontFile: string;
  /** Writes a drawtext text file and returns its path. */
  text: (body: string) => Promise<string>;
  logoInput?: number;
}

/** The end card for one variant: drawn once as a single frame, then repeated. */
async function endCardChain(ctx: GraphContext, v: VariantPlan, vi: number, graph: string[]): Promise<string> {
  const { width: w, height: h } = v;
  const { fps } = ctx.timeline;
  const card = ctx.input.endCard;
  const [top, bottom] = card.colors;
  const frames = ctx.timeline.endCard.end - ctx.timeline.endCard.start;
  const short = Math.min(w, h);
  const safeWidth = Math.round(0.9 * w);
  const gap = Math.round(0.04 * h);
  // Dark text on a light card, white with a soft shadow on anything else.
  const light = (luminance(top) + luminance(bottom)) / 2 > 0.45;
  const offset = Math.max(1, Math.round(short / 360));
  const style = light
    ? ['fontcolor=0x111111']
    : ['fontcolor=white', 'shadowcolor=black@0.45', `shadowx=${offset}`, `shadowy=${offset}`];

  const brand = oneLine(card.brandName);
  const cta = oneLine(card.callToAction);
  const brandBlock = brand ? layoutText(brand, short * 0.13, 2, () => safeWidth, 0.6) : undefined;
  const ctaBlock = cta ? layoutText(cta, short * 0.06, 2, () => safeWidth, 0.8) : undefined;
  const logoHeight = ctx.logoInput === undefined ? 0 : Math.round(0.2 * h);
  const items = [logoHeight, brandBlock?.height ?? 0, ctaBlock?.height ?? 0].filter((x) => x > 0);
  const total = items.reduce((a, b) => a + b, 0) + gap * (items.length - 1);
  // Centred vertically, never above the title-safe top (10%).
  let y = Math.max(Math.round(0.1 * h), Math.round((h - total) / 2));

  const background =
    `gradients=s=${w}x${h}:r=${fps}:c0=${ffColor(top)}:c1=${ffColor(bottom)}:n=2:x0=0:y0=0:x1=0:y1=${h - 1}` +
    // The source rotates at `speed`; it cannot be 0, but its first frame (the only one used)
    // is never rotated.
    ':speed=0.00001,trim=end_frame=1';
  let head = `${background},`;
  if (ctx.logoInput !== undefined) {
    graph.push(
      `[logo${vi}]scale=w=${safeWidth}:h=${logoHeight}:force_original_aspect_ratio=decrease:flags=bicubic,` +
        `format=rgba[logo${vi}s]`,
    );
    graph.push(`${background}[cardbg${vi}]`);
    head = `[cardbg${vi}][logo${vi}s]overlay=x=(main_w-overlay_w)/2:y=${y}+(${logoHeight}-overlay_h)/2:format=rgb,`;
    y += logoHeight + gap;
  }
  const chain: string[] = [];
  if (brandBlock) {
    chain.push(...(await drawBlock(ctx, brandBlock, y, style)));
    y += brandBlock.height + gap;
  }
  if (ctaBlock) chain.push(...(await drawBlock(ctx, ctaBlock, y, style)));
  // Everything above ran on one frame; only now is it turned into video and repeated.
  chain.push(
    'scale=out_color_matrix=bt709:out_range=tv',
    'format=yuv420p',
    `loop=loop=${frames - 1}:size=1:start=0`,
    `settb=1/${fps}`,
    'setpts=N',
  );
  const label = `card${vi}`;
  graph.push(`${head}${chain.join(',')}[${label}]`);
  return label;
}

/**
 * Caption filters for one variant: white text on a translucent dark box, bottom-centred with the
 * box's lower edge 10% of the height above the bottom, within 90% of the width; each enabled only
 * while its shot is on screen. (drawbox and drawtext skip disabled frames outright; overlay, for
 * one, would copy every frame to make it writable, enabled or not.)
 */
async function captionFilters(ctx: GraphContext, v: VariantPlan): Promise<string[]> {
  const { width: w, height: h } = v;
  const { fps } = ctx.timeline;
  const short = Math.min(w, h);
  const maxLines = w > h ? 2 : 3;
  const border = (size: number) => Math.round(size * 0.35);
  const filters: string[] = [];
  for (const [i, clip] of ctx.input.clips.entries()) {
    const caption = oneLine(clip.caption);
    if (!caption) continue;
    const block = layoutText(caption, short / 20, maxLines, (size) => 0.9 * w - 2 * border(size));
    const b = border(block.size);
    const boxWidth = Math.min(block.width + 2 * b, Math.round(0.9 * w));
    const boxHeight = block.height + 2 * b;
    const boxTop = Math.round(0.9 * h) - boxHeight;
    const shot = ctx.timeline.shots[i]!;
    // Half a frame either side, so the window is unambiguous on frame timestamps.
    const from = ((shot.captionStart - 0.5) / fps).toFixed(4);
    const to = ((shot.captionEnd - 0.5) / fps).toFixed(4);
    const enable = `enable='between(t,${from},${to})'`;
    filters.push(
      `drawbox=x=${Math.round((w - boxWidth) / 2)}:y=${boxTop}:w=${boxWidth}:h=${boxHeight}:color=black@0.6:t=fill:${enable}`,
      ...(await drawBlock(ctx, block, boxTop + b, ['fontcolor=white', enable])),
    );
  }
  return filters;
}

/** Where the mark's box sits (and ends), in pixels, so the storyboard captions can go below it. */
function markBox(
  ctx: GraphContext,
  v: VariantPlan,
): { size: number; border: number; x: number; y: number; bottom: number } {
  const short = Math.min(v.width, v.height);
  const size = Math.max(10, Math.round(short / 16));
  const border = Math.round(size * 0.3);
  const x = Math.round(0.04 * v.width) + border;
  const y = Math.round(0.03 * v.height) + border;
  return { size, border, x, y, bottom: ctx.input.mark ? y + Math.ceil(LINE_EM * size) + border : 0 };
}

/** The mark: white on an opaque red box in the top-left corner, on every frame. */
async function markFilters(ctx: GraphContext, v: VariantPlan): Promise<string[]> {
  const mark = oneLine(ctx.input.mark);
  if (!mark) return [];
  const box = markBox(ctx, v);
  return [
    [
      'drawtext=expansion=none',
      `fontfile=${filterValue(ctx.fontFile)}`,
      `textfile=${filterValue(await ctx.text(mark))}`,
      `fontsize=${box.size}`,
      'fontcolor=white',
      'box=1',
      'boxcolor=0xB71C1C@0.9',
      `boxborderw=${box.border}`,
      `x=${box.x}`,
      `y=${box.y}+${Math.round(ASCENT_EM * box.size)}-ascent`,
    ].join(':'),
  ];
}

/** A storyboard description is cut at a word to this many characters: a caption, not the prompt. */
const STORYBOARD_MAX_CHARS = 220;

function shortened(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}

/**
 * Storyboard captions for one variant (previews): the camera move on a first line in amber, the
 * shot's visual description wrapped below it in white, on a dark box across the upper part of
 * the frame (under the mark, clear of the centred on-screen text and the voice-over captions at
 * the bottom), each enabled while its shot is on screen, like the captions.
 */
async function storyboardFilters(ctx: GraphContext, v: VariantPlan): Promise<string[]> {
  const { width: w, height: h } = v;
  const { fps } = ctx.timeline;
  const short = Math.min(w, h);
  const maxLines = w > h ? 3 : 5;
  const border = (size: number) => Math.round(size * 0.35);
  const filters: string[] = [];
  for (const [i, clip] of ctx.input.clips.entries()) {
    if (!clip.storyboard) continue;
    const heading = oneLine(`Camera: ${clip.storyboard.camera}`);
    const description = shortened(oneLine(clip.storyboard.description), STORYBOARD_MAX_CHARS);
    const width = (size: number) => 0.9 * w - 2 * border(size);
    const head = layoutText(heading, short / 24, 1, width, 0.5);
    const body = layoutText(description, short / 26, maxLines, width, 1, Math.max(10, Math.round(short / 40)));
    if (body.lines.length > maxLines) {
      body.lines = body.lines.slice(0, maxLines);
      body.lines[maxLines - 1] = `${body.lines[maxLines - 1]!.replace(/…$/, '')}…`;
      body.height = Math.ceil((maxLines - 1) * body.lineStep + LINE_EM * body.size);
    }
    const b = border(body.size);
    const gap = Math.round(body.size * 0.3);
    const boxWidth = Math.min(Math.max(head.width, body.width) + 2 * b, Math.round(0.9 * w));
    const boxHeight = head.height + gap + body.height + 2 * b;
    const boxTop = Math.max(markBox(ctx, v).bottom + Math.round(0.02 * h), Math.round(0.05 * h));
    const shot = ctx.timeline.shots[i]!;
    const from = ((shot.captionStart - 0.5) / fps).toFixed(4);
    const to = ((shot.captionEnd - 0.5) / fps).toFixed(4);
    const enable = `enable='between(t,${from},${to})'`;
    filters.push(
      `drawbox=x=${Math.round((w - boxWidth) / 2)}:y=${boxTop}:w=${boxWidth}:h=${boxHeight}:color=black@0.65:t=fill:${enable}`,
      ...(await drawBlock(ctx, head, boxTop + b, ['fontcolor=0xFFC107', enable])),
      ...(await drawBlock(ctx, body, boxTop + b + head.height + gap, ['fontcolor=white', enable])),
    );
  }
  return filters;
}

const XFADE: Record<Exclude<TransitionKind, 'cut'>, string> = {
  fade: 'fade',
  slideleft: 'slideleft',
  wipeleft: 'wipeleft',
  dissolve: 'dissolve',
};

/**
 * Joins the segments (clips, then the end card) into one chain, left unterminated. With
 * transitions, only the overlapping frames go through xfade: each segment is split into its
 * head (blended with the previous segment's tail), its body and its tail, and the pieces are
 * concatenated. xfade in ffmpeg 5.1 works in 4:4:4 only, so feeding it whole segments would
 * convert every frame of the cut to yuv444p and back, and draw the captions in 4:4:4 (measured:
 * 11-16% of the CPU of a 720p finish, 12-18% of its wall time); this way only the transition
 * frames are converted.
 */
function joinSegments(
  timeline: FinishTimeline,
  segments: string[],
  vi: number,
  kind: TransitionKind,
  graph: string[],
): string {
  const t = timeline.transitionFrames;
  if (t === 0) return `${segments.map((s) => `[${s}]`).join('')}concat=n=${segments.length}:v=1:a=0`;
  const lengths = [...timeline.shots, timeline.endCard].map((s) => s.end - s.start);
  const xfade = XFADE[kind as Exclude<TransitionKind, 'cut'>];
  const pieces: string[] = [];
  segments.forEach((segment, k) => {
    const head = k > 0 ? t : 0;
    const tail = k < segments.length - 1 ? t : 0;
    const length = lengths[k]!;
    const body = length - head - tail;
    // [label, first frame, end frame]
    const parts: [string, number, number][] = [];
    if (head) parts.push([`h${k}v${vi}`, 0, head]);
    if (body > 0) parts.push([`b${k}v${vi}`, head, length - tail]);
    if (tail) parts.push([`t${k}v${vi}`, length - tail, length]);
    const labels = fanOut(graph, `[${segment}]`, parts.length, (i) => `p${k}v${vi}_${i}`);
    parts.forEach(([label, start, end], i) => {
      graph.push(`[${labels[i]}]trim=start_frame=${start}:end_frame=${end},setpts=PTS-STARTPTS[${label}]`);
    });
    if (head) {
      graph.push(
        `[t${k - 1}v${vi}][h${k}v${vi}]xfade=transition=${xfade}:duration=${t / timeline.fps}:offset=0,` +
          `format=yuv420p[x${k}v${vi}]`,
      );
      pieces.push(`x${k}v${vi}`);
    }
    if (body > 0) pieces.push(`b${k}v${vi}`);
  });
  return `${pieces.map((p) => `[${p}]`).join('')}concat=n=${pieces.length}:v=1:a=0`;
}

/** One ffmpeg run's filtergraph: decode each clip once, then per variant crop/scale, join
 *  with transitions, end card, captions; one audio bed split to every output. */
async function buildGraph(
  ctx: GraphContext,
  variants: VariantPlan[],
  bed: string,
): Promise<{ graph: string; outputs: { video: string; audio: string }[] }> {
  const { input, timeline } = ctx;
  const { fps } = timeline;
  const n = variants.length;
  const graph: string[] = [];
  const perClip = input.clips.map((_, i) => {
    const frames = timeline.shots[i]!.end - timeline.shots[i]!.start;
    return fanOut(
      graph,
      // Exactly `frames` frames at `fps`: resampled in time, last frame cloned if short, cut.
      `[${i}:v:0]setpts=PTS-STARTPTS,fps=${fps},tpad=stop=-1:stop_mode=clone,trim=end_frame=${frames},setpts=N,`,
      n,
      (vi) => `c${i}v${vi}`,
    );
  });
  if (ctx.logoInput !== undefined) fanOut(graph, `[${ctx.logoInput}:v:0]`, n, (vi) => `logo${vi}`);
  const audio = fanOut(graph, `${bed},`, n, (vi) => `a${vi}`, true);

  const outputs: { video: string; audio: string }[] = [];
  for (const [vi, v] of variants.entries()) {
    const { width: w, height: h } = v;
    const segments = perClip.map((labels, i) => {
      const label = `s${i}v${vi}`;
      // Centre crop to the variant's shape, then scale. A clip already at the variant's shape and
      // size passes through both untouched: no colour options on scale, which would force a copy
      // of every frame (the clips are YUV already; swscale does no matrix conversion YUV to YUV).
      graph.push(
        `[${labels[vi]}]crop=w='min(iw,ih*${w}/${h})':h='min(ih,iw*${h}/${w})',` +
          `scale=${w}:${h}:flags=bicubic,setsar=1,format=yuv420p[${label}]`,
      );
      return label;
    });
    segments.push(await endCardChain(ctx, v, vi, graph));

    const joined = joinSegments(timeline, segments, vi, input.transition.kind, graph);
    const captions = await captionFilters(ctx, v);
    const storyboard = await storyboardFilters(ctx, v);
    const mark = await markFilters(ctx, v);
    const video = `out${vi}`;
    graph.push(`${[joined, ...captions, ...storyboard, ...mark].join(',')}[${video}]`);
    outputs.push({ video, audio: audio[vi]! });
  }
  return { graph: graph.join(';\n'), outputs };
}

// ---------------------------------------------------------------------------------------------
// finishCut
// ---------------------------------------------------------------------------------------------

/**
 * How the variants are split into ffmpeg runs. 'one': a single run decodes the clips once and
 * feeds every variant's encoder (split). 'each' (finishCut's choice): one run per variant, all
 * at once. ffmpeg 5.1 filters and feeds its encoders from one thread, so a single run leaves
 * part of the second core idle. Measured on 2 cores, three variants (16:9, 9:16, 1:1) of the
 * 15 s reference, 6 interleaved runs each: 'each' 6.2 s vs 'one' 6.8 s (medians), for ~11% more
 * CPU in total (12.0 vs 10.8 s: each run decodes the clips and makes the bed itself). Under
 * heavy load (many jobs at once) 'one' would give more throughput. One variant is one run
 * either way. Exported for the benchmark only.
 */
export type FinishStrategy = 'one' | 'each';

function outputArgs(fps: number, totalFrames: number, partial: string): string[] {
  return [
    '-frames:v',
    String(totalFrames),
    ...h264Args(23, fps),
    ...BT709_ARGS,
    ...AAC_ARGS,
    ...BITEXACT_ARGS,
    '-movflags',
    '+faststart',
    '-f',
    'mp4',
    '-y',
    fileUrl(partial),
  ];
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function planVariants(input: FinishInput): VariantPlan[] {
  if (input.variants.length === 0) throw new MediaError('finishing needs at least one variant', 'invalid');
  if (!ASPECTS.includes(input.sourceAspect))
    throw new MediaError(`unknown source aspect ${String(input.sourceAspect)}`, 'invalid');
  const files = new Set(input.variants.map((v) => v.outFile));
  if (files.size !== input.variants.length) throw new MediaError('two variants share an output file', 'invalid');
  return input.variants.map((request) => {
    if (!ASPECTS.includes(request.aspect)) throw new MediaError(`unknown aspect ${String(request.aspect)}`, 'invalid');
    const [dw, dh] = VARIANT_SIZES[request.aspect];
    const width = request.width ?? dw;
    const height = request.height ?? dh;
    const even = (x: number) => Number.isInteger(x) && x >= 16 && x % 2 === 0;
    if (!even(width) || !even(height))
      throw new MediaError(`variant size must be even and at least 16x16, got ${width}x${height}`, 'invalid');
    return { request, width, height };
  });
}

/**
 * The delivery step's finishing: joins the shots with transitions, burns in each shot's caption,
 * ends on a brand card, lays a music bed normalised to `loudnessLufs`, and writes every requested
 * aspect-ratio variant, each in one ffmpeg run (one filtergraph, one encode; the runs go in
 * parallel, see FinishStrategy). Each variant is laid out on its own: picture centre-cropped to
 * fill, captions and end card drawn for its frame. H.264 yuv420p CRF 23 veryfast, AAC 48 kHz
 * stereo, +faststart, byte-for-byte reproducible. Files appear at their outFile only when all
 * are complete. Returns each variant with its loudness as measured on the written file.
 * The length is finishedDuration(input): transitions shorten the cut (see finishTimeline).
 */
export async function finishCut(input: FinishInput): Promise<FinishedVariant[]> {
  return finishCutWith(input, 'each');
}

/** finishCut with an explicit run strategy (benchmark use). */
export async function finishCutWith(input: FinishInput, strategy: FinishStrategy): Promise<FinishedVariant[]> {
  const timeline = finishTimeline(input);
  const variants = planVariants(input);
  ffColor(input.endCard.colors[0]);
  ffColor(input.endCard.colors[1]);
  const target = input.loudnessLufs;
  const ceiling = input.truePeakDbtp ?? -1;
  if (!(target >= -70 && target <= -5)) throw new MediaError(`loudnessLufs out of range: ${target}`, 'invalid');
  if (!(ceiling >= -9 && ceiling <= 0)) throw new MediaError(`truePeakDbtp out of range: ${ceiling}`, 'invalid');
  const deadline = Date.now() + input.timeoutMs;
  // Aborted by the caller, or by the first ffmpeg run that fails (its siblings are pointless).
  const stop = new AbortController();
  const onAbort = () => stop.abort(input.signal?.reason);
  if (input.signal?.aborted) onAbort();
  input.signal?.addEventListener('abort', onAbort, { once: true });
  const run = () => ({ timeoutMs: Math.max(1, deadline - Date.now()), signal: stop.signal });

  const clipArgs = input.clips.flatMap((c) => ['-i', fileUrl(c.file)]);
  const logoInput = input.endCard.logoFile ? input.clips.length : undefined;
  const logoArgs = input.endCard.logoFile ? ['-i', fileUrl(input.endCard.logoFile)] : [];
  const musicFile = input.music?.file;
  const musicInput = input.clips.length + (logoInput === undefined ? 0 : 1);
  const musicArgs = musicFile ? ['-stream_loop', '-1', '-i', fileUrl(musicFile)] : [];
  const samples = Math.round((timeline.totalFrames * SAMPLE_RATE) / timeline.fps);

  try {
    const dir = await mkdtemp(join(tmpdir(), 'aiprod-finish-'));
    const partials = variants.map((v) => `${v.request.outFile}.${randomBytes(4).toString('hex')}.partial`);
    try {
      // The audio bed and its gain.
      let bed: string;
      if (musicFile) {
        const gainStage = await measuredGain(musicArgs, suppliedBed(0, samples), target, ceiling, dir, run);
        bed = `${suppliedBed(musicInput, samples)},${gainStage}`;
      } else {
        const voice = moodVoice(input.music?.mood);
        const unit = bedLoudnessAtUnitGain(voice, samples / SAMPLE_RATE);
        const gain = 10 ** ((target - unit) / 20);
        // A sum of sines never peaks above the sum of their amplitudes.
        const peak = 20 * Math.log10(gain * voice.tones.reduce((a, [, level]) => a + level, 0));
        if (Number.isFinite(gain) && peak <= ceiling - TRUE_PEAK_MARGIN_DB) {
          bed = generatedBed(voice, gain, samples);
        } else {
          // Too loud a target for a sine pad under the ceiling: measure and limit instead.
          const raw = generatedBed(voice, 1, samples);
          bed = `${raw},${await measuredGain([], raw, target, ceiling, dir, run)}`;
        }
      }

      let count = 0;
      const ctx: GraphContext = {
        input,
        timeline,
        fontFile: input.fontFile ?? DEFAULT_FONT_FILE,
        text: async (body) => {
          const path = join(dir, `t${count++}.txt`);
          await writeFile(path, body, 'utf8');
          return path;
        },
        ...(logoInput === undefined ? {} : { logoInput }),
      };
      const groups = strategy === 'one' ? [variants.map((_, i) => i)] : variants.map((_, i) => [i]);
      await mapLimit(groups, groups.length, async (group) => {
        const { graph, outputs } = await buildGraph(
          ctx,
          group.map((i) => variants[i]!),
          bed,
        );
        const script = join(dir, `graph-${group[0]}.txt`);
        await writeFile(script, graph, 'utf8');
        const args = [
          '-v',
          'error',
          ...clipArgs,
          ...logoArgs,
          ...musicArgs,
          '-filter_complex_script',
          fileUrl(script),
          ...outputs.flatMap((o, k) => [
            '-map',
            `[${o.video}]`,
            '-map',
            `[${o.audio}]`,
            ...outputArgs(timeline.fps, timeline.totalFrames, partials[group[k]!]!),
          ]),
        ];
        await runFfmpeg(args, { ...run(), operation: 'finish_cut' }).catch((err: unknown) => {
          stop.abort(err);
          throw err;
        });
      });
      await Promise.all(variants.map((v, i) => rename(partials[i]!, v.request.outFile)));
    } catch (err) {
      await Promise.all(partials.map((p) => rm(p, { force: true })));
      throw err;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    return await mapLimit(variants, 2, async (v) => {
      const [info, loudness] = await Promise.all([
        probe(v.request.outFile, run()),
        measureLoudness(v.request.outFile, run()),
      ]);
      return {
        aspect: v.request.aspect,
        outFile: v.request.outFile,
        width: info.video?.width ?? v.width,
        height: info.video?.height ?? v.height,
        durationSeconds: info.durationSeconds,
        ...loudness,
      };
    });
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
  }
}

// ---------------------------------------------------------------------------------------------
// Stills
// ---------------------------------------------------------------------------------------------

/**
 * Seconds into `file` of the middle of its first shot, found from its keyframes alone (cheap:
 * finished cuts have one a second, and x264 adds one at each hard cut): the first keyframe that
 * looks clearly unlike the opening frame ends the first shot.
 */
async function firstShotMiddle(file: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'aiprod-poster-'));
  try {
    const raw = join(dir, 'thumbs.rgb');
    const { stderr } = await runFfmpeg(
      [
        '-v',
        'info',
        '-nostats',
        '-skip_frame',
        'nokey',
        '-t',
        '60',
        '-i',
        fileUrl(file),
        '-an',
        '-vf',
        'scale=16:9:flags=area,format=rgb24,showinfo',
        '-fps_mode',
        'passthrough',
        '-f',
        'rawvideo',
        '-y',
        fileUrl(raw),
      ],
      { ...opts, operation: 'scene_detect' },
    );
    const times = [...stderr.matchAll(/pts_time:\s*(-?[\d.]+)/g)].map((m) => Number(m[1]));
    const pixels = await readFile(raw);
    const size = 16 * 9 * 3;
    const frames = Math.min(times.length, Math.floor(pixels.length / size));
    const distance = (k: number) => {
      let sum = 0;
      for (let i = 0; i < size; i += 1) sum += Math.abs(pixels[k * size + i]! - pixels[i]!);
      return sum / size;
    };
    for (let k = 1; k < frames; k += 1) {
      if (distance(k) > 20) return ((times[k - 1]! + times[k]!) / 2 - (times[0] ?? 0)) / 2 + (times[0] ?? 0);
    }
    const last = times[frames - 1] ?? 0;
    return last / 2;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A representative still as a PNG at the video's size: by default the middle of the first shot. */
export async function posterFrame(
  file: string,
  outPng: string,
  opts: { atSeconds?: number; timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const run = () => ({ timeoutMs: Math.max(1, deadline - Date.now()), signal: opts.signal });
  const at = opts.atSeconds ?? (await firstShotMiddle(file, run()));
  await extractFrame(file, at, outPng, run());
}

/**
 * One thumbnail per file (its middle frame, numbered) in a grid PNG of `columns` columns (default
 * up to 4) and thumbWidth-pixel cells (default 320; the height follows the first file's shape):
 * exactly columns x thumbWidth wide and rows x cell height high.
 */
export async function contactSheet(
  files: string[],
  outPng: string,
  opts: { columns?: number; thumbWidth?: number; timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  if (files.length === 0) throw new MediaError('a contact sheet needs at least one file', 'invalid');
  const columns = opts.columns ?? Math.min(4, files.length);
  const tw = opts.thumbWidth ?? 320;
  if (!Number.isInteger(columns) || columns < 1) throw new MediaError(`bad columns ${columns}`, 'invalid');
  if (!Number.isInteger(tw) || tw < 16 || tw % 2) throw new MediaError(`thumbWidth must be even, got ${tw}`, 'invalid');
  const deadline = Date.now() + opts.timeoutMs;
  const run = () => ({ timeoutMs: Math.max(1, deadline - Date.now()), signal: opts.signal });
  const infos = await mapLimit(files, 4, (f) => probe(f, run()));
  const first = infos[0]!.video;
  if (!first?.width || !first.height) throw new MediaError(`${files[0]} has no video`, 'invalid');
  infos.forEach((info, i) => {
    if (!info.video) throw new MediaError(`${files[i]} has no video`, 'invalid');
  });
  const th = Math.max(2, 2 * Math.round((tw * first.height) / first.width / 2));
  const rows = Math.ceil(files.length / columns);
  const label = Math.max(10, Math.round(th / 8));
  const graph = files.map(
    (_, i) =>
      `[${i}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,` +
      `scale=${tw}:${th}:force_original_aspect_ratio=decrease:flags=area,pad=${tw}:${th}:(ow-iw)/2:(oh-ih)/2,setsar=1,` +
      `format=rgb24,drawtext=fontfile=${filterValue(DEFAULT_FONT_FILE)}:text=${i + 1}:expansion=none:fontsize=${label}:` +
      `fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=${Math.round(label / 4)}:x=${Math.round(label / 2)}:y=${Math.round(label / 2)}[t${i}]`,
  );
  graph.push(
    `${files.map((_, i) => `[t${i}]`).join('')}concat=n=${files.length}:v=1:a=0,tile=${columns}x${rows}[sheet]`,
  );
  await rm(outPng, { force: true });
  await runFfmpeg(
    [
      '-v',
      'error',
      ...files.flatMap((f, i) => ['-ss', (infos[i]!.durationSeconds / 2).toFixed(3), '-i', fileUrl(f)]),
      '-filter_complex',
      graph.join(';'),
      '-map',
      '[sheet]',
      ...PNG_STILL_ARGS,
      '-y',
      fileUrl(outPng),
    ],
    { ...run(), operation: 'contact_sheet' },
  );
}
