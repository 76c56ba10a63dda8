import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  finishCut,
  finishedDuration,
  renderAnimatic,
  runFfmpeg,
  type AspectRatio,
  type FinishInput,
} from '../packages/media/src/index';
import { finishCutWith } from '../packages/media/src/finishing';
import { scratchDir, shot } from '../packages/media/test/helpers';

/**
 * The finishing benchmark, run on demand: `pnpm bench:finishing` (never part of `npm test`).
 * Prints finishCut's wall time beside the plain ffmpeg command one would write by hand for the
 * same cut (same clips, transitions, captions, card, bed, encodes), medians of 3 after a warm-up,
 * runs interleaved so both see the same machine load. No assertions: timing only.
 */
describe('finishing bench', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const out = (name: string) => join(scratch.dir, name);
  const font = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';
  const palettes: [string, string][] = [
    ['#0B1D3A', '#1E6FD9'],
    ['#3A0B2E', '#D91E6F'],
    ['#0B3A1D', '#1ED96F'],
  ];
  const texts = ['Meet Aurora', 'Lighter every mile', 'Run brighter'];
  const captions = ['Meet Aurora, our lightest shoe yet', 'Lighter every mile', 'Run brighter this spring'];
  const endCard = {
    brandName: 'Acme Running',
    callToAction: 'Shop now at acme.example',
    colors: ['#111827', '#4338CA'] as [string, string],
    durationSeconds: 2,
  };

  async function shots(count: number, seconds: number): Promise<string[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const file = out(`bench-${count}-${i}.mp4`);
        const spec = shot({
          index: i,
          width: 1280,
          height: 720,
          durationSeconds: seconds,
          camera: 'zoom_in',
          palette: palettes[i % 3]!,
          onScreenText: texts[i % 3]!,
        });
        await renderAnimatic(spec, file, { timeoutMs: 120_000 });
        return file;
      }),
    );
  }

  /** The command line one would write by hand: one filtergraph, an encode per variant. */
  function handWritten(files: string[], seconds: number, aspects: [number, number][], prefix: string): string[] {
    const n = files.length;
    const total = n * seconds + 2 - n * 0.5;
    const g: string[] = [];
    files.forEach((_, i) =>
      g.push(`[${i}:v]settb=1/30,split=${aspects.length}${aspects.map((_, v) => `[c${i}v${v}]`).join('')}`),
    );
    const tone = (d: number) =>
      `0.148*(0.6*sin(2*PI*${110 * d}*t)+sin(2*PI*${220 * d}*t)+0.8*sin(2*PI*${277.18 * d}*t)+0.7*sin(2*PI*${329.63 * d}*t))`;
    g.push(
      `aevalsrc=exprs=${tone(1)}|${tone(1.002)}:s=48000:c=stereo,atrim=end=${total},afade=t=in:d=1,afade=t=out:st=${total - 2}:d=2,asplit=${aspects.length}${aspects.map((_, v) => `[a${v}]`).join('')}`,
    );
    aspects.forEach(([w, h], v) => {
      files.forEach((_, i) =>
        g.push(`[c${i}v${v}]crop=w='min(iw,ih*${w}/${h})':h='min(ih,iw*${h}/${w})',scale=${w}:${h}[s${i}v${v}]`),
      );
      const fs = Math.round(Math.min(w, h) / 20);
      g.push(
        `gradients=s=${w}x${h}:r=30:c0=0x111827:c1=0x4338CA:x0=0:y0=0:x1=0:y1=${h}:speed=0.00001,trim=end_frame=1,` +
          `drawtext=fontfile=${font}:text='Acme Running':fontsize=${Math.round(Math.min(w, h) * 0.12)}:fontcolor=white:x=(w-text_w)/2:y=h/2-text_h,` +
          `drawtext=fontfile=${font}:text='Shop now at acme.example':fontsize=${Math.round(Math.min(w, h) * 0.05)}:fontcolor=white:x=(w-text_w)/2:y=h/2+30,` +
          `format=yuv420p,loop=59:1:0,setpts=N/30/TB[card${v}]`,
      );
      let prev = `s0v${v}`;
      for (let i = 1; i <= n; i += 1) {
        const next = i < n ? `s${i}v${v}` : `card${v}`;
        g.push(`[${prev}][${next}]xfade=transition=fade:duration=0.5:offset=${i * (seconds - 0.5)}[x${i}v${v}]`);
        prev = `x${i}v${v}`;
      }
      const caps = files.map((_, i) => {
        const from = i === 0 ? 0 : i * (seconds - 0.5) + 0.25;
        const to = (i + 1) * (seconds - 0.5) + 0.25;
        return `drawtext=fontfile=${font}:text='${captions[i % 3]}':fontsize=${fs}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=${Math.round(fs / 3)}:x=(w-text_w)/2:y=h*0.9-text_h:enable='between(t,${from},${to})'`;
      });
      g.push(`[${prev}]${caps.join(',')}[v${v}]`);
    });
    return [
      '-v',
      'error',
      ...files.flatMap((f) => ['-i', f]),
      '-filter_complex',
      g.join(';'),
      ...aspects.flatMap((_, v) => [
        '-map',
        `[v${v}]`,
        '-map',
        `[a${v}]`,
        ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-g', '30', '-threads', '2', '-pix_fmt', 'yuv420p'],
        ...['-c:a', 'aac', '-b:a', '160k', '-ar', '48000', '-ac', '2', '-movflags', '+faststart'],
        '-y',
        out(`${prefix}-ref-${v}.mp4`),
      ]),
    ];
  }

  /** CPU seconds used so far by this process's finished children (ffmpeg), from /proc. */
  const childCpu = () => {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, in ticks
  };

  async function compare(label: string, runs: Record<string, () => Promise<unknown>>, repeats = 5) {
    const names = Object.keys(runs);
    const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (const name of names) await runs[name]!(); // warm-up
    for (let r = 0; r < repeats; r += 1)
      for (const name of r % 2 ? [...names].reverse() : names) {
        const c = childCpu();
        const t = process.hrtime.bigint();
        await runs[name]!();
        times[name]!.push(Number(process.hrtime.bigint() - t) / 1e6);
        cpu[name]!.push(childCpu() - c);
      }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ref = names[names.length - 1]!;
    return names.map((name) => ({
      case: label,
      how: name,
      'median ms': Math.round(median(times[name]!)),
      'min ms': Math.round(Math.min(...times[name]!)),
      'ffmpeg cpu s': +median(cpu[name]!).toFixed(1),
      'x hand (median)': +(median(times[name]!) / median(times[ref]!)).toFixed(2),
      'x hand (min)': +(Math.min(...times[name]!) / Math.min(...times[ref]!)).toFixed(2),
    }));
  }

  it('bench: finishCut vs hand-written ffmpeg', async () => {
    const rows: Record<string, string | number>[] = [];
    const seconds15 = 14.5 / 3; // 3 shots + 2 s card - 3 x 0.5 s fades = 15.0 s
    const three = await shots(3, seconds15);
    const input = (files: string[], seconds: number, aspects: AspectRatio[], prefix: string): FinishInput => ({
      clips: files.map((file, i) => ({ file, durationSeconds: seconds, caption: captions[i % 3] })),
      transition: { kind: 'fade', durationSeconds: 0.5 },
      endCard,
      loudnessLufs: -14,
      fps: 30,
      variants: aspects.map((aspect) => ({ aspect, outFile: out(`${prefix}-${aspect.replace(':', 'x')}.mp4`) })),
      sourceAspect: '16:9',
      timeoutMs: 300_000,
    });
    const ff = (args: string[]) => () => runFfmpeg(args, { timeoutMs: 300_000 });
    const a = input(three, seconds15, ['16:9'], 'a');
    console.log(`(a) finished duration ${finishedDuration(a)} s`);
    rows.push(
      ...(await compare('(a) 15 s, 16:9, fade 0.5 s, generated bed', {
        finishCut: () => finishCut(a),
        'hand-written ffmpeg': ff(handWritten(three, seconds15, [[1280, 720]], 'a')),
      })),
    );
    const b = input(three, seconds15, ['16:9', '9:16', '1:1'], 'b');
    rows.push(
      ...(await compare('(b) as (a), 16:9 + 9:16 + 1:1', {
        'finishCut (3 ffmpeg runs at once)': () => finishCut(b),
        "finishCutWith 'one' (1 ffmpeg, 3 outputs)": () => finishCutWith(b, 'one'),
        'hand-written ffmpeg (3 outputs)': ff(
          handWritten(
            three,
            seconds15,
            [
              [1280, 720],
              [720, 1280],
              [1080, 1080],
            ],
            'b',
          ),
        ),
      })),
    );
    const seconds30 = 31 / 6; // 6 shots + 2 s card - 6 x 0.5 s = 30.0 s
    const six = await shots(6, seconds30);
    const c = input(six, seconds30, ['16:9'], 'c');
    console.log(`(c) finished duration ${finishedDuration(c)} s`);
    rows.push(
      ...(await compare('(c) 30 s, 6 shots, 16:9', {
        finishCut: () => finishCut(c),
        'hand-written ffmpeg': ff(handWritten(six, seconds30, [[1280, 720]], 'c')),
      })),
    );
    console.table(rows);
    console.log(JSON.stringify(rows));
  }, 900_000);
});
