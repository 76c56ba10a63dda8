/**
 * Fitting text into a vendor's prompt limit. Lengths are UTF-16 code units (JavaScript string
 * length): that is how Runway counts, and it is never less than a count of code points, so text
 * that fits here fits a vendor that counts characters too.
 */

// Unicode word and sentence boundaries (UAX #29): they never split a grapheme, and they find word
// ends in scripts written without spaces (Japanese, Chinese), where a search for spaces finds none.
const WORDS = new Intl.Segmenter('en', { granularity: 'word' });
const SENTENCES = new Intl.Segmenter('en', { granularity: 'sentence' });

/** Characters that read as an unfinished clause once the text after them is gone. */
const DANGLING = /[\s,;:([{"'“‘«\-–—/&+]+$/u;

/** English words that leave a phrase hanging when it ends on them ("sprints through a"). */
const HANGING_WORD =
  /(?:\s+(?:a|an|the|and|or|but|of|in|on|at|to|into|onto|through|with|without|for|from|by|over|under|past|as|its|their|his|her))+$/iu;

/** Sentence-final punctuation, possibly followed by closing quotes or brackets. */
const SENTENCE_END = /[.!?。！？…]["'”’»)\]]*$/u;

/** Half of a UTF-16 surrogate pair without its other half (code units, hence no `u` flag). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Single spaces only, and no lone surrogate (JSON can carry one; vendors refuse or mangle it). */
export function collapseSpace(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(/\s+/gu, ' ').trim();
}

/** `text` starting with a capital, as a sentence in a prompt should (models read prose). */
export function capitalise(text: string): string {
  return text.replace(/^\p{Ll}/u, (c) => c.toUpperCase());
}

/** `text` ending with a full stop unless it already ends a sentence ('' stays ''). */
export function asSentence(text: string): string {
  const t = text.trim();
  return !t || SENTENCE_END.test(t) ? t : `${t}.`;
}

/**
 * The longest start of `text` of at most `max` units that ends at the end of a sentence or, when
 * that would keep less than half of the room, at the end of a word. Never inside a word or a
 * grapheme; '' when not even the first word fits.
 */
export function cutToFit(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let sentenceEnd = 0;
  for (const { index, segment } of SENTENCES.segment(text)) {
    if (index + segment.trimEnd().length > max) break;
    sentenceEnd = index + segment.length;
  }
  const bySentence = text.slice(0, sentenceEnd).trimEnd();
  if (bySentence.length >= max / 2) return bySentence;
  let wordEnd = 0;
  for (const { index, segment } of WORDS.segment(text)) {
    if (index + segment.length > max) break;
    wordEnd = index + segment.length;
  }
  const byWord = text.slice(0, wordEnd).replace(DANGLING, '');
  return byWord.replace(HANGING_WORD, '').replace(DANGLING, '') || byWord;
}
