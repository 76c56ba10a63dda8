import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FONT_FILE, MediaError, decodeCheck, probe, renderAnimatic } from './index';
import { colourDistance, hexRgb, pixel, rgbFrame, scratchDir, sha256, shot } from '../test/helpers';

describe('renderAnimatic', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const out = (name: string) => join(scratch.dir, name);

  it('renders a 5 s 1280x720 clip: exact frames, H.264 yuv420p, no audio', async () => {
    const file = out('hd.mp4');
    const started = Date.now();
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
    console.log(`renderAnimatic 5 s 1280x720 30 fps: ${Date.now() - started} ms`);
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
    expect(colourDistance(pixel(frame, 320, 160, 1), hexRgb(palette[0]!))).toBeLessThanOrEqual(10);
    expect(colourDistance(pixel(frame, 320, 160, 178), hexRgb(palette[1]!))).toBeLessThanOrEqual(10);
    const middle = pixel(frame, 320, 160, 90);
    expect(colourDistance(middle, hexRgb(palette[0]!))).toBeGreaterThan(40);
    expect(colourDistance(middle, hexRgb(palette[1]!))).toBeGreaterThan(40);
  });

  it('moves the camera for a zoom and holds it for a static shot', async () => {
    const first = async (camera: 'static' | 'zoom_in') => {
      const file = out(`${camera}.mp4`);
      await renderAnimatic(shot({ camera, palette: ['#000000', '#FFFFFF'] }), file, { timeoutMs: 20_000 });
      return [await rgbFrame(file, 0, scratch.dir), await rgbFrame(file, 29, scratch.dir)] as const;
    };
    const [zoomStart, zoomEnd] = await first('zoom_in');
    // Zooming in on a black-to-white gradient pulls grey toward the top edge...
    expect(pixel(zoomEnd, 320, 160, 0)[0]).toBeGreaterThan(pixel(zoomStart, 320, 160, 0)[0] + 3);
    // ...about the centre, which stays put.
    expect(Math.abs(pixel(zoomEnd, 320, 160, 90)[0] - pixel(zoomStart, 320, 160, 90)[0])).toBeLessThanOrEqual(3);
    const [staticStart, staticEnd] = await first('static');
    expect(staticEnd.equals(staticStart)).toBe(true);
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
