import { join } from 'node:path';
import { fileUrl } from '../filters';
import { MediaError, runFfmpeg } from '../process';
import { SAMPLE_RATE } from './music-bed';

// ---------------------------------------------------------------------------------------------
// Audio: loudness, measured with ebur128 (the meter the result is checked with), and the gain stage
// ---------------------------------------------------------------------------------------------

/** Headroom kept below the true-peak ceiling before encoding: AAC adds a little overshoot. */
export const TRUE_PEAK_MARGIN_DB = 0.5;

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
export async function measureChain(
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

/**
 * Loudness gained per dB of gain into a limiter that is already holding peaks, as a first guess:
 * 0.69 on the sample brief's voice-over mix at -14 LUFS under -1 dBTP. Only the
 * second trial uses it; later ones follow the slope they measure.
 */
const LIMITED_SLOPE = 0.7;

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
export const AAC_ARGS = ['-c:a', 'aac', '-b:a', '160k', '-ar', String(SAMPLE_RATE), '-ac', '2'];

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
export async function measuredGain(
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
    // A limiter flattens the gain -> loudness curve: follow its measured slope. Before there is
    // one to measure, take LIMITED_SLOPE (what a limiter holding speech peaks typically gives),
    // so the second trial lands close rather than a third of the way short.
    const slope = previous ? (measured.integratedLufs - previous.lufs) / (gain - previous.gain || 1) : LIMITED_SLOPE;
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
