import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RetryableError } from '@aiprod/contracts';
import { MediaError, probe, runFfmpeg } from '@aiprod/media';

/** Where the judges look: inside the clip, clear of fades and cuts at either end. */
export const SAMPLE_FRACTIONS = [0.3, 0.5, 0.7] as const;

export interface Sampling {
  /** Seconds into the clip, one per fraction. */
  times: number[];
  width: number;
  height: number;
}

/** A local path as an ffmpeg URL, so a file name is never read as an option or a protocol. */
export const fileUrl = (path: string) => `file:${resolve(path)}`;

/** Times at `fractions` of the clip's duration, and its picture size. */
export async function sampleClip(
  clipPath: string,
  fractions: readonly number[],
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<Sampling> {
  const info = await probe(clipPath, opts);
  if (!info.video) throw new MediaError(`${clipPath} has no video stream`, 'invalid');
  if (!(info.durationSeconds > 0)) throw new MediaError(`${clipPath} has no known duration`, 'invalid');
  const { durationSeconds } = info;
  return {
    times: fractions.map((f) => Math.round(durationSeconds * f * 1000) / 1000),
    width: info.video.width,
    height: info.video.height,
  };
}

/**
 * ffmpeg inputs that open the clip once per time, each seeked before decoding (`-ss` before
 * `-i`): one process gives every frame exactly, without decoding the whole clip. Input i is
 * the frame at times[i].
 */
export const seekedInputs = (clipPath: string, times: readonly number[]): string[] =>
  times.flatMap((t) => ['-ss', String(t), '-i', fileUrl(clipPath)]);

/** Output options that write the first frame of `label` as one PNG or JPEG file. */
export function imageOutput(label: string, file: string, format: 'png' | 'jpeg'): string[] {
  // -update 1: the name is a file name, not an image2 pattern (a '%' in it would be).
  const codec = format === 'png' ? ['-c:v', 'png'] : ['-c:v', 'mjpeg', '-q:v', '3'];
  return ['-map', `[${label}]`, '-frames:v', '1', '-f', 'image2', '-update', '1', ...codec, '-y', fileUrl(file)];
}

/** Output options that write the first frame of `label` as raw RGB24 bytes. */
export const rawRgbOutput = (label: string, file: string): string[] => [
  '-map',
  `[${label}]`,
  '-frames:v',
  '1',
  '-f',
  'rawvideo',
  '-pix_fmt',
  'rgb24',
  '-y',
  fileUrl(file),
];

/**
 * Runs one ffmpeg call and checks every expected file was written: seeking past the end
 * "succeeds" without writing anything (the clip's fault: MediaError 'invalid'). ffmpeg
 * exiting with an error here is taken as ours, not the clip's: the clip already opened in
 * ffprobe, and the filtergraph or the ffmpeg build is the likelier culprit (RetryableError,
 * so it dead-letters with the message rather than failing a good shot).
 */
export async function runExtraction(
  judge: string,
  args: string[],
  outputs: readonly string[],
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  try {
    await runFfmpeg(['-v', 'error', ...args], { ...opts, operation: 'extract_frames' });
  } catch (err) {
    if (err instanceof MediaError && err.kind === 'exit') {
      throw new RetryableError(`${judge}: ffmpeg failed extracting frames: ${err.message}`, undefined, { cause: err });
    }
    throw err;
  }
  for (const file of outputs) {
    const written = await stat(file).catch(() => undefined);
    if (!written?.size) throw new MediaError(`ffmpeg wrote no frame to ${file}`, 'invalid');
  }
}

/**
 * Sorts a failure to read frames: our tooling timing out, being aborted or missing is not
 * the clip's fault (RetryableError); a clip ffprobe cannot open, or with no frame where its
 * duration says, is, and the caller reports it as failing checks (this returns the reason).
 */
export function frameFailure(judge: string, err: unknown): string {
  if (err instanceof MediaError && (err.kind === 'timeout' || err.kind === 'aborted' || err.kind === 'spawn')) {
    throw new RetryableError(`${judge}: could not sample frames (${err.kind}): ${err.message}`, undefined, {
      cause: err,
    });
  }
  if (err instanceof MediaError) return `could not read frames from the clip: ${err.message}`;
  throw err;
}
