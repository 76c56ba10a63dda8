import { filterValue } from './filters';

/** Text laid out for drawtext: wrapping and sizing estimated from the font, lines drawn one by one. */

/** What drawing text needs: the font, and a writer of drawtext text files (no escaping that way). */
export interface TextContext {
  fontFile: string;
  text: (body: string) => Promise<string>;
}

/**
 * A deliberately generous estimate of a character's advance in DejaVu Sans Bold, in ems, by
 * class (about the widest of each class), so wrapped text is never wider than planned. The
 * lines themselves are centred by drawtext from their real width.
 */
function charEm(ch: string): number {
  if (ch === ' ') return 0.36;
  if (/[ijlI!|.,:;'`]/.test(ch)) return 0.46;
  if (/[frt()[\]{}/\\\-"]/.test(ch)) return 0.58;
  if (/[mwMW@%]/.test(ch)) return 1.12;
  if (/[A-Z#&+<=>~^]/.test(ch)) return 0.87;
  if (/[a-z0-9]/.test(ch)) return 0.73;
  // Other ASCII symbols; anything else (accents, CJK, emoji, the font's missing-glyph box).
  return ch.charCodeAt(0) < 0x7f ? 0.87 : 1;
}

function textEm(text: string): number {
  let em = 0;
  for (const ch of text) em += charEm(ch);
  return em;
}

/** Greedy word wrap to `maxEm`; a word longer than a line is broken between characters. */
function wrap(words: string[], maxEm: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const candidate = line ? `${line} ${word}` : word;
    if (textEm(candidate) <= maxEm) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    let rest = word;
    while (textEm(rest) > maxEm) {
      let cut = '';
      for (const ch of rest) {
        if (cut && textEm(cut + ch) > maxEm) break;
        cut += ch;
      }
      lines.push(cut);
      rest = rest.slice(cut.length);
    }
    line = rest;
  }
  if (line) lines.push(line);
  return lines;
}

/** DejaVu's ascent and descent, in ems: where baselines go inside a line. */
export const ASCENT_EM = 0.93;
export const LINE_EM = 1.17;

export interface TextBlock {
  lines: string[];
  size: number;
  /** Baseline to baseline, in pixels. */
  lineStep: number;
  /** Upper bounds of the widest line and of the block's height, in pixels. */
  width: number;
  height: number;
}

/**
 * Wraps `text` into at most `maxLines` lines no wider than `maxWidth(size)` pixels at the
 * largest size up to `preferredSize` that fits (down to `minSize`). Fewer lines win while they
 * need no more shrinking than to `keep` x preferredSize: a brand name shrinks rather than
 * breaks, a caption wraps rather than shrinks. The lines are balanced: the narrowest wrap with
 * that many lines, not a full line and a stray word.
 */
export function layoutText(
  text: string,
  preferredSize: number,
  maxLines: number,
  maxWidth: (size: number) => number,
  keep = 1,
  minSize = 10,
): TextBlock {
  const words = text.split(' ').filter(Boolean);
  const lineCount = (size: number) => wrap(words, maxWidth(size) / size).length;
  const largest = (lines: number) => {
    let size = Math.max(minSize, Math.round(preferredSize));
    while (lineCount(size) > lines && size > minSize) size = Math.max(minSize, Math.floor(size * 0.95));
    return size;
  };
  let size = largest(maxLines);
  for (let lines = 1; lines < maxLines; lines += 1) {
    const candidate = largest(lines);
    if (lineCount(candidate) <= lines && candidate >= keep * preferredSize) {
      size = candidate;
      break;
    }
  }
  let lines = wrap(words, maxWidth(size) / size);
  let lo = Math.max(...words.map((word) => Math.min(textEm(word), maxWidth(size) / size)));
  let hi = maxWidth(size) / size;
  for (let i = 0; i < 16 && hi - lo > 0.05; i += 1) {
    const mid = (lo + hi) / 2;
    if (wrap(words, mid).length <= lines.length) hi = mid;
    else lo = mid;
  }
  lines = wrap(words, hi);
  const lineStep = Math.round(size * 1.25);
  return {
    lines,
    size,
    lineStep,
    width: Math.ceil(Math.max(...lines.map(textEm)) * size),
    height: Math.ceil((lines.length - 1) * lineStep + LINE_EM * size),
  };
}

/**
 * drawtext filters for a block whose top is at `top`: one per line, each centred by drawtext
 * from its real width, on fixed baselines (`ascent` is the line's own tallest glyph).
 */
export async function drawBlock(ctx: TextContext, block: TextBlock, top: number, style: string[]): Promise<string[]> {
  const filters: string[] = [];
  for (const [k, line] of block.lines.entries()) {
    const baseline = Math.round(top + ASCENT_EM * block.size + k * block.lineStep);
    filters.push(
      [
        'drawtext=expansion=none',
        `fontfile=${filterValue(ctx.fontFile)}`,
        `textfile=${filterValue(await ctx.text(line))}`,
        `fontsize=${block.size}`,
        ...style,
        'x=(w-text_w)/2',
        `y=${baseline}-ascent`,
      ].join(':'),
    );
  }
  return filters;
}
