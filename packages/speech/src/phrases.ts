/** The pause between two phrases of a line: long enough to hear (and for silence detection to
 *  find), short enough not to sound like a new line. */
export const PHRASE_GAP_SECONDS = 0.15;

/** Caption phrases fit one line of a 9:16 caption at our font size: about 42 characters. */
const DEFAULT_MAX_CHARS = 42;

export function normaliseText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Sentence ends: always a new phrase. Clause punctuation (, ; : — …) may be merged over. */
const SENTENCE_END = /[.!?…。！？]["'»”’)\]]*$/u;
const CLAUSE_END = /[,;:—–]["'»”’)\]]*$/u;

/**
 * Wraps the words of one clause into as few phrases as `maxChars` allows, of about equal length
 * (so a clause of 44 characters is two of 22, not 42 and 2). Words are never broken: a single
 * word longer than `maxChars` is a phrase of its own.
 */
function wrapWords(words: string[], maxChars: number): string[] {
  const length = words.join(' ').length;
  if (length <= maxChars) return [words.join(' ')];
  const wrapAt = (width: number) => {
    const lines: string[] = [];
    let line = '';
    for (const word of words) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    if (line) lines.push(line);
    return lines;
  };
  const fewest = wrapAt(maxChars).length;
  // Narrowest width (from the even share up to maxChars) that still needs no more phrases.
  for (let width = Math.ceil(length / fewest); width < maxChars; width++) {
    const lines = wrapAt(width);
    if (lines.length <= fewest) return lines;
  }
  return wrapAt(maxChars);
}

/**
 * Splits a voice-over line into caption phrases: at sentence ends always, at clause punctuation
 * when the clauses together would not fit `maxChars`, then at word boundaries. Never mid-word;
 * whitespace-normalised; `splitPhrases(t).join(' ') === normaliseText(t)`.
 */
export function splitPhrases(text: string, maxChars = DEFAULT_MAX_CHARS): string[] {
  const normal = normaliseText(text);
  if (!normal) return [];
  const limit = Math.max(1, Math.floor(maxChars));
  // Clauses: runs of words ending at punctuation. Sentence ends are hard breaks.
  const sentences: string[][][] = [];
  let clauses: string[][] = [];
  let clause: string[] = [];
  for (const word of normal.split(' ')) {
    clause.push(word);
    if (SENTENCE_END.test(word)) {
      clauses.push(clause);
      sentences.push(clauses);
      clauses = [];
      clause = [];
    } else if (CLAUSE_END.test(word)) {
      clauses.push(clause);
      clause = [];
    }
  }
  if (clause.length) clauses.push(clause);
  if (clauses.length) sentences.push(clauses);

  const phrases: string[] = [];
  for (const sentence of sentences) {
    // Merge consecutive clauses while they fit; a clause too long alone is wrapped.
    let current: string[] = [];
    for (const c of sentence) {
      const merged = [...current, ...c];
      if (merged.join(' ').length <= limit) {
        current = merged;
        continue;
      }
      if (current.length) phrases.push(current.join(' '));
      if (c.join(' ').length <= limit) current = c;
      else {
        phrases.push(...wrapWords(c, limit));
        current = [];
      }
    }
    if (current.length) phrases.push(current.join(' '));
  }
  return withoutWordlessPhrases(phrases);
}

/** A letter or a digit: something a voice says (not "★★★", "—" or "…"). */
const SPEAKABLE = /[\p{L}\p{N}]/u;

/**
 * A phrase with nothing to say ("Taste the summer. ★★★★★" ends in one) would be silence: no
 * engine speaks it and a caption for it has no speech to sit on. It joins the phrase before it
 * (or, first, the one after), so the joined phrases still rejoin to the text and no phrase is
 * wordless unless the whole text is.
 */
function withoutWordlessPhrases(phrases: string[]): string[] {
  const out: string[] = [];
  let pending = '';
  for (const phrase of phrases) {
    if (SPEAKABLE.test(phrase)) {
      out.push(pending ? `${pending} ${phrase}` : phrase);
      pending = '';
    } else if (out.length) out[out.length - 1] = `${out[out.length - 1]} ${phrase}`;
    else pending = pending ? `${pending} ${phrase}` : phrase;
  }
  if (pending) out.push(pending);
  return out;
}

/**
 * Assumed voice-over speaking rates, in characters (spaces included) per second.
 *
 * English: about 150 words a minute, the usual pace of narration and voice-over, at about 5.5
 * characters a word with its space: ~14 cps. Other languages: scaled from English by their
 * syllable rate relative to English in Pellegrino, Coupé & Marsico (2011), "A cross-language
 * perspective on speech information rate", Language 87(3) (French, German, Italian, Spanish
 * measured there), and for the rest set from the nearest measured relative, so an assumption.
 * We checked the table against espeak-ng at its default rate (175 words/min: within ±35 % for en,
 * fr, de, in speech.test.ts). It sizes lines before synthesis only; the spoken line is measured.
 */
const CHARS_PER_SECOND: Readonly<Record<string, number>> = {
  en: 14,
  fr: 15,
  de: 14,
  es: 16,
  it: 15,
  pt: 15,
  nl: 14,
  sv: 14,
  da: 14,
  nb: 14,
  fi: 13,
  pl: 13,
  cs: 13,
  sk: 13,
  ro: 15,
  hu: 13,
  tr: 14,
  el: 14,
  ru: 13,
  uk: 13,
  bg: 13,
  hr: 13,
  sl: 13,
  sr: 13,
  mk: 13,
  et: 13,
  lv: 13,
  lt: 13,
  ca: 15,
  id: 14,
  ms: 14,
  is: 13,
  ga: 13,
  cy: 13,
};
const DEFAULT_CHARS_PER_SECOND = 14;

function charsPerSecond(language: string): number {
  const base = language.toLowerCase().split(/[-_]/)[0] ?? '';
  return CHARS_PER_SECOND[base === 'no' ? 'nb' : base] ?? DEFAULT_CHARS_PER_SECOND;
}

/** How long a line will take to say: its characters at the language's rate, plus the pauses
 *  between its phrases. An estimate for sizing lines; the spoken line is what counts. */
export function estimatedSpeechSeconds(text: string, language: string): number {
  const phrases = splitPhrases(text);
  if (!phrases.length) return 0;
  const chars = phrases.reduce((n, p) => n + p.length, 0);
  return chars / charsPerSecond(language) + (phrases.length - 1) * PHRASE_GAP_SECONDS;
}

/** The longest line (in characters) estimated to fit `seconds`, assuming full-length phrases
 *  (one pause per DEFAULT_MAX_CHARS characters). */
export function maxCharsFor(seconds: number, language: string): number {
  if (!(seconds > 0)) return 0;
  const cps = charsPerSecond(language);
  let n = Math.floor(seconds * cps);
  // At most one step per character, and each pause costs fewer than 3 characters.
  while (n > 0 && n / cps + (Math.ceil(n / DEFAULT_MAX_CHARS) - 1) * PHRASE_GAP_SECONDS > seconds) n--;
  return n;
}
