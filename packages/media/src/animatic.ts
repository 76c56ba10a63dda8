import type { ShotSpec } from '@aiprod/contracts';
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
import { MediaError, runFfmpeg, type RunOptions } from './process';

export interface RenderOptions extends RunOptions {
  fontFile?: string;
}

/** Scale reached at the end of a zoom_in (and start of a zoom_out). */
const ZOOM = 0.08;
/** Horizontal drift over a pan, as a fraction of the frame width. */
const PAN = 0.06;

/**
 * The camera move as filters after the gradient, and the canvas size the gradient needs.
 * Zooms rescale each frame and crop the centre; the crop offsets are written out from the
 * frame number because crop's own in_w/in_h keep the size of the first frame.
 */
function camera(spec: ShotSpec, frames: number): { canvasWidth: number; filters: string[] } {
  const { width: w, height: h } = spec;
  const p = `(n/${Math.max(frames - 1, 1)})`; // 0 at the first frame, 1 at the last
  switch (spec.camera) {
    case 'static':
      return { canvasWidth: w, filters: [] };
    case 'zoom_in':
    case 'zoom_out': {
      const z = spec.camera === 'zoom_in' ? `(1+${ZOOM}*${p})` : `(1+${ZOOM}*(1-${p}))`;
      return {
        canvasWidth: w,
        filters: [
          `scale=w=2*trunc(${w}*${z}/2):h=2*trunc(${h}*${z}/2):eval=frame:flags=bilinear`,
          `crop=${w}:${h}:x=trunc(${w}*${z}/2)-${w / 2}:y=trunc(${h}*${z}/2)-${h / 2}`,
        ],
      };
    }
    case 'pan_left':
    case 'pan_right': {
      const margin = 2 * Math.ceil((w * PAN) / 2);
      // Panning right moves the view right over the canvas.
      const x = spec.camera === 'pan_right' ? `${margin}*${p}` : `${margin}*(1-${p})`;
      return { canvasWidth: w + margin, filters: [`crop=${w}:${h}:x=${x}:y=0`] };
    }
    default: {
      const never: never = spec.camera;
      throw new MediaError(`unknown camera move ${String(never)}`, 'invalid');
    }
  }
}

/**
 * The 'local' render backend: an animatic of the shot (palette gradient, camera move, the
 * on-screen text) as an H.264 MP4 without audio, exactly round(durationSeconds * fps) frames.
 * The same spec always gives the same bytes. The file appears at `outFile` only when complete.
 */
export async function renderAnimatic(spec: ShotSpec, outFile: string, opts: RenderOptions): Promise<void> {
  const { width, height, fps } = spec;
  checkFrame(width, height, fps);
  const frames = Math.round(spec.durationSeconds * fps);
  if (!(frames >= 1)) throw new MediaError(`shot ${spec.shotId} is shorter than one frame`, 'invalid');
  const [top, bottom] = spec.palette;
  if (!top || !bottom) throw new MediaError(`shot ${spec.shotId} needs a palette of two colours`, 'invalid');
  const text = oneLine(spec.onScreenText);
  const move = camera(spec, frames);

  await withScratch(outFile, async (dir, partial) => {
    const filters = [gradientStill(move.canvasWidth, height, fps, frames, top, bottom), ...move.filters];
    if (text) {
      const style = {
        fontFile: opts.fontFile ?? DEFAULT_FONT_FILE,
        preferredSize: Math.round((height * 64) / 720),
        frameWidth: width,
      };
      filters.push(drawTextLine(await textFile(dir, 'text', text), text, style, '(h-text_h)/2'));
    }
    await runFfmpeg(
      [
        '-v',
        'error',
        '-filter_complex',
        `${filters.join(',')}[v]`,
        '-map',
        '[v]',
        '-frames:v',
        String(frames),
        '-an',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '18',
        '-g',
        String(fps),
        '-threads',
        X264_THREADS,
        '-pix_fmt',
        'yuv420p',
        ...BT709_ARGS,
        ...BITEXACT_ARGS,
        '-movflags',
        '+faststart',
        '-f',
        'mp4',
        '-y',
        fileUrl(partial),
      ],
      opts,
    );
  });
}
