import type { CameraMove, ShotSpec } from '@aiprod/contracts';
import {
  BITEXACT_ARGS,
  BT709_ARGS,
  DEFAULT_FONT_FILE,
  h264IntermediateArgs,
  checkFrame,
  drawTextLine,
  fileUrl,
  oneLine,
  rayPlate,
  textFile,
  withScratch,
} from './filters';
import { MediaError, runFfmpeg, type RunOptions } from './process';

export interface RenderOptions extends RunOptions {
  fontFile?: string;
}

/** Scale reached at the end of a zoom_in (and start of a zoom_out). */
const ZOOM = 0.08;
/** A pan travels at least this share of the frame width... */
const PAN = 0.06;
/** ...and at least this many frame widths a second. */
const PAN_SPEED = 0.04;
/** How fast the plate's rays of light drift across a static or zooming shot, in frame widths
 *  a second: slow, but enough that no half second of the clip is a still (freezedetect at
 *  -60 dB over 0.5 s, as QA runs it, must not fire on an animatic). */
const DRIFT_SPEED = 0.03;

const even = (n: number) => 2 * Math.ceil(n / 2);

/** A camera move as a storyboard names it for a reviewer. */
export const CAMERA_MOVE_NAMES: Readonly<Record<CameraMove, string>> = {
  static: 'static (locked off)',
  zoom_in: 'slow zoom in',
  zoom_out: 'slow zoom out',
  pan_left: 'pan left',
  pan_right: 'pan right',
};

/**
 * The camera move as filters after the plate, and the canvas width the plate needs. The plate
 * is a still (drawing it per frame would cost more than the whole encode), so all motion comes
 * from cropping it at a moving offset, which costs next to nothing:
 * - pans crop across a wider canvas;
 * - static shots and zooms crop across a slightly wider one too, so the rays drift while the
 *   gradient (the same across every row) holds still: light moving over a locked-off camera;
 * - zooms then rescale each frame and crop the centre; the crop offsets are written out from
 *   the frame number because crop's own in_w/in_h keep the size of the first frame.
 * Speeds are per second rather than per clip, so a long shot moves as visibly as a short one.
 */
function camera(spec: ShotSpec, frames: number): { canvasWidth: number; filters: string[] } {
  const { width: w, height: h, fps } = spec;
  const last = Math.max(frames - 1, 1);
  const p = `(n/${last})`; // 0 at the first frame, 1 at the last
  const seconds = last / fps;
  // Crop offsets on yuv420p move in steps of two pixels.
  const drift = even(w * DRIFT_SPEED * seconds);
  // The view slides left over the canvas: the rays drift to the right.
  const drifting = `crop=${w}:${h}:x=${drift}-2*trunc(${drift}*${p}/2):y=0`;
  switch (spec.camera) {
    case 'static':
      return { canvasWidth: w + drift, filters: [drifting] };
    case 'zoom_in':
    case 'zoom_out': {
      const z = spec.camera === 'zoom_in' ? `(1+${ZOOM}*${p})` : `(1+${ZOOM}*(1-${p}))`;
      return {
        canvasWidth: w + drift,
        filters: [
          drifting,
          `scale=w=2*trunc(${w}*${z}/2):h=2*trunc(${h}*${z}/2):eval=frame:flags=bilinear`,
          `crop=${w}:${h}:x=trunc(${w}*${z}/2)-${w / 2}:y=trunc(${h}*${z}/2)-${h / 2}`,
        ],
      };
    }
    case 'pan_left':
    case 'pan_right': {
      const margin = even(w * Math.max(PAN, PAN_SPEED * seconds));
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
 * The 'local' render backend: an animatic of the shot (palette gradient with soft rays of
 * light, camera move, the on-screen text) as an H.264 MP4 without audio, exactly
 * round(durationSeconds * fps) frames. Something always moves, even in a static shot, so that
 * no stretch of it reads as a frozen picture. The same spec always gives the same bytes. The file appears at `outFile` only when complete.
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
    const filters = [rayPlate(move.canvasWidth, height, width, fps, frames, top, bottom), ...move.filters];
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
        ...h264IntermediateArgs(fps),
        ...BT709_ARGS,
        ...BITEXACT_ARGS,
        '-movflags',
        '+faststart',
        '-f',
        'mp4',
        '-y',
        fileUrl(partial),
      ],
      { ...opts, operation: 'animatic' },
    );
  });
}
