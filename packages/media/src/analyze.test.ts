import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ANALYSIS_THRESHOLDS, MediaError, analyzeClip, runFfmpeg, type ClipAnalysis } from './index';
import { scratchDir } from '../test/helpers';

const SIZE = 's=320x180:r=30';
const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const AAC = ['-c:a', 'aac', '-b:a', '128k'];
/** A stereo 1 kHz sine of peak amplitude `a` measures 20*log10(a) LUFS (EBU Tech 3341, case 1). */
const tone = (a: number, gate = '1') =>
  `aevalsrc=exprs='${a}*sin(2*PI*1000*t)*(${gate})|${a}*sin(2*PI*1000*t)*(${gate})':s=48000:d=3`;

describe('analyzeClip', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const out = (name: string) => join(scratch.dir, name);
  const make = async (name: string, args: string[]) => {
    await runFfmpeg(['-v', 'error', ...args, '-y', out(name)], { timeoutMs: 20_000 });
    return out(name);
  };
  const analyze = (name: string) => analyzeClip(out(name), { timeoutMs: 20_000 });

  beforeAll(async () => {
    const lavfi = (graph: string) => ['-f', 'lavfi', '-i', graph];
    const moving = lavfi(`testsrc2=${SIZE}:d=3`);
    const graph = (g: string) => ['-filter_complex', `${g}[v]`, '-map', '[v]', ...X264];
    await Promise.all([
      // Moving picture, a steady -20 LUFS tone: nothing to report.
      make('good.mp4', [...moving, ...lavfi(tone(0.1)), ...X264, ...AAC, '-movflags', '+faststart']),
      make('loud.mp4', [...moving, ...lavfi(tone(0.7)), ...X264, ...AAC]),
      // Digital silence from 1 s to 2.5 s.
      make('silent-middle.mp4', [...moving, ...lavfi(tone(0.1, 'lt(t,1)+gte(t,2.5)')), ...X264, ...AAC]),
      make(
        'black-middle.mp4',
        graph(`testsrc2=${SIZE}:d=1[a];color=c=black:${SIZE}:d=1[b];testsrc2=${SIZE}:d=1[c];[a][b][c]concat=n=3`),
      ),
      // Frame 30 shown 45 times: frozen from 1 s to 2.5 s, then moving again until 3.5 s.
      make('frozen-middle.mp4', [
        ...lavfi(`testsrc2=${SIZE}:d=2,loop=loop=44:size=1:start=30,setpts=N/(30*TB)`),
        ...X264,
      ]),
      // A still whose picture changes once, at 1.5 s: by a 16x16 dot (0.2% of full scale: codec
      // noise, say) or by a 64x64 square (3%: a new picture). Lossless, so the change is exact.
      ...[16, 64].map((side) =>
        make(`still-change-${side}.mp4`, [
          ...lavfi(
            `color=c=gray:${SIZE}:d=3,drawbox=x=100:y=60:w=${side}:h=${side}:color=white:t=fill:enable='gte(n,45)'`,
          ),
          ...X264,
          '-qp',
          '0',
        ]),
      ),
      make(
        'three-scenes.mp4',
        graph(
          `testsrc2=${SIZE}:d=1[a];mandelbrot=${SIZE}:end_scale=0.5,trim=duration=1,setpts=PTS-STARTPTS[b];` +
            `smptebars=${SIZE}:d=1,rotate=a=0.5*t[c];[a][b][c]concat=n=3`,
        ),
      ),
      // What blackdetect is tuned for: a navy gradient (0-1 s), #050505 (1-1.5 s), #000000
      // (1.5-2 s), solid navy (2-3 s), a black-to-navy gradient (3-4 s).
      make('darks.mp4', [
        ...graph(
          [
            `gradients=${SIZE}:d=1:c0=0x0B1D3A:c1=0x1E6FD9:x0=0:y0=0:x1=0:y1=179:speed=0.00001[a]`,
            `color=c=0x050505:${SIZE}:d=0.5[b]`,
            `color=c=0x000000:${SIZE}:d=0.5[c]`,
            `color=c=0x0B1D3A:${SIZE}:d=1[d]`,
            `gradients=${SIZE}:d=1:c0=0x000000:c1=0x0B1D3A:x0=0:y0=0:x1=0:y1=179:speed=0.00001[e]`,
            '[a][b][c][d][e]concat=n=5,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p',
          ].join(';'),
        ),
        '-colorspace',
        'bt709',
        '-color_range',
        'tv',
      ]),
    ]);
    // A good file cut to 60% of its bytes (its index is at the front, so it still probes).
    const good = readFileSync(out('good.mp4'));
    writeFileSync(out('truncated.mp4'), good.subarray(0, Math.floor(good.length * 0.6)));
    writeFileSync(out('not-video.mp4'), 'this is not a video\n');
  }, 30_000);

  const noDefects = (a: ClipAnalysis) => {
    expect(a.black).toEqual([]);
    expect(a.frozen).toEqual([]);
    expect(a.decodeErrors).toEqual([]);
  };

  it('finds nothing wrong with a good clip, and measures its loudness', async () => {
    const a = await analyze('good.mp4');
    noDefects(a);
    expect(a.decodedSeconds).toBeCloseTo(3, 2);
    expect(a.sceneCuts).toEqual([]);
    expect(a.audio).not.toBeNull();
    expect(a.audio?.silence).toEqual([]);
    expect(a.audio?.integratedLufs).toBeGreaterThan(-20 - 1.5);
    expect(a.audio?.integratedLufs).toBeLessThan(-20 + 1.5);
    expect(a.audio?.truePeakDbtp).toBeGreaterThan(-21);
    expect(a.audio?.truePeakDbtp).toBeLessThan(-19);
    // Loudness range needs several 3 s windows; on a 3 s clip it is not meaningful, only present.
    expect(a.audio?.loudnessRangeLu).toEqual(expect.any(Number));
  });

  it('measures loud audio', async () => {
    const a = await analyze('loud.mp4');
    const expected = 20 * Math.log10(0.7); // -3.1 LUFS
    expect(a.audio?.integratedLufs).toBeGreaterThan(expected - 1.5);
    expect(a.audio?.integratedLufs).toBeLessThan(expected + 1.5);
    expect(a.audio?.truePeakDbtp).toBeGreaterThan(expected - 1);
    expect(a.audio?.silence).toEqual([]);
  });

  it('finds silence in the audio', async () => {
    const a = await analyze('silent-middle.mp4');
    noDefects(a);
    expect(a.audio?.silence).toHaveLength(1);
    const [gap] = a.audio?.silence ?? [];
    expect(gap?.start).toBeCloseTo(1, 1);
    expect(gap?.end).toBeCloseTo(2.5, 1);
    expect(gap?.duration).toBeCloseTo(1.5, 1);
  });

  it('finds a black segment; a file without sound has no audio analysis', async () => {
    const a = await analyze('black-middle.mp4');
    expect(a.black).toEqual([{ start: 1, end: 2, duration: 1 }]);
    expect(a.audio).toBeNull();
    expect(a.decodedSeconds).toBeCloseTo(3, 3);
  });

  it('finds a frozen segment', async () => {
    const a = await analyze('frozen-middle.mp4');
    expect(a.black).toEqual([]);
    expect(a.frozen).toHaveLength(1);
    // The encoder keeps refining the repeated picture for a few frames: the freeze it leaves
    // starts a little after 1 s.
    const [freeze] = a.frozen;
    expect(freeze?.start).toBeGreaterThanOrEqual(1);
    expect(freeze?.start).toBeLessThan(1.25);
    expect(freeze?.end).toBeCloseTo(2.5, 1);
    expect(freeze?.duration).toBeGreaterThan(1.2);
  });

  it('ends a freeze still running at the end of the clip at the decoded duration', async () => {
    const a = await analyze('darks.mp4');
    // Every segment is a still; the last (3-4 s) is still frozen when the clip ends.
    expect(a.frozen).toHaveLength(5);
    const last = a.frozen[a.frozen.length - 1];
    expect(last?.start).toBe(3);
    expect(last?.end).toBeCloseTo(4, 3);
    expect(last?.end).toBe(a.decodedSeconds);
    expect(a.decodedSeconds).toBeCloseTo(4, 3);
  });

  it('joins freezes split by a change too small to be a new picture', async () => {
    expect((await analyze('still-change-16.mp4')).frozen).toEqual([{ start: 0, end: 3, duration: 3 }]);
    expect((await analyze('still-change-64.mp4')).frozen).toEqual([
      { start: 0, end: 1.5, duration: 1.5 },
      { start: 1.5, end: 3, duration: 1.5 },
    ]);
  });

  it('calls #000000 and #050505 black, but not brand navy or dark gradients', async () => {
    const a = await analyze('darks.mp4');
    expect(a.black).toEqual([{ start: 1, end: 2, duration: 1 }]);
    // blackdetect's default pixel threshold (0.10) is barely under navy; ours keeps a margin.
    expect(DEFAULT_ANALYSIS_THRESHOLDS.blackPixelThreshold).toBeLessThan(0.1);
  });

  it('counts scene cuts', async () => {
    const a = await analyze('three-scenes.mp4');
    expect(a.sceneCuts.map((c) => c.time)).toEqual([1, 2]);
    for (const cut of a.sceneCuts) expect(cut.score).toBeGreaterThanOrEqual(DEFAULT_ANALYSIS_THRESHOLDS.sceneThreshold);
    expect(a.frozen).toEqual([]);
    expect(a.black).toEqual([]);
    // A lower threshold sees more; an impossible one sees nothing.
    const strict = await analyzeClip(out('three-scenes.mp4'), {
      timeoutMs: 20_000,
      thresholds: { sceneThreshold: 100 },
    });
    expect(strict.sceneCuts).toEqual([]);
  });

  it('reports a truncated file', async () => {
    const a = await analyze('truncated.mp4');
    expect(a.decodeErrors.length > 0 || a.decodedSeconds < 2.5).toBe(true);
    expect(a.decodedSeconds).toBeLessThan(2.5);
    expect(a.decodeErrors.length).toBeGreaterThan(0);
  });

  it('rejects what is not a video, bad thresholds, and an aborted run', async () => {
    await expect(analyze('not-video.mp4')).rejects.toBeInstanceOf(MediaError);
    await expect(
      analyzeClip(out('good.mp4'), { timeoutMs: 5000, thresholds: { blackPixelThreshold: 2 } }),
    ).rejects.toMatchObject({ kind: 'invalid' });
    await expect(
      analyzeClip(out('good.mp4'), { timeoutMs: 5000, thresholds: { freezeNoiseDb: Number.NaN } }),
    ).rejects.toMatchObject({ kind: 'invalid' });
    await expect(analyzeClip(out('good.mp4'), { timeoutMs: 5000, signal: AbortSignal.abort() })).rejects.toMatchObject({
      kind: 'aborted',
    });
  });
});
