import { SpeechError } from './types';

export interface CaptionCue {
  startSeconds: number;
  endSeconds: number;
  text: string;
}

/** Cues checked and in time order; times in whole milliseconds, as both formats write them. */
function orderedCues(cues: CaptionCue[]): { start: number; end: number; lines: string[] }[] {
  const out = cues.map((cue, i) => {
    const start = Math.round(cue.startSeconds * 1000);
    const end = Math.round(cue.endSeconds * 1000);
    if (!Number.isFinite(start) || !Number.isFinite(end) || start < 0 || end <= start) {
      throw new SpeechError(`caption cue ${i} has times ${cue.startSeconds}..${cue.endSeconds}`, 'invalid');
    }
    // A blank line ends a cue in both formats, so a cue's text keeps its line breaks but no blank line.
    const lines = cue.text
      .split(/\r\n|\r|\n/)
      .map((l) => l.replace(/\s+/g, ' ').trim())
      .filter(Boolean);
    if (!lines.length) throw new SpeechError(`caption cue ${i} has no text`, 'invalid');
    return { start, end, lines };
  });
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

function clock(ms: number, separator: '.' | ','): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

/** WebVTT cue text: `&`, `<` and `>` are markup there (and `-->` would end the timing line). */
const escapeVtt = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A WebVTT file (W3C WebVTT), cues in time order. */
export function captionsVtt(cues: CaptionCue[]): string {
  const blocks = orderedCues(cues).map(
    (c) => `${clock(c.start, '.')} --> ${clock(c.end, '.')}\n${c.lines.map(escapeVtt).join('\n')}`,
  );
  return `WEBVTT\n\n${blocks.map((b) => `${b}\n\n`).join('')}`;
}

/** A SubRip file: numbered cues in time order, comma before the milliseconds. */
export function captionsSrt(cues: CaptionCue[]): string {
  return orderedCues(cues)
    .map((c, i) => `${i + 1}\n${clock(c.start, ',')} --> ${clock(c.end, ',')}\n${c.lines.join('\n')}\n\n`)
    .join('');
}
