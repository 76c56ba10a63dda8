import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ShotSpec } from '@aiprod/contracts';
import { h264Args, MediaError, renderAnimatic, runFfmpeg } from '@aiprod/media';

/** What is wrong with a clip of the corpus ('good': nothing). */
export type DefectKind =
  | 'good'
  | 'black'
  | 'frozen'
  | 'silent'
  | 'too_loud'
  | 'wrong_duration'
  | 'wrong_aspect'
  | 'truncated'
  | 'missing_text'
  | 'misspelt_text'
  | 'not_video';

export const DEFECT_KINDS: readonly DefectKind[] = [
  'good',
  'black',
  'frozen',
  'silent',
  'too_loud',
  'wrong_duration',
  'wrong_aspect',
  'truncated',
  'missing_text',
  'misspelt_text',
  'not_video',
];

/** One clip and the shot it should be checked against. `withAudio`: the clip is meant to have
 *  sound (every real clip of the corpus carries a tone track; 'not_video' has nothing). */
export interface DefectClip {
  kind: DefectKind;
  file: string;
  spec: ShotSpec;
  withAudio: boolean;
}

export interface DefectCorpusOptions {
  width?: number;
  height?: number;
  fps?: number;
  durationSeconds?: number;
}

/** The text every spec asks for, and the typo the 'misspelt_text' clip shows instead. */
export const CORPUS_TEXT = 'Run brighter';
export const MISSPELT_TEXT = 'Run brihgter';

/** Peak amplitude of a stereo 1 kHz sine and its loudness: such a tone measures
 *  20*log10(amplitude) LUFS (EBU Tech 3341, test 1). 0.1 → -20 LUFS; 0.9 → -0.9 LUFS (and a
 *  -0.9 dBFS peak): far over any delivery target. */
const GOOD_TONE = 0.1;
const LOUD_TONE = 0.9;
const SAMPLE_RATE = 48_000;
/** The 'silent' clip has sound for this long at the start, then digital silence. */
const SILENT_AFTER_SECONDS = 0.75;
/** Length of the black and the frozen stretches, centred in the clip. */
const BLACK_SECONDS = 1.2;
const FROZEN_SECONDS = 2.5;
/** Two jobs at a time: the machines have two cores and x264 runs two threads. */
const CONCURRENCY = 2;
const TIMEOUT_MS = 60_000;

/** Runs the tasks at most `limit` at a time; rejects with the first failure. */
async function inPool(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task) await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

const url = (path: string) => `file:${resolve(path)}`;
const even = (n: number) => 2 * Math.round(n / 2);

function tone(amplitude: number, seconds: number, gate = '1'): string {
  const channel = `${amplitude}*sin(2*PI*1000*t)*(${gate})`;
  return `aevalsrc=exprs='${channel}|${channel}':s=${SAMPLE_RATE}:d=${seconds}`;
}

/**
 * Writes a corpus of clips, one per DefectKind, into `dir` (created if needed; the clips are
 * `<kind>.mp4`), each with the ShotSpec it should be checked against. The pictures are the
 * local animatic (brand-navy palette, a pan, the text "Run brighter"); every real clip carries
 * a 1 kHz tone at -20 LUFS unless its defect is about the sound. Defaults: 640x360, 30 fps,
 * 5 s. Takes a few seconds.
 */
export async function makeDefectCorpus(dir: string, opts: DefectCorpusOptions = {}): Promise<DefectClip[]> {
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  const fps = opts.fps ?? 30;
  const seconds = opts.durationSeconds ?? 5;
  // The black and frozen stretches and the 1 s shortfall need room.
  if (!(seconds >= 4 && seconds <= 20)) {
    throw new MediaError(`durationSeconds must be 4..20 for a defect corpus, got ${seconds}`, 'invalid');
  }
  const spec: ShotSpec = {
    shotId: 'defect',
    index: 0,
    purpose: 'product',
    durationSeconds: seconds,
    prompt: 'A runner at dawn on a city bridge, brand colours, light through the haze',
    camera: 'pan_right',
    onScreenText: CORPUS_TEXT,
    // Dark brand navy: a clip that is dark but not black.
    palette: ['#0B1D3A', '#1E6FD9'],
    width,
    height,
    fps,
  };
  const specFor = (kind: DefectKind): ShotSpec => ({ ...spec, shotId: `defect-${kind.replace(/_/g, '-')}` });

  await mkdir(dir, { recursive: true });
  const work = join(dir, '.pictures');
  await mkdir(work, { recursive: true });
  const out = (kind: DefectKind) => join(dir, `${kind}.mp4`);
  const picture = (name: string) => join(work, `${name}.mp4`);
  const timeouts = { timeoutMs: TIMEOUT_MS };

  try {
    // 1. Pictures: the good one, and those whose defect is in the picture itself.
    const { onScreenText: _text, ...withoutText } = spec;
    const portrait = width !== height ? { width: height, height: width } : { width, height: even(height / 2) };
    await inPool(
      [
        () => renderAnimatic(spec, picture('good'), timeouts),
        () => renderAnimatic(withoutText, picture('no-text'), timeouts),
        () => renderAnimatic({ ...spec, onScreenText: MISSPELT_TEXT }, picture('misspelt'), timeouts),
        () => renderAnimatic({ ...spec, durationSeconds: seconds - 1 }, picture('short'), timeouts),
        () => renderAnimatic({ ...spec, ...portrait }, picture('other-aspect'), timeouts),
      ],
      CONCURRENCY,
    );

    // 2. Clips: a picture and a sound track, muxed (or re-encoded when the picture is spoilt).
    const mux = async (source: string, kind: DefectKind, audio: string, videoFilter?: string): Promise<void> => {
      const video = videoFilter
        ? ['-filter_complex', `[0:v:0]${videoFilter}[v]`, '-map', '[v]', ...h264Args(18, fps)]
        : ['-map', '0:v:0', '-c:v', 'copy'];
      await runFfmpeg(
        [
          '-v',
          'error',
          '-i',
          url(source),
          '-f',
          'lavfi',
          '-i',
          audio,
          ...video,
          '-map',
          '1:a:0',
          '-c:a',
          'aac',
          '-b:a',
          '160k',
          '-ar',
          String(SAMPLE_RATE),
          '-ac',
          '2',
          '-map_metadata',
          '-1',
          // The index goes first, so that a truncated copy still opens.
          '-movflags',
          '+faststart',
          '-f',
          'mp4',
          '-y',
          url(out(kind)),
        ],
        timeouts,
      );
    };
    const good = tone(GOOD_TONE, seconds);
    const blackFrom = Math.round((seconds / 2 - BLACK_SECONDS / 2) * fps);
    const blackTo = blackFrom + Math.round(BLACK_SECONDS * fps);
    const frozenFrom = Math.round((seconds / 2 - FROZEN_SECONDS / 2) * fps);
    const frozenTo = frozenFrom + Math.round(FROZEN_SECONDS * fps) - 1;
    await inPool(
      [
        () => mux(picture('good'), 'good', good),
        () =>
          mux(
            picture('good'),
            'black',
            good,
            `drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='gte(n,${blackFrom})*lt(n,${blackTo})'`,
          ),
        // Frames frozenFrom..frozenTo all show frame frozenFrom.
        () =>
          mux(
            picture('good'),
            'frozen',
            good,
            `split[a][b];[a][b]freezeframes=first=${frozenFrom}:last=${frozenTo}:replace=${frozenFrom}`,
          ),
        () => mux(picture('good'), 'silent', tone(GOOD_TONE, seconds, `lt(t,${SILENT_AFTER_SECONDS})`)),
        () => mux(picture('good'), 'too_loud', tone(LOUD_TONE, seconds)),
        () => mux(picture('short'), 'wrong_duration', tone(GOOD_TONE, seconds - 1)),
        () => mux(picture('other-aspect'), 'wrong_aspect', good),
        () => mux(picture('no-text'), 'missing_text', good),
        () => mux(picture('misspelt'), 'misspelt_text', good),
      ],
      CONCURRENCY,
    );

    // 3. What no encoder would write.
    const whole = await readFile(out('good'));
    await writeFile(out('truncated'), whole.subarray(0, Math.floor(whole.length * 0.6)));
    await writeFile(out('not_video'), 'This is a text file, not a video.\n', 'utf8');
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  return DEFECT_KINDS.map((kind) => ({
    kind,
    file: out(kind),
    spec: specFor(kind),
    withAudio: kind !== 'not_video',
  }));
}
