import { distance } from 'fastest-levenshtein';

/**
 * Text reduced to what OCR can be held to: case, accents, punctuation and spacing vary
 * between the plan and what a reader (human or OCR) reports, the letters and digits do not.
 * Punctuation becomes a space so that "end—start" and "end — start" compare equal.
 */
export function normaliseText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** 1 − Levenshtein distance / longer length: 1 for equal strings, 0 for nothing in common. */
export function similarity(a: string, b: string): number {
  const longer = Math.max(a.length, b.length);
  return longer === 0 ? 1 : 1 - distance(a, b) / longer;
}

/** OCR output can be long garbage on a busy frame; the text we look for is at most 80 chars. */
const MAX_WORDS = 300;

export interface TextMatch {
  /** 0..1; 0 when nothing was recognised. */
  score: number;
  /** The run of recognised words that matched best (normalised). */
  matched: string;
}

/**
 * How well `expected` appears in `recognised`: the best similarity between the expected text
 * and any run of consecutive recognised words of about the same word count. OCR adds stray
 * marks around the text (box edges read as "|", noise as "~~") and may read other text in the
 * frame, so the whole output is never compared at once.
 */
export function bestMatch(expected: string, recognised: string): TextMatch {
  const target = normaliseText(expected);
  const words = normaliseText(recognised).split(' ').filter(Boolean).slice(0, MAX_WORDS);
  if (!target) return { score: words.length ? 0 : 1, matched: '' };
  const targetWords = target.split(' ').length;
  // OCR may split a word in two or merge two words, so a window may differ by a couple of words.
  const minLen = Math.max(1, targetWords - 2);
  const maxLen = targetWords + 2;
  let best: TextMatch = { score: 0, matched: '' };
  for (let i = 0; i < words.length; i++) {
    for (let len = minLen; len <= maxLen && i + len <= words.length; len++) {
      const candidate = words.slice(i, i + len).join(' ');
      const score = similarity(candidate, target);
      if (score > best.score) best = { score, matched: candidate };
    }
  }
  return best;
}
