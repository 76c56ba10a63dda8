import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishCut, posterFrame, contactSheet, probe, renderAnimatic, runFfmpeg } from '../index';
import { colourDistance, hexRgb, pixel, scratchDir, shot } from '../../test/helpers';

const RED = '#D02020';
const GREEN = '#20A040';
const BLUE = '#2040C0';

describe('posterFrame and contactSheet', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const out = (name: string) => join(scratch.dir, name);

  it('takes the poster from the middle of the first shot, at the video size', async () => {
    const clipFiles = await Promise.all(
      [RED, GREEN].map(async (colour, i) => {
        const file = out(`p${i}.mp4`);
        await renderAnimatic(shot({ palette: [colour, colour], durationSeconds: 2.5 }), file, { timeoutMs: 20_000 });
        return file;
      }),
    );
    const cut = out('cut.mp4');
    await finishCut({
      clips: clipFiles.map((file) => ({ file, durationSeconds: 2.5 })),
      transition: { kind: 'fade', durationSeconds: 0.5 },
      endCard: { brandName: 'Acme', colors: ['#FFFFFF', '#FFFFFF'], durationSeconds: 1 },
      loudnessLufs: -14,
      fps: 30,
      variants: [{ aspect: '16:9', outFile: cut, width: 320, height: 180 }],
      sourceAspect: '16:9',
      timeoutMs: 30_000,
    });
    const png = out('poster.png');
    await posterFrame(cut, png, { timeoutMs: 20_000 });
    expect((await probe(png)).video).toMatchObject({ codec: 'png', width: 320, height: 180 });
    const rgb = out('poster.rgb');
    await runFfmpeg(['-v', 'error', '-i', png, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y', rgb], {
      timeoutMs: 10_000,
    });
    const frame = readFileSync(rgb);
    expect(colourDistance(pixel(frame, 320, 160, 40), hexRgb(RED))).toBeLessThanOrEqual(12);
    // An explicit time wins.
    await posterFrame(cut, png, { atSeconds: 3.5, timeoutMs: 20_000 });
    await runFfmpeg(['-v', 'error', '-i', png, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y', rgb], {
      timeoutMs: 10_000,
    });
    const later = readFileSync(rgb);
    expect(colourDistance(pixel(later, 320, 160, 40), hexRgb(GREEN))).toBeLessThanOrEqual(12);
  });

  it('lays one thumbnail per shot in a grid of the expected size', async () => {
    const colours = [RED, GREEN, BLUE];
    const files = await Promise.all(
      colours.map(async (colour, i) => {
        const file = out(`s${i}.mp4`);
        await renderAnimatic(shot({ palette: [colour, colour], durationSeconds: 1 }), file, { timeoutMs: 20_000 });
        return file;
      }),
    );
    const png = out('sheet.png');
    await contactSheet(files, png, { columns: 2, thumbWidth: 160, timeoutMs: 20_000 });
    // 2 columns x 160 px; 2 rows of 160 x 90 (the clips' 16:9).
    expect((await probe(png)).video).toMatchObject({ codec: 'png', width: 320, height: 180 });
    const rgb = out('sheet.rgb');
    await runFfmpeg(['-v', 'error', '-i', png, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y', rgb], {
      timeoutMs: 10_000,
    });
    const sheet = readFileSync(rgb);
    expect(colourDistance(pixel(sheet, 320, 120, 60), hexRgb(RED))).toBeLessThanOrEqual(12);
    expect(colourDistance(pixel(sheet, 320, 280, 60), hexRgb(GREEN))).toBeLessThanOrEqual(12);
    expect(colourDistance(pixel(sheet, 320, 120, 150), hexRgb(BLUE))).toBeLessThanOrEqual(12);
    const defaults = out('sheet-default.png');
    await contactSheet(files, defaults, { timeoutMs: 20_000 });
    expect((await probe(defaults)).video).toMatchObject({ width: 3 * 320, height: 180 });
  });
});
