// QA time per 5 s 1280x720 clip, next to the floor (one plain ffmpeg decode of the same clip).
// Run on demand: `pnpm bench:qa`. Compare ratios, not seconds: these machines are noisy.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRESETS } from '../packages/contracts/src';
import { renderAnimatic, runFfmpeg } from '../packages/media/src';
import { createLocalJudge, evaluateClip, expectationFromSpec } from '../packages/clip-checks/src';
// The file, not the package's index: this runs under plain tsx, without the test tsconfig's paths.
import { aShotSpec } from '../packages/testing/src/fixtures';
import { medianMs, report } from './lib';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-bench-qa-'));
  const spec = aShotSpec({ prompt: 'bench', onScreenText: 'Meet Aurora' });
  const clip = join(dir, 'clip.mp4');
  await renderAnimatic(spec, clip, { timeoutMs: 60_000 });
  const judge = await createLocalJudge();
  const evaluate = (withJudge: boolean) =>
    evaluateClip({
      file: clip,
      expectation: expectationFromSpec(spec),
      thresholds: PRESETS.social_quick.qa,
      spec,
      judge: withJudge ? judge : null,
      workDir: mkdtempSync(join(dir, 'w-')),
      timeoutMs: 60_000,
    });
  const floor = await medianMs(() => runFfmpeg(['-i', clip, '-f', 'null', '-'], { timeoutMs: 60_000 }));
  const technical = await medianMs(() => evaluate(false));
  const full = await medianMs(() => evaluate(true));
  await judge.close();
  rmSync(dir, { recursive: true, force: true });
  report('qa', [
    { what: 'plain ffmpeg decode (floor)', ms: Math.round(floor), ratio: 1 },
    { what: 'QA technical checks', ms: Math.round(technical), ratio: Number((technical / floor).toFixed(2)) },
    { what: 'QA technical + local judge (OCR)', ms: Math.round(full), ratio: Number((full / floor).toFixed(2)) },
  ]);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
