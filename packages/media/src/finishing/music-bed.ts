// ---------------------------------------------------------------------------------------------
// Audio: the generated bed (loudness.ts measures and holds the level)
// ---------------------------------------------------------------------------------------------

export const SAMPLE_RATE = 48_000;

export interface Voice {
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

export function moodVoice(mood: string | undefined): Voice {
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
export function bedLoudnessAtUnitGain(voice: Voice, seconds: number): number {
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
export function generatedBed(voice: Voice, gain: number, samples: number): string {
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
export function suppliedBed(index: number, samples: number): string {
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
