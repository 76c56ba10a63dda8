import { runFfmpeg } from '@aiprod/media';

/** Test helper: what ffmpeg itself measures on a written line, independent of the engine's numbers. */
export async function measureSpeech(file: string): Promise<{ onsets: number[]; integratedLufs: number }> {
  const { stderr } = await runFfmpeg(
    ['-i', file, '-af', 'silencedetect=noise=-40dB:duration=0.1,ebur128', '-f', 'null', '-'],
    { timeoutMs: 30_000 },
  );
  // Speech starts at 0 unless silence was found there; then at every silence_end.
  const ends = [...stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
  const starts = [...stderr.matchAll(/silence_start: (-?[\d.]+)/g)].map((m) => Number(m[1]));
  const onsets = starts[0] !== undefined && starts[0] <= 0.001 ? ends : [0, ...ends];
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const integrated = /I:\s+(-?[\d.]+) LUFS/.exec(summary);
  return { onsets, integratedLufs: integrated ? Number(integrated[1]) : Number.NEGATIVE_INFINITY };
}
