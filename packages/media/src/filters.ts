import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MediaError } from './process';

export const DEFAULT_FONT_FILE = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

/** x264's output depends on its thread count, so it is fixed here rather than left to the core
 *  count: the same input then gives the same bytes on any machine. */
export const X264_THREADS = '2';

/**
 * Our H.264 encode: x264 veryfast, a keyframe every second, yuv420p, fixed threads (x264's
 * output depends on its thread count; fixing it keeps renders byte-identical on any machine).
 */
export function h264Args(crf: number, fps: number, preset: 'veryfast' | 'ultrafast' = 'veryfast'): string[] {
  return [
    '-c:v',
    'libx264',
    '-preset',
    preset,
    '-crf',
    String(crf),
    '-g',
    String(fps),
    '-threads',
    X264_THREADS,
    '-pix_fmt',
    'yuv420p',
  ];
}

/**
 * An intermediate H.264 encode, for a clip that finishing decodes and encodes again (the local
 * animatic shots): x264 ultrafast at a low CRF, so the one full-cost encode is the final cut's.
 * About a quarter less encode time than veryfast at CRF 18 and faster to decode (QA and finishing
 * read it), at several times the bytes: near-lossless for what is re-encoded at CRF 23.
 */
export const h264IntermediateArgs = (fps: number): string[] => h264Args(14, fps, 'ultrafast');

/** One still image written as a PNG file. */
export const PNG_STILL_ARGS = ['-frames:v', '1', '-f', 'image2', '-update', '1', '-c:v', 'png'];

/** Container and codec flags that keep version strings and metadata out of the output, so a
 *  render is byte-for-byte reproducible. */
export const BITEXACT_ARGS = [
  '-fflags',
  '+bitexact',
  '-flags',
  '+bitexact',
  '-map_metadata',
  '-1',
  '-map_chapters',
  '-1',
];

/** HD-style colour signalling; without tags players guess, and guess differently. */
export const BT709_ARGS = [
  '-colorspace',
  'bt709',
  '-color_primaries',
  'bt709',
  '-color_trc',
  'bt709',
  '-color_range',
  'tv',
];

/** A local path as an ffmpeg URL, so it is never read as an option or a protocol
 *  (`pipe:`, `concat:`, `http:`...). */
export const fileUrl = (path: string) => `file:${resolve(path)}`;

/**
 * Escapes a value for use inside a filtergraph option. Two parsers see it: the option parser
 * (`\ ' :` are special) and then, outside that, the graph parser (`\ ' [ ] , ;`).
 */
export function filterValue(value: string): string {
  const option = value.replace(/[\\':]/g, (c) => `\\${c}`);
  return option.replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}

/** `#RRGGBB` as ffmpeg's `0xRRGGBB`. */
export function ffColor(hex: string): string {
  if (!/^#[0-9a-fA-F]{6}$/.test(hex)) throw new MediaError(`not a #RRGGBB colour: ${JSON.stringify(hex)}`, 'invalid');
  return `0x${hex.slice(1).toUpperCase()}`;
}

/** yuv420p needs even dimensions; libx264 refuses odd ones with an unhelpful message. */
export function checkFrame(width: number, height: number, fps: number): void {
  const evenSize = (n: number) => Number.isInteger(n) && n >= 16 && n % 2 === 0;
  if (!evenSize(width) || !evenSize(height)) {
    throw new MediaError(`frame size must be even and at least 16x16, got ${width}x${height}`, 'invalid');
  }
  if (!Number.isInteger(fps) || fps < 1 || fps > 120)
    throw new MediaError(`fps must be an integer 1..120, got ${fps}`, 'invalid');
}

/**
 * A still vertical gradient, `frames` frames long at `fps`. The gradient is drawn once and the
 * frame repeated: drawing it per frame cost more than the whole encode. `speed` is the source's
 * rotation rate; it cannot be 0, but frame 0 (the only one used) is never rotated.
 */
export function gradientStill(
  width: number,
  height: number,
  fps: number,
  frames: number,
  top: string,
  bottom: string,
): string {
  return [
    `gradients=s=${width}x${height}:r=${fps}:c0=${ffColor(top)}:c1=${ffColor(bottom)}:n=2:x0=0:y0=0:x1=0:y1=${height - 1}:speed=0.00001`,
    'trim=end_frame=1',
    'scale=out_color_matrix=bt709:out_range=tv',
    'format=yuv420p',
    `loop=loop=${frames - 1}:size=1:start=0`,
    `setpts=N/(${fps}*TB)`,
  ].join(',');
}

/** Strongest light (and shadow) the rays lay on the plate, as an opacity of white (black). */
const RAY_OPACITY = 0.1;
/** The rays' two periods, in frame widths, and their slant (horizontal shift per row). */
const RAY_PERIODS = [0.31, 0.13] as const;
const RAY_SLANT = 0.45;
/** The light masks are drawn at this fraction of the frame size and scaled up: they are soft,
 *  and drawing them at full size would cost more than the rest of the still. */
const RAY_MASK_SCALE = 4;

/**
 * `gradientStill` with soft slanted rays of light and shadow across it: a still plate that a
 * camera move can visibly travel over (a pure vertical gradient looks the same after a pan).
 * The rays fade out toward the top and bottom edges, so the first and last rows keep the
 * palette colours; light and shadow in equal measure keep them visible on white and on black.
 * `frameWidth` sets the rays' scale (the canvas may be wider, for a pan).
 *
 * A filtergraph fragment: several chains whose last one is left open, so that filters can be
 * appended with a comma. It uses the labels `plate_*`.
 */
export function rayPlate(
  width: number,
  height: number,
  frameWidth: number,
  fps: number,
  frames: number,
  top: string,
  bottom: string,
): string {
  const k = RAY_MASK_SCALE;
  const maskW = Math.max(2, Math.ceil(width / k));
  const maskH = Math.max(2, Math.ceil(height / k));
  // In mask pixels: u runs across the rays, in full-size pixels.
  const u = `((X+0.5)*${k}+${RAY_SLANT}*(Y+0.5)*${k})`;
  const [p1, p2] = RAY_PERIODS.map((p) => +(p * frameWidth).toFixed(3));
  const ray = `(0.6*cos(2*PI*${u}/${p1})+0.4*cos(2*PI*${u}/${p2}+1.3))`;
  const envelope = `sin(PI*(Y+0.5)/H)`;
  const mask = (sign: 1 | -1, label: string) =>
    `color=c=black:s=${maskW}x${maskH}:r=${fps},trim=end_frame=1,format=gray,` +
    `geq=lum='${255 * RAY_OPACITY}*${envelope}*max(0,${sign}*${ray})',` +
    `scale=${width}x${height}:flags=bicubic[${label}]`;
  const solid = (colour: string, label: string) =>
    `color=c=${colour}:s=${width}x${height}:r=${fps},trim=end_frame=1,format=gbrp[${label}]`;
  return [
    `gradients=s=${width}x${height}:r=${fps}:c0=${ffColor(top)}:c1=${ffColor(bottom)}:n=2:x0=0:y0=0:x1=0:y1=${height - 1}:speed=0.00001,trim=end_frame=1,format=gbrp[plate_gradient]`,
    mask(1, 'plate_light_mask'),
    mask(-1, 'plate_shadow_mask'),
    solid('white', 'plate_white'),
    solid('black', 'plate_black'),
    '[plate_white][plate_light_mask]alphamerge[plate_light]',
    '[plate_black][plate_shadow_mask]alphamerge[plate_shadow]',
    '[plate_gradient][plate_light]overlay=format=gbrp[plate_lit]',
    [
      '[plate_lit][plate_shadow]overlay=format=gbrp',
      'scale=out_color_matrix=bt709:out_range=tv',
      'format=yuv420p',
      `loop=loop=${frames - 1}:size=1:start=0`,
      `setpts=N/(${fps}*TB)`,
    ].join(','),
  ].join(';');
}

/** DejaVu Sans Bold advance widths (units per em: 2048) for U+0020..U+007E, read from the font. */
const ADVANCES = [
  713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425, 1425,
  1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399, 1681, 1714,
  762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483, 1485, 936, 748,
  936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134, 1458, 1407, 1466,
  1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716,
];

/** Width of `text` in ems. Characters outside ASCII count as 1 em: wide enough for any
 *  DejaVu glyph and for the placeholder drawn when the font lacks one (emoji, CJK). */
function widthEm(text: string): number {
  let units = 0;
  for (const ch of text) units += ADVANCES[(ch.codePointAt(0) ?? 0) - 32] ?? 2048;
  return units / 2048;
}

export interface TextStyle {
  fontFile: string;
  /** Font size wanted, in pixels, before shrinking to fit. */
  preferredSize: number;
  frameWidth: number;
}

/** The box drawn behind text, as a fraction of the font size on each side. */
const BOX_BORDER_EM = 0.3;

/**
 * A drawtext filter for one centred line read from `textFile`, shrunk if needed so the line
 * and its box fit in 92% of the frame width. White on a translucent dark box: legible on any
 * palette. `expansion=none` because the text is the client's, not a template.
 */
export function drawTextLine(textFile: string, text: string, style: TextStyle, y: string): string {
  const fit = (0.92 * style.frameWidth) / (widthEm(text) + 2 * BOX_BORDER_EM);
  const size = Math.max(8, Math.floor(Math.min(style.preferredSize, fit)));
  return [
    `drawtext=fontfile=${filterValue(style.fontFile)}`,
    `textfile=${filterValue(textFile)}`,
    'expansion=none',
    `fontsize=${size}`,
    'fontcolor=white',
    'box=1',
    'boxcolor=black@0.4',
    `boxborderw=${Math.round(size * BOX_BORDER_EM)}`,
    'x=(w-text_w)/2',
    `y=${y}`,
  ].join(':');
}

/** One line for drawtext: control characters (newlines included) become spaces. */
export function oneLine(text: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  return (text ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
}

/**
 * Runs `work` with a private temporary directory (for drawtext's text files) and a partial
 * output path, then moves the result into place. A failed or killed run never leaves a
 * half-written file at `outFile`, and the temporary files are always removed.
 */
export async function withScratch<T>(outFile: string, work: (dir: string, partial: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'aiprod-media-'));
  // Unique, so two attempts at the same shot cannot write into one file.
  const partial = `${outFile}.${randomBytes(4).toString('hex')}.partial`;
  try {
    const result = await work(dir, partial);
    await rename(partial, outFile);
    return result;
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes `text` to a file in `dir` for drawtext's textfile= (no escaping needed that way). */
export async function textFile(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, `${name}.txt`);
  await writeFile(path, text, 'utf8');
  return path;
}
