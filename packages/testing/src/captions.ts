import webvtt from 'node-webvtt';
import SrtParser from 'srt-parser-2';

export interface ParsedCue {
  startSeconds: number;
  endSeconds: number;
  text: string;
}

/**
 * A delivered caption pair read by two well-kept parsers, not by our writer: the WebVTT file with
 * node-webvtt in strict mode, the SubRip file with srt-parser-2. Throws when either does not
 * parse or the two disagree (cue count, times to the millisecond, text).
 */
export function parseCaptionFiles(vtt: string, srt: string): ParsedCue[] {
  const parsed = webvtt.parse(vtt, { strict: true });
  if (!parsed.valid) throw new Error(`the WebVTT file does not parse: ${JSON.stringify(parsed.errors)}`);
  const fromVtt = parsed.cues.map((c) => ({ startSeconds: c.start, endSeconds: c.end, text: c.text }));
  const fromSrt = new SrtParser().fromSrt(srt).map((c) => ({
    startSeconds: c.startSeconds,
    endSeconds: c.endSeconds,
    text: c.text,
  }));
  if (fromSrt.length !== fromVtt.length)
    throw new Error(`the SRT file has ${fromSrt.length} cues, the WebVTT file ${fromVtt.length}`);
  fromVtt.forEach((cue, i) => {
    const other = fromSrt[i]!;
    const off = Math.max(Math.abs(cue.startSeconds - other.startSeconds), Math.abs(cue.endSeconds - other.endSeconds));
    if (off > 0.0015 || cue.text !== other.text)
      throw new Error(`cue ${i + 1} differs: ${JSON.stringify(cue)} vs ${JSON.stringify(other)}`);
  });
  return fromVtt;
}

/**
 * For each cue, how far (ms) its start is from the onset of the speech it shows: cues and measured
 * onsets are matched in order, one onset per cue (each cue takes the nearest onset after the one
 * the cue before it took), so a cue shifted onto the next phrase cannot borrow that phrase's onset
 * and leave the next cue to match it too. A cue with no onset left is Infinity.
 */
export function cueOffsetsMs(cues: readonly ParsedCue[], onsets: readonly number[]): number[] {
  const offsets: number[] = [];
  let from = 0;
  for (const cue of cues) {
    let best = -1;
    for (let j = from; j < onsets.length; j += 1) {
      if (best < 0 || Math.abs(onsets[j]! - cue.startSeconds) < Math.abs(onsets[best]! - cue.startSeconds)) best = j;
    }
    offsets.push(best < 0 ? Infinity : Math.abs(onsets[best]! - cue.startSeconds) * 1000);
    if (best >= 0) from = best + 1;
  }
  return offsets;
}
