import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  MediaError,
  VARIANT_SIZES,
  finishCut,
  finishTimeline,
  finishedDuration,
  probe,
  renderAnimatic,
  runFfmpeg,
  type FinishInput,
} from '../index';
import { colourDistance, hexRgb, pixel, rgbFrame, scratchDir, sha256, shot } from '../../test/helpers';

const RED = '#D02020';
const GREEN = '#20A040';
const BLUE = '#2040C0';
const GREY = '#707070';

/** Mean of a rectangle of an RGB frame, per channel. */
function mean(frame: Buffer, width: number, x0: number, y0: number, x1: number, y1: number): number[] {
  const sum = [0, 0, 0];
  for (let y = y0; y < y1; y += 1)
    for (let x = x0; x < x1; x += 1) pixel(frame, width, x, y).forEach((v, c) => (sum[c]! += v));
  const n = (x1 - x0) * (y1 - y0);
  return sum.map((s) => s / n);
}

/** Pixels of a rectangle that are nearly white. */
function whitePixels(frame: Buffer, width: number, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y += 1)
    for (let x = x0; x < x1; x += 1) if (Math.min(...pixel(frame, width, x, y)) > 200) n += 1;
  return n;
}

describe('finishCut', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const out = (name: string) => join(scratch.dir, name);
  /** Solid-colour 320x180 clips, one a colour, 1 s each unless asked. */
  const clips: Record<string, string> = {};
  beforeAll(async () => {
    await Promise.all(
      Object.entries({ red: RED, green: GREEN, blue: BLUE, grey: GREY }).map(async ([name, colour]) => {
        clips[name] = out(`${name}.mp4`);
        await renderAnimatic(shot({ palette: [colour, colour], durationSeconds: 1.2 }), clips[name]!, {
          timeoutMs: 20_000,
        });
      }),
    );
  });

  const base = (overrides: Partial<FinishInput> = {}): FinishInput => ({
    clips: [
      { file: clips.red!, durationSeconds: 1 },
      { file: clips.green!, durationSeconds: 1 },
      { file: clips.blue!, durationSeconds: 1 },
    ],
    transition: { kind: 'fade', durationSeconds: 0.25 },
    endCard: {
      brandName: 'Acme Running',
      callToAction: 'Run brighter',
      colors: ['#111827', '#4338CA'],
      durationSeconds: 1,
    },
    loudnessLufs: -14,
    fps: 30,
    variants: [{ aspect: '16:9', outFile: out('x.mp4'), width: 320, height: 180 }],
    sourceAspect: '16:9',
    timeoutMs: 30_000,
    ...overrides,
  });

  it('lands on finishedDuration for cuts and fades, at -23 LUFS', async () => {
    for (const kind of ['cut', 'fade', 'slideleft', 'dissolve'] as const) {
      // For 'dissolve' the middle shot is exactly its two transitions long: all of it is blended.
      const middle = kind === 'dissolve' ? 0.6 : 1;
      const input = base({
        clips: [
          { file: clips.red!, durationSeconds: 1 },
          { file: clips.green!, durationSeconds: middle },
          { file: clips.blue!, durationSeconds: 1 },
        ],
        transition: { kind, durationSeconds: 0.3 },
        loudnessLufs: -23,
        variants: [{ aspect: '16:9', outFile: out(`len-${kind}.mp4`), width: 320, height: 180 }],
      });
      const [result] = await finishCut(input);
      const expected = finishedDuration(input);
      expect(expected).toBeCloseTo(kind === 'cut' ? 4 : 3 + middle - 3 * 0.3, 9);
      expect(Math.abs(result!.durationSeconds - expected)).toBeLessThanOrEqual(0.1);
      const info = await probe(result!.outFile);
      expect(info.video).toMatchObject({ width: 320, height: 180, fps: 30, frames: Math.round(expected * 30) });
      expect(Math.abs(result!.integratedLufs - -23)).toBeLessThanOrEqual(1);
      expect(result!.truePeakDbtp).toBeLessThanOrEqual(-1 + 0.2);
      // Mid-shot frames are the shots' own colours, untouched by the transitions.
      const timeline = finishTimeline(input);
      for (const [i, colour] of [RED, GREEN, BLUE].entries()) {
        const shot = timeline.shots[i]!;
        const frame = await rgbFrame(result!.outFile, Math.floor((shot.start + shot.end) / 2), scratch.dir);
        expect(colourDistance(pixel(frame, 320, 160, 90), hexRgb(colour))).toBeLessThanOrEqual(16);
      }
    }
  });

  it('writes every aspect at its delivery size with AAC at -14 LUFS, from one plan', async () => {
    const aspects = ['16:9', '9:16', '1:1', '4:5'] as const;
    const input = base({
      clips: [
        { file: clips.red!, durationSeconds: 0.7, caption: 'Meet Aurora, the lightest shoe we have made' },
        { file: clips.blue!, durationSeconds: 0.7, caption: 'Run brighter' },
      ],
      endCard: { brandName: 'Acme Running', colors: ['#111827', '#4338CA'], durationSeconds: 0.7 },
      variants: aspects.map((aspect) => ({ aspect, outFile: out(`variant-${aspect.replace(':', 'x')}.mp4`) })),
    });
    const results = await finishCut(input);
    expect(results.map((r) => r.aspect)).toEqual([...aspects]);
    for (const r of results) {
      const [w, h] = VARIANT_SIZES[r.aspect];
      expect([r.width, r.height]).toEqual([w, h]);
      const info = await probe(r.outFile);
      expect(info.video).toMatchObject({ codec: 'h264', width: w, height: h, pixFmt: 'yuv420p' });
      expect(info.audio).toEqual({ codec: 'aac', sampleRate: 48_000, channels: 2 });
      expect(Math.abs(r.durationSeconds - finishedDuration(input))).toBeLessThanOrEqual(0.1);
      expect(Math.abs(r.integratedLufs - -14)).toBeLessThanOrEqual(1);
      expect(r.truePeakDbtp).toBeLessThanOrEqual(-1 + 0.2);
    }
    expect(readdirSync(scratch.dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('crops other aspects from the centre of the source to fill the frame', async () => {
    // Left half red, right half blue: a centre crop to 9:16 sees both, never black bars.
    const split = out('split.mp4');
    await runFfmpeg(
      [
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        `color=c=${RED.replace('#', '0x')}:s=160x180:r=30:d=1`,
        '-f',
        'lavfi',
        '-i',
        `color=c=${BLUE.replace('#', '0x')}:s=160x180:r=30:d=1`,
        '-filter_complex',
        '[0][1]hstack,format=yuv420p',
        '-c:v',
        'libx264',
        '-y',
        split,
      ],
      { timeoutMs: 20_000 },
    );
    const file = out('portrait.mp4');
    await finishCut(
      base({
        clips: [{ file: split, durationSeconds: 1 }],
        transition: { kind: 'cut', durationSeconds: 0 },
        variants: [{ aspect: '9:16', outFile: file, width: 180, height: 320 }],
      }),
    );
    const frame = await rgbFrame(file, 10, scratch.dir);
    expect(colourDistance(pixel(frame, 180, 20, 160), hexRgb(RED))).toBeLessThanOrEqual(16);
    expect(colourDistance(pixel(frame, 180, 160, 160), hexRgb(BLUE))).toBeLessThanOrEqual(16);
    expect(colourDistance(pixel(frame, 180, 90, 5), [0, 0, 0])).toBeGreaterThan(40);
  });

  it('burns in each caption only while its shot is on screen, bottom-centred in the safe area', async () => {
    const file = out('captions.mp4');
    const input = base({
      clips: [
        { file: clips.grey!, durationSeconds: 1, caption: 'Lighter every mile' },
        { file: clips.grey!, durationSeconds: 1 },
      ],
      transition: { kind: 'fade', durationSeconds: 0.2 },
      variants: [{ aspect: '16:9', outFile: file, width: 320, height: 180 }],
    });
    await finishCut(input);
    const timeline = finishTimeline(input);
    const grey = hexRgb(GREY);
    // The caption band: above the bottom 10% of the frame, inside the middle 90%.
    const band = [16, 120, 304, 162] as const;
    const during = await rgbFrame(file, Math.floor(timeline.shots[0]!.captionEnd / 2), scratch.dir);
    const after = await rgbFrame(file, timeline.shots[1]!.captionStart + 5, scratch.dir);
    expect(whitePixels(during, 320, ...band)).toBeGreaterThan(50);
    expect(Math.max(...mean(during, 320, ...band))).toBeLessThan(Math.min(...grey)); // the dark box
    expect(whitePixels(after, 320, ...band)).toBe(0);
    expect(colourDistance(mean(after, 320, ...band), grey)).toBeLessThanOrEqual(6);
    // Nothing in the bottom 10% (title-safe) nor at the top while the caption shows.
    expect(colourDistance(mean(during, 320, 0, 163, 320, 180), grey)).toBeLessThanOrEqual(6);
    expect(colourDistance(mean(during, 320, 0, 0, 320, 100), grey)).toBeLessThanOrEqual(6);
    // The last frame before the hand-over still has it; the first after does not.
    const last = await rgbFrame(file, timeline.shots[0]!.captionEnd - 1, scratch.dir);
    const next = await rgbFrame(file, timeline.shots[0]!.captionEnd, scratch.dir);
    expect(whitePixels(last, 320, ...band)).toBeGreaterThan(50);
    expect(whitePixels(next, 320, ...band)).toBe(0);
  });

  it('draws the logo on the end card, honouring its alpha', async () => {
    const logo = out('logo.png');
    // A red disc on a transparent square.
    await runFfmpeg(
      [
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        "color=c=0xFF2000:s=200x200,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(hypot(X-100,Y-100),90),255,0)'",
        '-frames:v',
        '1',
        '-update',
        '1',
        '-y',
        logo,
      ],
      { timeoutMs: 20_000 },
    );
    const endCard = {
      brandName: 'Acme',
      callToAction: 'Shop now',
      colors: ['#101010', '#101010'] as [string, string],
      durationSeconds: 1,
    };
    const input = base({ endCard: { ...endCard, logoFile: logo }, variants: [] });
    const withLogo = out('logo-yes.mp4');
    const without = out('logo-no.mp4');
    await finishCut({ ...input, variants: [{ aspect: '1:1', outFile: withLogo, width: 240, height: 240 }] });
    await finishCut({ ...input, endCard, variants: [{ aspect: '1:1', outFile: without, width: 240, height: 240 }] });
    const lastFrame = finishTimeline(input).totalFrames - 1;
    const red = (frame: Buffer) => {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let y = 0; y < 240; y += 1)
        for (let x = 0; x < 240; x += 1)
          if (colourDistance(pixel(frame, 240, x, y), [255, 32, 0]) <= 40) {
            xs.push(x);
            ys.push(y);
          }
      return { count: xs.length, x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) };
    };
    const yes = red(await rgbFrame(withLogo, lastFrame, scratch.dir));
    // ~20% of the height, centred, in the upper half, above the brand name.
    expect(yes.y1 - yes.y0 + 1).toBeGreaterThanOrEqual(40);
    expect(yes.y1 - yes.y0 + 1).toBeLessThanOrEqual(52);
    expect(Math.abs((yes.x0 + yes.x1) / 2 - 120)).toBeLessThanOrEqual(3);
    expect(yes.y1).toBeLessThan(120);
    // A disc, not its transparent square: about pi/4 of its bounding box.
    const fill = yes.count / ((yes.x1 - yes.x0 + 1) * (yes.y1 - yes.y0 + 1));
    expect(fill).toBeGreaterThan(0.65);
    expect(fill).toBeLessThan(0.88);
    expect(red(await rgbFrame(without, lastFrame, scratch.dir)).count).toBe(0);
  });

  it('uses a supplied music file, looped to length and normalised', async () => {
    // 1.3 s of a 1 kHz tone at -30 dBFS: quieter than wanted and shorter than the cut.
    const music = out('music.wav');
    await runFfmpeg(
      ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=1000:d=1.3:sample_rate=44100', '-af', 'volume=-21dB', '-y', music],
      { timeoutMs: 20_000 },
    );
    const input = base({ music: { file: music }, loudnessLufs: -16 });
    const [result] = await finishCut(input);
    expect(Math.abs(result!.integratedLufs - -16)).toBeLessThanOrEqual(1);
    expect(result!.truePeakDbtp).toBeLessThanOrEqual(-1 + 0.2);
    // The tone is there, all the way through: the generated pad has nothing near 1 kHz.
    const level = async (file: string, start: number) => {
      const { stderr } = await runFfmpeg(
        [
          '-v',
          'info',
          '-nostats',
          '-ss',
          String(start),
          '-t',
          '0.5',
          '-i',
          file,
          '-map',
          '0:a',
          '-af',
          'bandpass=f=1000:width_type=q:w=4,astats=measure_overall=RMS_level:measure_perchannel=none',
          '-f',
          'null',
          '-',
        ],
        { timeoutMs: 20_000 },
      );
      return Number(/RMS level dB:\s*(-?[\d.]+|-inf)/.exec(stderr)?.[1] ?? NaN);
    };
    expect(await level(result!.outFile, 0.5)).toBeGreaterThan(-25);
    expect(await level(result!.outFile, 2.2)).toBeGreaterThan(-25); // past the file's own end
    const [pad] = await finishCut({
      ...input,
      music: { mood: 'calm' },
      variants: [{ ...input.variants[0]!, outFile: out('pad.mp4') }],
    });
    expect(Math.abs(pad!.integratedLufs - -16)).toBeLessThanOrEqual(1);
    expect(await level(pad!.outFile, 0.5)).toBeLessThan(-35);
  });

  it('gives the same bytes for the same input, and other bytes for another mood', async () => {
    const input = (name: string, mood?: string) =>
      base({
        clips: [
          { file: clips.red!, durationSeconds: 1, caption: 'Same every time' },
          { file: clips.blue!, durationSeconds: 1, caption: 'Really' },
        ],
        music: mood ? { mood } : {},
        variants: [
          { aspect: '16:9', outFile: out(`${name}-a.mp4`), width: 320, height: 180 },
          { aspect: '1:1', outFile: out(`${name}-b.mp4`), width: 180, height: 180 },
        ],
      });
    const first = await finishCut(input('det1'));
    const second = await finishCut(input('det2'));
    expect(second.map((r) => r.integratedLufs)).toEqual(first.map((r) => r.integratedLufs));
    expect(sha256(out('det1-a.mp4'))).toBe(sha256(out('det2-a.mp4')));
    expect(sha256(out('det1-b.mp4'))).toBe(sha256(out('det2-b.mp4')));
    await finishCut(input('det3', 'upbeat'));
    expect(sha256(out('det3-a.mp4'))).not.toBe(sha256(out('det1-a.mp4')));
  });

  it('stops ffmpeg at the timeout and leaves no file behind', async () => {
    const file = out('slow.mp4');
    const err = await finishCut(
      base({
        timeoutMs: 300,
        variants: [
          { aspect: '1:1', outFile: file },
          { aspect: '9:16', outFile: out('slow2.mp4') },
        ],
      }),
    ).catch((e: unknown) => e);
    expect((err as MediaError).kind).toBe('timeout');
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(scratch.dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('refuses bad input before running ffmpeg and leaves nothing behind on failure', async () => {
    await expect(finishCut(base({ variants: [] }))).rejects.toMatchObject({ kind: 'invalid' });
    await expect(finishCut(base({ loudnessLufs: 3 }))).rejects.toMatchObject({ kind: 'invalid' });
    await expect(
      finishCut(base({ variants: [{ aspect: '16:9', outFile: out('odd.mp4'), width: 321, height: 180 }] })),
    ).rejects.toMatchObject({ kind: 'invalid' });
    const broken = out('broken.mp4');
    const err = await finishCut(
      base({
        clips: [{ file: out('missing.mp4'), durationSeconds: 1 }],
        variants: [{ aspect: '16:9', outFile: broken, width: 320, height: 180 }],
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaError);
    expect(existsSync(broken)).toBe(false);
    expect(readdirSync(scratch.dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });
});
