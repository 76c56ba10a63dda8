import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assemble, decodeCheck, extractFrame, probe, renderAnimatic, runFfmpeg } from './index';
import { colourDistance, hexRgb, integratedLoudness, pixel, rgbFrame, scratchDir, sha256, shot } from '../test/helpers';

describe('assemble', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const out = (name: string) => join(scratch.dir, name);
  const endCard = {
    brandName: 'Acme Running',
    callToAction: 'Run brighter: 20% off',
    colors: ['#111827', '#4338CA'] as [string, string],
  };

  it('joins three 5 s 1280x720 clips and a 2 s end card, with a -20 LUFS audio bed', async () => {
    const cameras = ['zoom_in', 'pan_right', 'static'] as const;
    const clips = await Promise.all(
      cameras.map(async (camera, index) => {
        const file = out(`hd-${index}.mp4`);
        const spec = shot({
          index,
          camera,
          durationSeconds: 5,
          width: 1280,
          height: 720,
          onScreenText: `Beat ${index + 1}`,
        });
        await renderAnimatic(spec, file, { timeoutMs: 60_000 });
        return file;
      }),
    );

    const file = out('final.mp4');
    const result = await assemble({
      clips,
      endCard: { ...endCard, durationSeconds: 2 },
      width: 1280,
      height: 720,
      fps: 30,
      outFile: file,
      timeoutMs: 60_000,
    });

    expect(result.durationSeconds).toBeGreaterThan(16.9);
    expect(result.durationSeconds).toBeLessThan(17.1);
    const info = await probe(file);
    expect(info.video).toEqual({ codec: 'h264', width: 1280, height: 720, fps: 30, pixFmt: 'yuv420p', frames: 510 });
    expect(info.audio).toEqual({ codec: 'aac', sampleRate: 48_000, channels: 2 });
    const loudness = await integratedLoudness(file);
    expect(loudness).toBeGreaterThanOrEqual(-22);
    expect(loudness).toBeLessThanOrEqual(-18);
    expect(await decodeCheck(file, 30_000)).toEqual({ ok: true, errors: [] });
    expect(readdirSync(scratch.dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('fits clips of other sizes and frame rates, and ends on the end card', async () => {
    const a = out('square-24fps.mp4');
    const b = out('small.mp4');
    await renderAnimatic(
      shot({ width: 240, height: 240, fps: 24, durationSeconds: 2, palette: ['#FF0000', '#FF0000'] }),
      a,
      {
        timeoutMs: 20_000,
      },
    );
    await renderAnimatic(shot({ durationSeconds: 3 }), b, { timeoutMs: 20_000 });
    // A clip with its own (ignored) audio track, from another backend.
    const c = out('with-audio.mp4');
    await runFfmpeg(
      [
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=s=320x180:r=25:d=2.4',
        '-f',
        'lavfi',
        '-i',
        'sine=d=3',
        '-c:v',
        'libx264',
        '-c:a',
        'aac',
        '-y',
        c,
      ],
      { timeoutMs: 20_000 },
    );
    const file = out('mixed.mp4');
    const input = {
      clips: [a, b, c],
      endCard: { brandName: 'Acme', colors: ['#FFFFFF', '#FFFFFF'] as [string, string], durationSeconds: 1.5 },
      width: 320,
      height: 180,
      fps: 30,
      outFile: file,
      timeoutMs: 30_000,
    };
    const { durationSeconds } = await assemble(input);
    // 2 s + 3 s + 2.4 s + 1.5 s; the third clip's longer audio does not count.
    expect(Math.abs(durationSeconds - 8.9)).toBeLessThanOrEqual(0.1);
    const info = await probe(file);
    expect(info.video).toMatchObject({ width: 320, height: 180, fps: 30, frames: 267 });

    // The square red clip is pillarboxed: red in the middle, black at the sides.
    const first = await rgbFrame(file, 10, scratch.dir);
    expect(colourDistance(pixel(first, 320, 160, 90), hexRgb('#FF0000'))).toBeLessThanOrEqual(12);
    expect(colourDistance(pixel(first, 320, 10, 90), [0, 0, 0])).toBeLessThanOrEqual(12);
    // The end card (white) is last; its brand name is drawn in its centre.
    const png = out('end.png');
    await extractFrame(file, 8.5, png);
    expect((await probe(png)).video).toMatchObject({ codec: 'png', width: 320, height: 180 });
    const last = await rgbFrame(file, 266, scratch.dir);
    expect(colourDistance(pixel(last, 320, 5, 5), [255, 255, 255])).toBeLessThanOrEqual(6);
    const middleRow = Array.from({ length: 320 }, (_, x) => colourDistance(pixel(last, 320, x, 90), [255, 255, 255]));
    expect(Math.max(...middleRow)).toBeGreaterThan(80); // the text's dark box

    // Same inputs, same bytes.
    const again = await assemble({ ...input, outFile: out('mixed-again.mp4') });
    expect(again.durationSeconds).toBe(durationSeconds);
    expect(sha256(out('mixed-again.mp4'))).toBe(sha256(file));
  });

  it('rejects a clip that is not video', async () => {
    const audioOnly = out('audio.m4a');
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'aac', '-y', audioOnly], {
      timeoutMs: 10_000,
    });
    await expect(
      assemble({
        clips: [audioOnly],
        endCard: { ...endCard, durationSeconds: 1 },
        width: 320,
        height: 180,
        fps: 30,
        outFile: out('never.mp4'),
        timeoutMs: 10_000,
      }),
    ).rejects.toMatchObject({ kind: 'invalid' });
    expect(existsSync(out('never.mp4'))).toBe(false);
  });
});
