// Seconds of 1280x720 video rendered per second of wall time by the `local` render backend,
// next to one plain ffmpeg command making a comparable clip (gradient plate, slow zoom, one line
// of DejaVu Sans Bold 64 px text, the same x264 settings). Run on demand: `pnpm bench:render`.
// Compare ratios, not seconds: these machines are noisy.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_FONT_FILE, h264Args, probe, runFfmpeg } from '../packages/media/src';
import { localBackend } from '../services/render/src/backends/local';
// The file, not the package's index: this runs under plain tsx, without the test tsconfig's paths.
import { aShotSpec } from '../packages/testing/src/fixtures';
import { medianMs, report } from './lib';

const SECONDS = 5;
const FPS = 30;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-bench-render-'));
  const spec = aShotSpec({ durationSeconds: SECONDS, prompt: 'bench', onScreenText: 'Meet Aurora', fps: FPS });
  const backend = localBackend({ timeoutMs: 120_000 });
  const viaBackend = async () => {
    const signal = AbortSignal.timeout(120_000);
    const { taskId } = await backend.submit(spec, { attemptKey: 'bench', signal });
    const polled = await backend.poll(taskId, signal);
    if (polled.state !== 'succeeded') throw new Error(`local render did not succeed: ${polled.state}`);
    await backend.fetchResult(polled.output, join(dir, 'backend.mp4'), signal);
  };
  const frames = SECONDS * FPS;
  const zoom = `(1+0.08*n/${frames})`;
  const plain = () =>
    runFfmpeg(
      [
        '-v',
        'error',
        '-filter_complex',
        `gradients=s=1280x720:r=${FPS}:c0=0x0B1D3A:c1=0x1E6FD9:n=2:x0=0:y0=0:x1=0:y1=719:d=${SECONDS},` +
          `scale=w='trunc(1280*${zoom}/2)*2':h='trunc(720*${zoom}/2)*2':eval=frame,crop=1280:720,` +
          `drawtext=fontfile=${DEFAULT_FONT_FILE}:text='Meet Aurora':fontsize=64:fontcolor=white:x=(w-text_w)/2:y=(h-text_h)/2,format=yuv420p[v]`,
        '-map',
        '[v]',
        '-frames:v',
        String(frames),
        '-an',
        ...h264Args(18, FPS),
        '-y',
        join(dir, 'plain.mp4'),
      ],
      { timeoutMs: 120_000 },
    );

  // Interleaved, so a noisy neighbour hits both alike.
  const floorMs: number[] = [];
  const ourMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    floorMs.push(await medianMs(plain, 1));
    ourMs.push(await medianMs(viaBackend, 1));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [ours, floor] = [median(ourMs), median(floorMs)];
  const check = await probe(join(dir, 'backend.mp4'));
  rmSync(dir, { recursive: true, force: true });
  const rate = (ms: number) => Number((SECONDS / (ms / 1000)).toFixed(2));
  report('render', [
    {
      what: `plain ffmpeg, ${SECONDS} s 1280x720 (floor)`,
      ms: Math.round(floor),
      videoSecondsPerSecond: rate(floor),
      ratio: 1,
    },
    {
      what: `local backend (submit, poll, fetchResult), ${check.video?.frames ?? '?'} frames`,
      ms: Math.round(ours),
      videoSecondsPerSecond: rate(ours),
      ratio: Number((ours / floor).toFixed(2)),
    },
  ]);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
