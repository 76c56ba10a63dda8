import { fileUrl } from '../filters';
import { probe } from '../probe';
import { MediaError, runFfmpeg } from '../process';
import type { FinishPhrase, FinishVoiceLine } from './types';

/**
 * The most a spoken line is sped up to fit its shot: 8 % faster is hard to hear (pitch kept), and
 * more starts to sound hurried. The planner holds lines to 95 % of their room, so a line has this
 * much, plus that margin, to come out longer at assembly (another voice, a vendor's new model)
 * before the job fails instead.
 */
export const MAX_VOICE_TEMPO = 1.08;
/** The quickened line aims this far under its target: atempo's output length varies by a few ms. */
const TEMPO_AIM = 0.99;

/**
 * `line` sped up (pitch kept: ffmpeg's atempo) so that it lasts at most `seconds`, written to
 * `outFile` as 48 kHz mono PCM, its phrase and word times scaled with it. Refuses (MediaError
 * 'invalid') a change above MAX_VOICE_TEMPO: such a line must be rewritten, not rushed.
 */
export async function quickenVoiceLine(
  line: FinishVoiceLine,
  seconds: number,
  outFile: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<FinishVoiceLine & { tempo: number }> {
  if (line.durationSeconds <= seconds) return { ...line, tempo: 1 };
  // What the line needs decides (the same test as delivery's); the run aims 1 % under it.
  const needed = line.durationSeconds / seconds;
  if (!(seconds > 0) || needed > MAX_VOICE_TEMPO)
    throw new MediaError(
      `voice line for shot ${line.shotIndex} lasts ${line.durationSeconds.toFixed(3)}s; fitting it into ` +
        `${seconds.toFixed(3)}s would speed it up ${((needed - 1) * 100).toFixed(1)}% (at most ` +
        `${((MAX_VOICE_TEMPO - 1) * 100).toFixed(0)}%)`,
      'invalid',
    );
  const tempo = needed / TEMPO_AIM;
  await runFfmpeg(
    [
      '-v',
      'error',
      '-i',
      fileUrl(line.file),
      '-af',
      `atempo=${tempo.toFixed(6)}`,
      '-ar',
      '48000',
      '-ac',
      '1',
      '-c:a',
      'pcm_s16le',
      '-y',
      fileUrl(outFile),
    ],
    { ...opts, operation: 'voice_tempo' },
  );
  const probed = await probe(outFile, opts);
  const durationSeconds = probed.durationSeconds;
  // The same input gives the same output: a miss would repeat on every retry.
  if (!(durationSeconds > 0) || durationSeconds > seconds)
    throw new MediaError(
      `voice line for shot ${line.shotIndex} sped up ${tempo.toFixed(3)}× lasts ${durationSeconds}s, not at most ${seconds.toFixed(3)}s`,
      'invalid',
    );
  const at = (t: number) => Math.min(durationSeconds, t / tempo);
  const phrases: FinishPhrase[] = line.phrases.map((p) => ({
    text: p.text,
    startSeconds: at(p.startSeconds),
    endSeconds: at(p.endSeconds),
    words: p.words.map((w) => ({ text: w.text, startSeconds: at(w.startSeconds), endSeconds: at(w.endSeconds) })),
  }));
  return { shotIndex: line.shotIndex, file: outFile, durationSeconds, phrases, tempo };
}
