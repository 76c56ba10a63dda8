import { rm, stat } from 'node:fs/promises';
import { fileUrl, PNG_STILL_ARGS } from './filters';
import { MediaError, runFfmpeg, runFfprobe } from './process';

export interface ProbeResult {
  formatName: string;
  durationSeconds: number;
  sizeBytes: number;
  video: { codec: string; width: number; height: number; fps: number; pixFmt: string; frames?: number } | null;
  audio: { codec: string; sampleRate: number; channels: number } | null;
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  nb_frames?: string;
  sample_rate?: string;
  channels?: number;
  disposition?: { attached_pic?: number };
}

interface FfprobeOutput {
  format?: { format_name?: string; duration?: string; size?: string };
  streams?: FfprobeStream[];
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** "30000/1001" -> 29.97; "0/0" (unknown) -> 0. */
function rate(value: string | undefined): number {
  const [num, den] = (value ?? '').split('/').map(Number);
  return num && den && Number.isFinite(num / den) ? num / den : 0;
}

const num = (value: string | number | undefined) => {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
};

/** Container, duration and the first video and audio streams of a media file. */
export async function probe(
  file: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ProbeResult> {
  const { stdout } = await runFfprobe(
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-i', fileUrl(file)],
    { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: opts.signal, operation: 'probe' },
  );
  let parsed: FfprobeOutput;
  try {
    parsed = JSON.parse(stdout) as FfprobeOutput;
  } catch (err) {
    throw new MediaError(`ffprobe printed invalid JSON for ${file}`, 'invalid', '', { cause: err });
  }
  if (!parsed.format) throw new MediaError(`ffprobe found no container in ${file}`, 'invalid');
  const streams = parsed.streams ?? [];
  // Cover art in an audio file is a "video" stream too; it is not the picture we want.
  const v = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const a = streams.find((s) => s.codec_type === 'audio');
  const frames = v?.nb_frames === undefined ? undefined : Number(v.nb_frames);
  return {
    formatName: parsed.format.format_name ?? '',
    durationSeconds: num(parsed.format.duration),
    sizeBytes: num(parsed.format.size),
    video: v
      ? {
          codec: v.codec_name ?? '',
          width: v.width ?? 0,
          height: v.height ?? 0,
          fps: rate(v.avg_frame_rate) || rate(v.r_frame_rate),
          pixFmt: v.pix_fmt ?? '',
          ...(frames !== undefined && Number.isInteger(frames) ? { frames } : {}),
        }
      : null,
    audio: a ? { codec: a.codec_name ?? '', sampleRate: num(a.sample_rate), channels: a.channels ?? 0 } : null,
  };
}

/**
 * Decodes every frame of every stream and reports what the decoders complained about. A file
 * ffmpeg cannot open at all is `ok: false` too; a timeout or abort is thrown, since it says
 * nothing about the file.
 */
export async function decodeCheck(
  file: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ ok: boolean; errors: string[] }> {
  const lines = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  try {
    const { stderr } = await runFfmpeg(['-v', 'error', '-i', fileUrl(file), '-f', 'null', '-'], {
      timeoutMs,
      signal,
      operation: 'decode_check',
    });
    const errors = lines(stderr);
    return { ok: errors.length === 0, errors };
  } catch (err) {
    if (err instanceof MediaError && err.kind === 'exit') {
      const errors = lines(err.stderrTail);
      return { ok: false, errors: errors.length ? errors : [err.message] };
    }
    throw err;
  }
}

/** Writes the frame shown at `atSeconds` as a PNG (posters, QA evidence). */
export async function extractFrame(
  file: string,
  atSeconds: number,
  outPng: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  if (!(atSeconds >= 0)) throw new MediaError(`atSeconds must be >= 0, got ${atSeconds}`, 'invalid');
  // A stale PNG from an earlier call must not pass for this one.
  await rm(outPng, { force: true });
  await runFfmpeg(
    // -ss before -i seeks the input, which is both fast and frame-accurate when decoding.
    // -update 1: the name is a file name, not an image2 pattern (a '%' in it would be).
    ['-v', 'error', '-ss', String(atSeconds), '-i', fileUrl(file), ...PNG_STILL_ARGS, '-y', fileUrl(outPng)],
    { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: opts.signal, operation: 'extract_frame' },
  );
  // Seeking past the end "succeeds" without writing anything.
  const written = await stat(outPng).catch(() => undefined);
  if (!written?.size) throw new MediaError(`no frame at ${atSeconds}s in ${file}`, 'invalid');
}
