import { decodeCheck, probe, MediaError } from '@aiprod/media';
import type { ShotSpec } from '@aiprod/contracts';
import type { QaCheck } from '@aiprod/job-store';

const check = (
  name: string,
  ok: boolean,
  measured: QaCheck['measured'],
  expected: string,
  detail?: string,
): QaCheck => ({
  name,
  verdict: ok ? 'pass' : 'fail',
  measured,
  expected,
  ...(detail ? { detail } : {}),
});

/**
 * The technical checks a clip must pass before anyone sees it: it is an MP4 with H.264 video
 * that decodes from start to end, at the planned resolution, frame rate and duration.
 */
export async function technicalChecks(file: string, spec: ShotSpec, timeoutMs: number): Promise<QaCheck[]> {
  let info;
  try {
    info = await probe(file);
  } catch (e) {
    const detail = e instanceof MediaError ? e.message : String(e);
    return [check('container', false, 'unreadable', 'an MP4 file ffprobe can read', detail.slice(0, 500))];
  }
  const checks: QaCheck[] = [check('container', /mp4/.test(info.formatName), info.formatName, 'mp4')];
  const video = info.video;
  if (!video) return [...checks, check('video_stream', false, 'none', 'one video stream')];
  const frameTolerance = 1 / spec.fps + 0.05;
  checks.push(
    check('codec', video.codec === 'h264', video.codec, 'h264'),
    check(
      'resolution',
      video.width === spec.width && video.height === spec.height,
      `${video.width}x${video.height}`,
      `${spec.width}x${spec.height}`,
    ),
    check('frame_rate', Math.abs(video.fps - spec.fps) < 0.01, Number(video.fps.toFixed(3)), String(spec.fps)),
    check(
      'duration',
      Math.abs(info.durationSeconds - spec.durationSeconds) <= frameTolerance,
      Number(info.durationSeconds.toFixed(3)),
      `${spec.durationSeconds.toFixed(3)} ± ${frameTolerance.toFixed(3)} s`,
    ),
  );
  const decoded = await decodeCheck(file, timeoutMs);
  checks.push(
    check(
      'decodes',
      decoded.ok,
      decoded.ok ? 'clean' : `${decoded.errors.length} errors`,
      'no decode errors',
      decoded.errors.slice(0, 3).join(' | '),
    ),
  );
  return checks;
}
