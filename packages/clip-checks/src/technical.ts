import { analyzeClip, probe, type ClipAnalysis, type ProbeResult } from '@aiprod/media';
import type { QaThresholds, ShotSpec } from '@aiprod/contracts';
import type { QaCheck } from '@aiprod/contracts';

/** ffprobe reads only the headers: it gets at most this share of the checks' whole budget. */
const PROBE_TIMEOUT_MS = 30_000;

/** What the clip is supposed to be. Absent fields are not checked (reported as skipped). */
export interface ClipExpectation {
  width?: number;
  height?: number;
  fps?: number;
  durationSeconds?: number;
  /** Whether the clip must carry sound (vendor clips with generated audio, final cuts). */
  expectAudio?: boolean;
  /** Scene cuts the plan allows: 0 inside one shot. */
  maxSceneCuts?: number;
}

export const expectationFromSpec = (spec: ShotSpec, expectAudio = false): ClipExpectation => ({
  width: spec.width,
  height: spec.height,
  fps: spec.fps,
  durationSeconds: spec.durationSeconds,
  expectAudio,
  maxSceneCuts: 0,
});

const pass = (name: string, measured: QaCheck['measured'], expected: string, detail?: string): QaCheck => ({
  name,
  verdict: 'pass',
  measured,
  expected,
  ...(detail ? { detail } : {}),
});
const judge = (
  ok: boolean,
  name: string,
  measured: QaCheck['measured'],
  expected: string,
  detail?: string,
): QaCheck => ({
  ...pass(name, measured, expected, detail),
  verdict: ok ? 'pass' : 'fail',
});
const skipped = (name: string, detail: string): QaCheck => ({ name, verdict: 'skipped', detail });
const round = (n: number, digits = 3) => Number(n.toFixed(digits));
const longest = (intervals: { duration: number }[]) => intervals.reduce((m, i) => Math.max(m, i.duration), 0);
const spans = (intervals: { start: number; end: number }[]) =>
  intervals
    .slice(0, 5)
    .map((i) => `${i.start.toFixed(2)}–${i.end.toFixed(2)} s`)
    .join(', ');

export interface TechnicalResult {
  checks: QaCheck[];
  probe: ProbeResult | null;
  analysis: ClipAnalysis | null;
  /** Times worth a look (middle of defects), for evidence frames. */
  evidenceTimes: number[];
}

/**
 * The technical checks, in two reads of the file: ffprobe for the container, then one ffmpeg
 * decode that runs every detector at once (black, frozen, scene cuts, silence, loudness) and
 * collects decode errors.
 */
export async function technicalChecks(
  file: string,
  expected: ClipExpectation,
  thresholds: QaThresholds,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<TechnicalResult> {
  let info: ProbeResult;
  try {
    info = await probe(file, {
      timeoutMs: Math.min(opts.timeoutMs, PROBE_TIMEOUT_MS),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (e) {
    const detail = (e as Error).message.slice(0, 300);
    return {
      checks: [judge(false, 'container', 'unreadable', 'a video file ffprobe can read', detail)],
      probe: null,
      analysis: null,
      evidenceTimes: [],
    };
  }
  const checks: QaCheck[] = [judge(/mp4|mov/.test(info.formatName), 'container', info.formatName, 'mp4')];
  const video = info.video;
  if (!video) {
    checks.push(judge(false, 'video_stream', 'none', 'one video stream'));
    return { checks, probe: info, analysis: null, evidenceTimes: [] };
  }
  checks.push(
    judge(video.codec === 'h264', 'codec', video.codec, 'h264'),
    judge(video.pixFmt === 'yuv420p', 'pixel_format', video.pixFmt, 'yuv420p'),
  );
  if (expected.width !== undefined && expected.height !== undefined) {
    const sameAspect = Math.abs(video.width / video.height - expected.width / expected.height) < 0.01;
    checks.push(
      judge(
        video.width === expected.width && video.height === expected.height,
        'resolution',
        `${video.width}x${video.height}`,
        `${expected.width}x${expected.height}`,
      ),
      judge(
        sameAspect,
        'aspect_ratio',
        round(video.width / video.height),
        String(round(expected.width / expected.height)),
      ),
    );
  } else checks.push(skipped('resolution', 'no planned resolution'));
  if (expected.fps !== undefined)
    checks.push(judge(Math.abs(video.fps - expected.fps) < 0.01, 'frame_rate', round(video.fps), String(expected.fps)));

  const analysis = await analyzeClip(file, {
    timeoutMs: opts.timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
    thresholds: { blackMinSeconds: 0.1, freezeMinSeconds: Math.min(thresholds.maxFrozenSeconds, 0.5) },
  });
  const evidenceTimes: number[] = [];
  checks.push(
    judge(
      analysis.decodeErrors.length === 0,
      'decodes',
      analysis.decodeErrors.length ? `${analysis.decodeErrors.length} errors` : 'clean',
      'no decode errors',
      analysis.decodeErrors.slice(0, 3).join(' | ') || undefined,
    ),
  );
  if (expected.durationSeconds !== undefined) {
    const tolerance = thresholds.durationToleranceSeconds + (expected.fps ? 1 / expected.fps : 0);
    // The decoded length is what a viewer gets; the container's claim can lie for a cut file.
    const measured = Math.min(info.durationSeconds, analysis.decodedSeconds || info.durationSeconds);
    checks.push(
      judge(
        Math.abs(measured - expected.durationSeconds) <= tolerance,
        'duration',
        round(measured),
        `${expected.durationSeconds.toFixed(3)} ± ${tolerance.toFixed(3)} s`,
      ),
    );
  }
  const black = longest(analysis.black);
  checks.push(
    judge(
      black <= thresholds.maxBlackSeconds,
      'black_frames',
      round(black),
      `≤ ${thresholds.maxBlackSeconds} s`,
      spans(analysis.black) || undefined,
    ),
  );
  const frozen = longest(analysis.frozen);
  checks.push(
    judge(
      frozen <= thresholds.maxFrozenSeconds,
      'frozen_frames',
      round(frozen),
      `≤ ${thresholds.maxFrozenSeconds} s`,
      spans(analysis.frozen) || undefined,
    ),
  );
  for (const i of [...analysis.black, ...analysis.frozen].filter((i) => i.duration > 0).slice(0, 2))
    evidenceTimes.push((i.start + i.end) / 2);
  if (expected.maxSceneCuts !== undefined) {
    checks.push(
      judge(
        analysis.sceneCuts.length <= expected.maxSceneCuts,
        'scene_cuts',
        analysis.sceneCuts.length,
        `≤ ${expected.maxSceneCuts}`,
        analysis.sceneCuts.map((c) => `${c.time.toFixed(2)} s (${c.score.toFixed(1)})`).join(', ') || undefined,
      ),
    );
  } else checks.push(skipped('scene_cuts', 'no plan to compare with'));

  const audio = analysis.audio;
  if (!audio) {
    checks.push(
      expected.expectAudio
        ? judge(false, 'audio_present', false, 'an audio stream')
        : skipped('audio_present', 'no sound expected'),
    );
  } else {
    const [low, high] = thresholds.loudnessRangeLufs;
    const silent = longest(audio.silence);
    checks.push(
      judge(true, 'audio_present', true, 'an audio stream'),
      judge(
        silent <= thresholds.maxSilenceSeconds,
        'silence',
        round(silent),
        `≤ ${thresholds.maxSilenceSeconds} s`,
        spans(audio.silence) || undefined,
      ),
      audio.integratedLufs === null
        ? judge(false, 'loudness', 'unmeasurable', `${low}…${high} LUFS`)
        : judge(
            audio.integratedLufs >= low && audio.integratedLufs <= high,
            'loudness',
            round(audio.integratedLufs, 1),
            `${low}…${high} LUFS`,
          ),
      audio.truePeakDbtp === null
        ? skipped('true_peak', 'not measured')
        : judge(
            audio.truePeakDbtp <= thresholds.maxTruePeakDbtp,
            'true_peak',
            round(audio.truePeakDbtp, 1),
            `≤ ${thresholds.maxTruePeakDbtp} dBTP`,
          ),
    );
  }
  return { checks, probe: info, analysis, evidenceTimes };
}
