import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FONT_FILE, MediaError, analyzeClip, decodeCheck, probe, renderAnimatic } from './index';
import { colourDistance, hexRgb, pixel, rgbFrame, scratchDir, sha256, shot } from '../test/helpers';

/** Mean difference of row `y` (320 px wide) between two frames, `b` read `shift` px further
 *  right than `a`. */
function rowDifference(a: Buffer, b: Buffer, y: number, shift = 0): number {
  let total = 0;
  const xs = 320 - shift;
  for (let x = 0; x < xs; x++) total += colourDistance(pixel(a, 320, x + shift, y), pixel(b, 320, x, y));
  return total / xs;
}

describe('renderAnimatic', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const out = (name: string) => join(scratch.dir, name);

  it('renders a 5 s 1280x720 clip: exact frames, H.264 yuv420p, no audio', async () => {
    const file = out('hd.mp4');
    await renderAnimatic(
      shot({
        durationSeconds: 5,
        width: 1280,
        height: 720,
        camera: 'zoom_in',
        onScreenText: 'Run brighter, every morning',
      }),
      file,
      { timeoutMs: 30_000 },
    );
    const info = await probe(file);
    expect(info.durationSeconds).toBeCloseTo(5, 3);
    expect(info.video).toEqual({ codec: 'h264', width: 1280, height: 720, fps: 30, pixFmt: 'yuv420p', frames: 150 });
    expect(info.audio).toBeNull();
    expect(await decodeCheck(file, 30_000)).toEqual({ ok: true, errors: [] });
    expect(readdirSync(scratch.dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('makes round(duration * fps) frames', async () => {
    const file = out('odd.mp4');
    await renderAnimatic(shot({ durationSeconds: 1.37, fps: 24, camera: 'pan_left' }), file, { timeoutMs: 20_000 });
    const info = await probe(file);
    expect(info.video).toMatchObject({ frames: 33, fps: 24 });
    expect(info.durationSeconds).toBeCloseTo(33 / 24, 3);
  });

  it('is deterministic: same spec, same bytes; other text, other bytes', async () => {
    const spec = shot({ camera: 'zoom_out', onScreenText: 'Same every time' });
    await renderAnimatic(spec, out('a.mp4'), { timeoutMs: 20_000 });
    await renderAnimatic(spec, out('b.mp4'), { timeoutMs: 20_000 });
    await renderAnimatic({ ...spec, onScreenText: 'Same every time!' }, out('c.mp4'), { timeoutMs: 20_000 });
    expect(sha256(out('a.mp4'))).toBe(sha256(out('b.mp4')));
    expect(sha256(out('a.mp4'))).not.toBe(sha256(out('c.mp4')));
  });

  it('draws text with quotes, colons, %, backslashes, newlines and emoji', async () => {
    // The font is read from a directory whose name needs filtergraph escaping too.
    const fontDir = join(scratch.dir, "it's: [odd], dir; 100%");
    mkdirSync(fontDir);
    const fontFile = join(fontDir, 'font.ttf');
    copyFileSync(DEFAULT_FONT_FILE, fontFile);
    const nasty = `Say "it's 100%": C:\\path\\%{pts} \\n $HOME 'x' ; [a],b 🚀\nok`;
    const withText = out('nasty.mp4');
    // A private TMPDIR, to see that the text files written for drawtext are removed.
    const tmp = join(scratch.dir, 'tmp');
    mkdirSync(tmp);
    const { TMPDIR } = process.env;
    process.env.TMPDIR = tmp;
    try {
      await renderAnimatic(shot({ onScreenText: nasty }), withText, { timeoutMs: 20_000, fontFile });
    } finally {
      process.env.TMPDIR = TMPDIR;
    }
    expect(readdirSync(tmp)).toEqual([]);
    expect(await decodeCheck(withText, 20_000)).toEqual({ ok: true, errors: [] });
    await renderAnimatic(shot(), out('plain.mp4'), { timeoutMs: 20_000 });
    expect(sha256(withText)).not.toBe(sha256(out('plain.mp4')));
  });

  it('paints the palette: first colour at the top, second at the bottom', async () => {
    const palette = ['#0F766E', '#FDE68A'];
    const file = out('palette.mp4');
    await renderAnimatic(shot({ palette }), file, { timeoutMs: 20_000 });
    const frame = await rgbFrame(file, 0, scratch.dir);
    expect(frame.length).toBe(320 * 180 * 3);
    // All along the edges: the rays of light fade out there.
    for (const x of [4, 80, 160, 240, 315]) {
      expect(colourDistance(pixel(frame, 320, x, 1), hexRgb(palette[0]!))).toBeLessThanOrEqual(10);
      expect(colourDistance(pixel(frame, 320, x, 178), hexRgb(palette[1]!))).toBeLessThanOrEqual(10);
    }
    const middle = pixel(frame, 320, 160, 90);
    expect(colourDistance(middle, hexRgb(palette[0]!))).toBeGreaterThan(40);
    expect(colourDistance(middle, hexRgb(palette[1]!))).toBeGreaterThan(40);
  });

  it('keeps a static shot alive: the light drifts, the gradient holds', async () => {
    const file = out('static.mp4');
    await renderAnimatic(shot({ camera: 'static', palette: ['#000000', '#FFFFFF'] }), file, { timeoutMs: 20_000 });
    const [start, end] = [await rgbFrame(file, 0, scratch.dir), await rgbFrame(file, 29, scratch.dir)];
    expect(end.equals(start)).toBe(false);
    // Across the middle row the rays have moved...
    expect(rowDifference(start, end, 90)).toBeGreaterThan(2);
    // ...while the edges, where the rays fade out, keep the palette colours.
    expect(rowDifference(start, end, 1)).toBeLessThan(1);
    expect(rowDifference(start, end, 178)).toBeLessThan(1);
  });

  it('zooms about the centre', async () => {
    const frame29 = async (camera: 'static' | 'zoom_in') => {
      const file = out(`${camera}-bw.mp4`);
      await renderAnimatic(shot({ camera, palette: ['#000000', '#FFFFFF'] }), file, { timeoutMs: 20_000 });
      return rgbFrame(file, 29, scratch.dir);
    };
    // The light drifts the same way in both, so the zoom is all that differs.
    const [still, zoomed] = [await frame29('static'), await frame29('zoom_in')];
    // Zooming in on a black-to-white gradient pulls grey toward the top edge...
    expect(pixel(zoomed, 320, 160, 0)[0]).toBeGreaterThan(pixel(still, 320, 160, 0)[0] + 3);
    // ...about the centre, which stays put.
    expect(colourDistance(pixel(zoomed, 320, 160, 90), pixel(still, 320, 160, 90))).toBeLessThanOrEqual(3);
  });

  it('pans across the plate', async () => {
    const file = out('pan.mp4');
    await renderAnimatic(shot({ camera: 'pan_right' }), file, { timeoutMs: 20_000 });
    const [start, end] = [await rgbFrame(file, 0, scratch.dir), await rgbFrame(file, 29, scratch.dir)];
    // A 1 s pan travels 20 px (6% of 320, rounded to even): the picture has moved left by that.
    expect(rowDifference(start, end, 90, 20)).toBeLessThan(1.5);
    expect(rowDifference(start, end, 90)).toBeGreaterThan(2);
  });

  it('never looks frozen or black, whatever the camera does', async () => {
    for (const camera of ['static', 'pan_left', 'pan_right', 'zoom_in', 'zoom_out'] as const) {
      const file = out(`alive-${camera}.mp4`);
      // Brand navy: dark, but not black.
      const spec = shot({ camera, durationSeconds: 4, width: 640, height: 360, palette: ['#0B1D3A', '#1E6FD9'] });
      await renderAnimatic({ ...spec, onScreenText: 'Run brighter' }, file, { timeoutMs: 20_000 });
      const analysis = await analyzeClip(file, { timeoutMs: 20_000 });
      expect({ camera, frozen: analysis.frozen, black: analysis.black }).toEqual({ camera, frozen: [], black: [] });
      expect(analysis.decodedSeconds).toBeCloseTo(4, 3);
    }
  });

  it('refuses specs ffmpeg cannot encode, before running it', async () => {
    await expect(renderAnimatic(shot({ width: 321 }), out('x.mp4'), { timeoutMs: 1000 })).rejects.toBeInstanceOf(
      MediaError,
    );
    await expect(
      renderAnimatic(shot({ durationSeconds: 0.001 }), out('x.mp4'), { timeoutMs: 1000 }),
    ).rejects.toMatchObject({
      kind: 'invalid',
    });
  });

  it('leaves no file behind when killed', async () => {
    const file = out('killed.mp4');
    const err = await renderAnimatic(shot({ durationSeconds: 20, width: 1920, height: 1080 }), file, {
      timeoutMs: 150,
    }).catch((e: unknown) => e);
    expect((err as MediaError).kind).toBe('timeout');
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(scratch.dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });
});
