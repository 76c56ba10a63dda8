import {
  BITEXACT_ARGS,
  BT709_ARGS,
  DEFAULT_FONT_FILE,
  X264_THREADS,
  checkFrame,
  drawTextLine,
  fileUrl,
  gradientStill,
  oneLine,
  textFile,
  withScratch,
} from './filters';
import { probe } from './probe';
import { MediaError, runFfmpeg } from './process';

export interface EndCard {
  brandName: string;
  callToAction?: string;
  /** Top and bottom of the card's gradient, #RRGGBB. */
  colors: [string, string];
  durationSeconds: number;
}

export interface AssembleInput {
  /** Clips in play order; any size, frame rate or codec ffmpeg reads. Their audio is ignored. */
  clips: string[];
  endCard: EndCard;
  width: number;
  height: number;
  fps: number;
  outFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
  fontFile?: string;
}

const SAMPLE_RATE = 48_000;

/** A soft A-major pad: [frequency in Hz, relative level]. */
const CHORD: ReadonlyArray<readonly [number, number]> = [
  [110, 0.6],
  [220, 1],
  [277.18, 0.8],
  [329.63, 0.7],
];
/** The right channel is detuned slightly so the two sides beat slowly: it sounds less like a
 *  test tone. */
const DETUNE = 1.002;
/** Calibrated with the ebur128 filter: with the fades below a bed of 10 s or more measures
 *  -20 LUFS integrated (shorter ones slightly less, as the fades weigh more). */
const LEVEL = 0.074;

function chord(detune: number): string {
  const partials = CHORD.map(([hz, level]) => `${level}*sin(2*PI*${+(hz * detune).toFixed(3)}*t)`);
  return `${LEVEL}*(${partials.join('+')})`;
}

/** The audio bed: exactly `samples` long, fading in and out. */
function audioBed(samples: number): string {
  const seconds = samples / SAMPLE_RATE;
  const fadeIn = Math.min(1, seconds / 4);
  const fadeOut = Math.min(2, seconds / 4);
  return [
    `aevalsrc=exprs=${chord(1)}|${chord(DETUNE)}:s=${SAMPLE_RATE}:c=stereo`,
    // aevalsrc stops on a whole block of samples; trim to the video's length exactly.
    `atrim=end_sample=${samples}`,
    `afade=t=in:d=${fadeIn}`,
    `afade=t=out:st=${seconds - fadeOut}:d=${fadeOut}`,
  ].join(',');
}

/** Length of a clip in frames at `fps`, from its own frame count where the container has one. */
async function clipFrames(clip: string, fps: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const info = await probe(clip, { timeoutMs, signal });
  if (!info.video) throw new MediaError(`clip ${clip} has no video stream`, 'invalid');
  const seconds = info.video.frames && info.video.fps ? info.video.frames / info.video.fps : info.durationSeconds;
  return Math.max(1, Math.round(seconds * fps));
}

/**
 * Joins the clips and an end card into the delivered video, with a generated audio bed, in one
 * ffmpeg run (one filtergraph, one encode). Each clip is fitted into width x height (letterboxed
 * if its shape differs) and held to exactly its own length in frames, so the audio, computed
 * from the same frame counts, ends with the picture.
 */
export async function assemble(input: AssembleInput): Promise<{ durationSeconds: number }> {
  const { width: w, height: h, fps, endCard } = input;
  checkFrame(w, h, fps);
  if (input.clips.length === 0) throw new MediaError('assemble needs at least one clip', 'invalid');
  const cardFrames = Math.round(endCard.durationSeconds * fps);
  if (!(cardFrames >= 1)) throw new MediaError('the end card must last at least one frame', 'invalid');
  const brand = oneLine(endCard.brandName);
  const cta = oneLine(endCard.callToAction);
  const deadline = Date.now() + input.timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());

  const clipFrameCounts = await Promise.all(input.clips.map((c) => clipFrames(c, fps, remaining(), input.signal)));
  const totalFrames = clipFrameCounts.reduce((a, b) => a + b, 0) + cardFrames;
  const samples = Math.round((totalFrames * SAMPLE_RATE) / fps);

  await withScratch(input.outFile, async (dir, partial) => {
    const graph = clipFrameCounts.map(
      (frames, i) =>
        `[${i}:v:0]setpts=PTS-STARTPTS,` +
        `scale=w=${w}:h=${h}:force_original_aspect_ratio=decrease:force_divisible_by=2:out_color_matrix=bt709:out_range=tv,` +
        `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps},format=yuv420p,` +
        // Clone the last frame if the clip runs short, then cut: exactly `frames` frames.
        `tpad=stop=-1:stop_mode=clone,trim=end_frame=${frames},setpts=N/(${fps}*TB)[v${i}]`,
    );

    const style = (preferred: number) => ({
      fontFile: input.fontFile ?? DEFAULT_FONT_FILE,
      preferredSize: Math.round((h * preferred) / 720),
      frameWidth: w,
    });
    const gap = Math.round(h * 0.045);
    const card = [gradientStill(w, h, fps, cardFrames, endCard.colors[0], endCard.colors[1])];
    if (brand) {
      const y = cta ? `h/2-text_h-${gap}` : '(h-text_h)/2';
      card.push(drawTextLine(await textFile(dir, 'brand', brand), brand, style(96), y));
    }
    if (cta)
      card.push(drawTextLine(await textFile(dir, 'cta', cta), cta, style(44), brand ? `h/2+${gap}` : '(h-text_h)/2'));
    graph.push(`${card.join(',')}[card]`);

    const segments = clipFrameCounts.map((_, i) => `[v${i}]`).join('') + '[card]';
    graph.push(`${segments}concat=n=${clipFrameCounts.length + 1}:v=1:a=0[vout]`);
    graph.push(`${audioBed(samples)}[aout]`);

    await runFfmpeg(
      [
        '-v',
        'error',
        ...input.clips.flatMap((c) => ['-i', fileUrl(c)]),
        '-filter_complex',
        graph.join(';'),
        '-map',
        '[vout]',
        '-map',
        '[aout]',
        '-frames:v',
        String(totalFrames),
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '23',
        '-g',
        String(fps),
        '-threads',
        X264_THREADS,
        '-pix_fmt',
        'yuv420p',
        ...BT709_ARGS,
        '-c:a',
        'aac',
        '-b:a',
        '160k',
        '-ar',
        String(SAMPLE_RATE),
        '-ac',
        '2',
        ...BITEXACT_ARGS,
        '-movflags',
        '+faststart',
        '-f',
        'mp4',
        '-y',
        fileUrl(partial),
      ],
      { timeoutMs: remaining(), signal: input.signal },
    );
  });
  const result = await probe(input.outFile, { timeoutMs: 30_000, signal: input.signal });
  return { durationSeconds: result.durationSeconds };
}
