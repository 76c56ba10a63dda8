import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileUrl, filterValue } from './filters';
import { probe } from './probe';
import { MediaError, runFfmpeg } from './process';

/** A stretch of the clip, in seconds from the start of its timeline. */
export interface Interval {
  start: number;
  end: number;
  duration: number;
}

export interface AnalysisThresholds {
  /** blackdetect pix_th: a pixel is black when its luma is at most 16 + pix_th * 219 (limited
   *  range; pix_th * 255 for full-range input). */
  blackPixelThreshold: number;
  /** blackdetect pic_th: the share of black pixels that makes a picture black. */
  blackPictureRatio: number;
  /** A black stretch shorter than this is not reported. */
  blackMinSeconds: number;
  /** freezedetect n, in dB: frames whose mean absolute difference from the first frame of a
   *  stretch stays at or below this (as a fraction of full scale) are frozen. */
  freezeNoiseDb: number;
  /** freezedetect d: a frozen stretch shorter than this is not reported. */
  freezeMinSeconds: number;
  /** scdet threshold (0..100): a frame scoring at least this starts a new scene. */
  sceneThreshold: number;
  /** silencedetect n, in dB (full scale). */
  silenceNoiseDb: number;
  /** silencedetect d: silence shorter than this is not reported. */
  silenceMinSeconds: number;
}

/**
 * Measured here (ffmpeg 5.1, H.264 yuv420p limited range, BT.709): brand navy #0B1D3A has luma
 * 39 and the #0B1D3A→#1E6FD9 gradient never goes below 39; #101010 is 30, #0A0A0A 25, #050505
 * 20, #000000 16. blackdetect's default pix_th 0.10 puts the cut at 37.9, barely 1 level under
 * navy (0.12 already calls a navy frame black). pix_th 0.05 puts it at 26.95: #000000, #050505
 * and #0A0A0A are black, #101010 and navy (13 levels of headroom for codec noise) are not, and
 * dark gradients (#000000→#0B1D3A) stay well under the 98% picture ratio.
 */
export const DEFAULT_ANALYSIS_THRESHOLDS: AnalysisThresholds = Object.freeze({
  blackPixelThreshold: 0.05,
  blackPictureRatio: 0.98,
  blackMinSeconds: 0.1,
  freezeNoiseDb: -60,
  freezeMinSeconds: 0.5,
  sceneThreshold: 10,
  silenceNoiseDb: -50,
  silenceMinSeconds: 0.5,
});

export interface ClipAnalysis {
  /** Duration actually decoded: last video frame's pts plus one frame duration. */
  decodedSeconds: number;
  /** What ffmpeg logged at error level (or worse) during the analysis pass. */
  decodeErrors: string[];
  black: Interval[];
  /** Frozen stretches (freezedetect; touching ones split by codec noise are joined, see
   *  FREEZE_REFRESH_FACTOR); one still frozen at the end of the clip ends at decodedSeconds. */
  frozen: Interval[];
  sceneCuts: { time: number; score: number }[];
  /** Null when the file has no audio stream. Loudness is null when it cannot be measured
   *  (digital silence: nothing passes the -70 LUFS gate; a peak of -inf). */
  audio: null | {
    silence: Interval[];
    integratedLufs: number | null;
    truePeakDbtp: number | null;
    loudnessRangeLu: number | null;
  };
}

export interface AnalyzeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  thresholds?: Partial<AnalysisThresholds>;
}

/**
 * freezedetect compares frames with the first frame of a still stretch, so codec noise builds
 * up: a keyframe refreshing a frozen picture, or the last frames of a slow move before it,
 * can push the difference just past the noise floor and split one freeze in two (a 2.5 s
 * freeze in x264 output at -g 30 measured as 0.83 s + 1.77 s, split at the keyframe by a change
 * of 0.066% of full scale). Two freezes that touch are one when the frame between them changed
 * (from the frame before it) by at most this many times the noise floor; a real change of
 * picture is far larger.
 */
const FREEZE_REFRESH_FACTOR = 4;

/** Error lines beyond this many add nothing but noise. */
const MAX_DECODE_ERRORS = 50;

/** ffmpeg prints times to six significant digits; a tenth of a millisecond is plenty. */
const round = (n: number) => Math.round(n * 1e4) / 1e4;
const interval = (start: number, end: number): Interval => ({
  start: round(start),
  end: round(end),
  duration: round(end - start),
});

/** A number as a filter option: fixed notation (never 1e-7), no trailing zeros. */
const opt = (n: number) => String(Number(n.toFixed(6)));

function checkThresholds(t: AnalysisThresholds): void {
  const bad = (name: keyof AnalysisThresholds, why: string) => {
    throw new MediaError(`threshold ${name} ${why}, got ${String(t[name])}`, 'invalid');
  };
  for (const name of Object.keys(DEFAULT_ANALYSIS_THRESHOLDS) as (keyof AnalysisThresholds)[]) {
    if (typeof t[name] !== 'number' || !Number.isFinite(t[name])) bad(name, 'must be a finite number');
  }
  if (t.blackPixelThreshold < 0 || t.blackPixelThreshold > 1) bad('blackPixelThreshold', 'must be in 0..1');
  if (t.blackPictureRatio < 0 || t.blackPictureRatio > 1) bad('blackPictureRatio', 'must be in 0..1');
  if (t.sceneThreshold < 0 || t.sceneThreshold > 100) bad('sceneThreshold', 'must be in 0..100');
  // freezedetect takes 0..1 as a ratio: 0 dB is the whole range.
  if (t.freezeNoiseDb > 0) bad('freezeNoiseDb', 'must be at most 0 dB');
  if (t.silenceNoiseDb > 0) bad('silenceNoiseDb', 'must be at most 0 dB');
  for (const name of ['blackMinSeconds', 'freezeMinSeconds', 'silenceMinSeconds'] as const) {
    if (t[name] < 0) bad(name, 'must not be negative');
  }
}

/** One message ffmpeg logged with `-loglevel level+...`: `[ctx @ 0x..] [level] text`, or
 *  `[level] text` without a context. Lines without a prefix continue the previous message. */
interface LogMessage {
  context: string;
  level: string;
  lines: string[];
}

const PREFIXED = /^(?:\[([^\]]+?) @ 0x[0-9a-fA-F]+\] )?\[(trace|debug|verbose|info|warning|error|fatal|panic)\] ?(.*)$/;

function parseLog(stderr: string): LogMessage[] {
  const messages: LogMessage[] = [];
  for (const raw of stderr.split(/\r?\n/)) {
    const line = raw.trimEnd();
    const m = PREFIXED.exec(line);
    if (m) messages.push({ context: m[1] ?? '', level: m[2] ?? '', lines: [m[3] ?? ''] });
    else if (line && messages.length) messages[messages.length - 1]?.lines.push(line);
  }
  return messages;
}

/** Frames as printed by the metadata filter: a `frame:N pts:P pts_time:T` line, then key=value
 *  lines. */
interface FrameMeta {
  time: number;
  tags: Map<string, string>;
}

function parseFrames(text: string): FrameMeta[] {
  const frames: FrameMeta[] = [];
  for (const line of text.split('\n')) {
    const head = /^frame:\d+\s+pts:\S+\s+pts_time:(\S+)/.exec(line);
    if (head) {
      frames.push({ time: Number(head[1]), tags: new Map() });
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) frames[frames.length - 1]?.tags.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return frames.filter((f) => Number.isFinite(f.time));
}

function decodedSecondsOf(frames: FrameMeta[], fps: number): number {
  const last = frames[frames.length - 1];
  if (!last) return 0;
  const before = frames[frames.length - 2];
  const frameDuration = before && last.time > before.time ? last.time - before.time : fps > 0 ? 1 / fps : 0;
  return round(last.time + frameDuration);
}

function videoFindings(frames: FrameMeta[], decodedSeconds: number, t: AnalysisThresholds) {
  const black: Interval[] = [];
  const sceneCuts: { time: number; score: number }[] = [];
  // Each freeze with how much the frame that ended it changed: scdet's mafd against the frame
  // before, in percent of full scale.
  const freezes: { start: number; end: number; endChange: number }[] = [];
  let blackStart: number | undefined;
  let freezeStart: number | undefined;
  const closeBlack = (end: number) => {
    // blackdetect tags every black run; the minimum duration is applied here.
    if (blackStart !== undefined && end - blackStart >= t.blackMinSeconds - 1e-6) black.push(interval(blackStart, end));
    blackStart = undefined;
  };
  for (const frame of frames) {
    const num = (key: string) => {
      const v = frame.tags.get(key);
      return v === undefined ? undefined : Number(v);
    };
    const blackEnd = num('lavfi.black_end');
    if (blackEnd !== undefined) closeBlack(blackEnd);
    const blackBegins = num('lavfi.black_start');
    if (blackBegins !== undefined) blackStart = blackBegins;
    const freezeBegins = num('lavfi.freezedetect.freeze_start');
    if (freezeBegins !== undefined) freezeStart = freezeBegins;
    const freezeEnd = num('lavfi.freezedetect.freeze_end');
    if (freezeEnd !== undefined && freezeStart !== undefined) {
      freezes.push({ start: freezeStart, end: freezeEnd, endChange: num('lavfi.scd.mafd') ?? Infinity });
      freezeStart = undefined;
    }
    if (frame.tags.has('lavfi.scd.time'))
      sceneCuts.push({ time: round(frame.time), score: num('lavfi.scd.score') ?? 0 });
  }
  closeBlack(decodedSeconds);
  if (freezeStart !== undefined) {
    freezes.push({ start: freezeStart, end: Math.max(decodedSeconds, freezeStart), endChange: Infinity });
  }

  const refresh = FREEZE_REFRESH_FACTOR * 100 * 10 ** (t.freezeNoiseDb / 20);
  const merged: typeof freezes = [];
  for (const freeze of freezes) {
    const previous = merged[merged.length - 1];
    if (previous && Math.abs(freeze.start - previous.end) < 1e-6 && previous.endChange <= refresh) {
      previous.end = freeze.end;
      previous.endChange = freeze.endChange;
    } else {
      merged.push({ ...freeze });
    }
  }
  return { black, frozen: merged.map((f) => interval(f.start, f.end)), sceneCuts };
}

function audioFindings(messages: LogMessage[], endSeconds: number) {
  const silence: Interval[] = [];
  let silenceStart: number | undefined;
  for (const m of messages) {
    if (!m.context.includes('silencedetect')) continue;
    const text = m.lines[0] ?? '';
    const start = /silence_start: (-?[\d.]+)/.exec(text);
    if (start) silenceStart = Math.max(0, Number(start[1]));
    const end = /silence_end: (-?[\d.]+)/.exec(text);
    if (end && silenceStart !== undefined) {
      silence.push(interval(silenceStart, Number(end[1])));
      silenceStart = undefined;
    }
  }
  if (silenceStart !== undefined) silence.push(interval(silenceStart, Math.max(endSeconds, silenceStart)));

  // The last summary: ffmpeg also builds (and so tears down, printing an empty summary) a
  // throwaway copy of the graph while setting up.
  const summary = [...messages].reverse().find((m) => m.context.includes('ebur128') && m.lines[0] === 'Summary:');
  const text = summary?.lines.join('\n') ?? '';
  const value = (re: RegExp) => {
    const v = re.exec(text)?.[1];
    if (v === undefined) return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  };
  const integrated = value(/\bI:\s+(\S+) LUFS/);
  return {
    silence,
    // -70 LUFS is ebur128's floor: nothing passed the absolute gate, so nothing was measured.
    integratedLufs: integrated === null || integrated <= -70 ? null : integrated,
    truePeakDbtp: value(/\bPeak:\s+(\S+) dBFS/),
    loudnessRangeLu: value(/\bLRA:\s+(\S+) LU/),
  };
}

/**
 * Measures a clip in one ffmpeg decode pass (after an ffprobe): black, frozen and scene-cut
 * detection on the first video stream, and when there is audio, silence and EBU R128 loudness
 * (integrated, true peak, range) on the first audio stream, plus whatever the decoders
 * complained about. Times are in seconds on the clip's own timeline.
 *
 * Rejects with a MediaError when the file cannot be probed or has no video, and on timeout or
 * abort. A file that decodes only in part is not an error: it shows in decodeErrors and a
 * short decodedSeconds.
 */
export async function analyzeClip(file: string, opts: AnalyzeOptions): Promise<ClipAnalysis> {
  const t: AnalysisThresholds = { ...DEFAULT_ANALYSIS_THRESHOLDS, ...opts.thresholds };
  checkThresholds(t);
  if (!(opts.timeoutMs > 0)) throw new MediaError(`timeoutMs must be positive, got ${opts.timeoutMs}`, 'invalid');
  const deadline = Date.now() + opts.timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());

  const info = await probe(file, { timeoutMs: remaining(), signal: opts.signal });
  if (!info.video) throw new MediaError(`${file} has no video stream`, 'invalid');
  const withAudio = info.audio !== null;

  const dir = await mkdtemp(join(tmpdir(), 'aiprod-analyze-'));
  try {
    const framesFile = join(dir, 'frames.txt');
    // Per-frame results go to a file (every frame carries scdet's score, so every frame is
    // listed): exact timestamps, and nothing lost if a broken file floods stderr.
    const video =
      '[0:v:0]' +
      [
        `blackdetect=d=${opt(t.blackMinSeconds)}:pic_th=${opt(t.blackPictureRatio)}:pix_th=${opt(t.blackPixelThreshold)}`,
        `freezedetect=n=${opt(t.freezeNoiseDb)}dB:d=${opt(t.freezeMinSeconds)}`,
        `scdet=threshold=${opt(t.sceneThreshold)}`,
        `metadata=mode=print:file=${filterValue(fileUrl(framesFile))}`,
      ].join(',') +
      '[v]';
    // framelog=verbose keeps ebur128's ten lines a second out of the log; its summary (printed
    // when the graph closes) and silencedetect's lines are read from stderr.
    const audio = `[0:a:0]silencedetect=n=${opt(t.silenceNoiseDb)}dB:d=${opt(t.silenceMinSeconds)},ebur128=peak=true:framelog=verbose[a]`;
    const args = [
      '-nostats',
      '-loglevel',
      'level+info',
      '-i',
      fileUrl(file),
      '-filter_complex',
      withAudio ? `${video};${audio}` : video,
      '-map',
      '[v]',
      ...(withAudio ? ['-map', '[a]'] : []),
      '-f',
      'null',
      '-',
    ];

    let stderr: string;
    let failure: string | undefined;
    try {
      ({ stderr } = await runFfmpeg(args, { timeoutMs: remaining(), signal: opts.signal, operation: 'analyze' }));
    } catch (err) {
      // ffmpeg gave up on the file part-way: what it measured until then still counts.
      if (!(err instanceof MediaError && err.kind === 'exit')) throw err;
      stderr = err.stderrTail;
      failure = err.message;
    }

    const messages = parseLog(stderr);
    const decodeErrors = messages
      .filter((m) => m.level === 'error' || m.level === 'fatal' || m.level === 'panic')
      .map((m) => (m.context ? `[${m.context}] ${m.lines.join(' ')}` : m.lines.join(' ')).trim())
      .slice(0, MAX_DECODE_ERRORS);
    if (failure && !decodeErrors.includes(failure)) decodeErrors.push(failure);

    const frames = parseFrames(await readFile(framesFile, 'utf8').catch(() => ''));
    const decodedSeconds = decodedSecondsOf(frames, info.video.fps);
    return {
      decodedSeconds,
      decodeErrors,
      ...videoFindings(frames, decodedSeconds, t),
      audio: withAudio ? audioFindings(messages, decodedSeconds) : null,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
