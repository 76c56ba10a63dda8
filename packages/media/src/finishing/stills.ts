import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_FONT_FILE, PNG_STILL_ARGS, fileUrl, filterValue } from '../filters';
import { extractFrame, probe } from '../probe';
import { MediaError, runFfmpeg } from '../process';
import { mapLimit } from './map-limit';

// ---------------------------------------------------------------------------------------------
// Stills
// ---------------------------------------------------------------------------------------------

/**
 * Seconds into `file` of the middle of its first shot, found from its keyframes alone (cheap:
 * finished cuts have one a second, and x264 adds one at each hard cut): the first keyframe that
 * looks clearly unlike the opening frame ends the first shot.
 */
async function firstShotMiddle(file: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'aiprod-poster-'));
  try {
    const raw = join(dir, 'thumbs.rgb');
    const { stderr } = await runFfmpeg(
      [
        '-v',
        'info',
        '-nostats',
        '-skip_frame',
        'nokey',
        '-t',
        '60',
        '-i',
        fileUrl(file),
        '-an',
        '-vf',
        'scale=16:9:flags=area,format=rgb24,showinfo',
        '-fps_mode',
        'passthrough',
        '-f',
        'rawvideo',
        '-y',
        fileUrl(raw),
      ],
      { ...opts, operation: 'scene_detect' },
    );
    const times = [...stderr.matchAll(/pts_time:\s*(-?[\d.]+)/g)].map((m) => Number(m[1]));
    const pixels = await readFile(raw);
    const size = 16 * 9 * 3;
    const frames = Math.min(times.length, Math.floor(pixels.length / size));
    const distance = (k: number) => {
      let sum = 0;
      for (let i = 0; i < size; i += 1) sum += Math.abs(pixels[k * size + i]! - pixels[i]!);
      return sum / size;
    };
    for (let k = 1; k < frames; k += 1) {
      if (distance(k) > 20) return ((times[k - 1]! + times[k]!) / 2 - (times[0] ?? 0)) / 2 + (times[0] ?? 0);
    }
    const last = times[frames - 1] ?? 0;
    return last / 2;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A representative still as a PNG at the video's size: by default the middle of the first shot. */
export async function posterFrame(
  file: string,
  outPng: string,
  opts: { atSeconds?: number; timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const run = () => ({ timeoutMs: Math.max(1, deadline - Date.now()), signal: opts.signal });
  const at = opts.atSeconds ?? (await firstShotMiddle(file, run()));
  await extractFrame(file, at, outPng, run());
}

/**
 * One thumbnail per file (its middle frame, numbered) in a grid PNG of `columns` columns (default
 * up to 4) and thumbWidth-pixel cells (default 320; the height follows the first file's shape):
 * exactly columns x thumbWidth wide and rows x cell height high.
 */
export async function contactSheet(
  files: string[],
  outPng: string,
  opts: { columns?: number; thumbWidth?: number; timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  if (files.length === 0) throw new MediaError('a contact sheet needs at least one file', 'invalid');
  const columns = opts.columns ?? Math.min(4, files.length);
  const tw = opts.thumbWidth ?? 320;
  if (!Number.isInteger(columns) || columns < 1) throw new MediaError(`bad columns ${columns}`, 'invalid');
  if (!Number.isInteger(tw) || tw < 16 || tw % 2) throw new MediaError(`thumbWidth must be even, got ${tw}`, 'invalid');
  const deadline = Date.now() + opts.timeoutMs;
  const run = () => ({ timeoutMs: Math.max(1, deadline - Date.now()), signal: opts.signal });
  const infos = await mapLimit(files, 4, (f) => probe(f, run()));
  const first = infos[0]!.video;
  if (!first?.width || !first.height) throw new MediaError(`${files[0]} has no video`, 'invalid');
  infos.forEach((info, i) => {
    if (!info.video) throw new MediaError(`${files[i]} has no video`, 'invalid');
  });
  const th = Math.max(2, 2 * Math.round((tw * first.height) / first.width / 2));
  const rows = Math.ceil(files.length / columns);
  const label = Math.max(10, Math.round(th / 8));
  const graph = files.map(
    (_, i) =>
      `[${i}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,` +
      `scale=${tw}:${th}:force_original_aspect_ratio=decrease:flags=area,pad=${tw}:${th}:(ow-iw)/2:(oh-ih)/2,setsar=1,` +
      `format=rgb24,drawtext=fontfile=${filterValue(DEFAULT_FONT_FILE)}:text=${i + 1}:expansion=none:fontsize=${label}:` +
      `fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=${Math.round(label / 4)}:x=${Math.round(label / 2)}:y=${Math.round(label / 2)}[t${i}]`,
  );
  graph.push(
    `${files.map((_, i) => `[t${i}]`).join('')}concat=n=${files.length}:v=1:a=0,tile=${columns}x${rows}[sheet]`,
  );
  await rm(outPng, { force: true });
  await runFfmpeg(
    [
      '-v',
      'error',
      ...files.flatMap((f, i) => ['-ss', (infos[i]!.durationSeconds / 2).toFixed(3), '-i', fileUrl(f)]),
      '-filter_complex',
      graph.join(';'),
      '-map',
      '[sheet]',
      ...PNG_STILL_ARGS,
      '-y',
      fileUrl(outPng),
    ],
    { ...run(), operation: 'contact_sheet' },
  );
}
