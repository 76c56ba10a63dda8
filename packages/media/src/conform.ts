import { h264Args } from './filters';
import { runFfmpeg } from './process';
import type { ProbeResult } from './probe';

export interface ConformTarget {
  width: number;
  height: number;
  fps: number;
  durationSeconds: number;
}

/**
 * Whether a vendor's clip differs from what the shot asked for in a way downstream steps would
 * reject: another frame size or rate (Veo makes 24 fps; Runway 1280×720 for a 1080p plan) or a
 * longer clip (vendors round lengths up). A shorter clip is left alone: QA judges it.
 */
export function needsConform(media: ProbeResult, target: ConformTarget): boolean {
  const v = media.video;
  if (!v) return false;
  const frame = 1 / target.fps;
  return (
    v.width !== target.width ||
    v.height !== target.height ||
    Math.abs(v.fps - target.fps) > 0.01 ||
    media.durationSeconds > target.durationSeconds + frame
  );
}

/**
 * Re-encodes a clip to the shot's frame: scaled to cover and centre-cropped, resampled to the
 * shot's rate and cut to its exact frame count. Sound is kept (trimmed alike) when there is some.
 */
export async function conformClip(
  input: string,
  output: string,
  target: ConformTarget,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const frames = Math.round(target.durationSeconds * target.fps);
  const { width: w, height: h, fps } = target;
  await runFfmpeg(
    [
      '-y',
      '-i',
      input,
      '-filter:v',
      `fps=${fps},scale=${w}:${h}:force_original_aspect_ratio=increase:flags=bicubic,crop=${w}:${h},setsar=1,format=yuv420p`,
      '-frames:v',
      String(frames),
      '-af',
      `atrim=end=${(frames / fps).toFixed(4)}`,
      ...h264Args(18, fps),
      '-c:a',
      'aac',
      '-b:a',
      '160k',
      '-movflags',
      '+faststart',
      output,
    ],
    { ...opts, operation: 'conform' },
  );
}
