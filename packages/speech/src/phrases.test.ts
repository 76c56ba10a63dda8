import fc from 'fast-check';
import { estimatedSpeechSeconds, maxCharsFor, PHRASE_GAP_SECONDS, splitPhrases } from './phrases';

const word = fc.stringMatching(/^[A-Za-zÀ-ÿ0-9'’-]{1,12}[,.;:!?]?$/);
const text = fc
  .array(fc.tuple(word, fc.constantFrom(' ', '  ', '\n', '\t ')), { minLength: 0, maxLength: 40 })
  .map((parts) => parts.map(([w, s]) => w + s).join(''));

describe('splitPhrases', () => {
  it('rejoins to the normalised text, never splits a word, and respects maxChars unless one word is longer', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 8, max: 60 }), (t, max) => {
        const normal = t.replace(/\s+/g, ' ').trim();
        const phrases = splitPhrases(t, max);
        expect(phrases.join(' ')).toBe(normal);
        const words = new Set(normal.split(' '));
        for (const p of phrases) {
          expect(p).toBe(p.trim());
          expect(p).not.toMatch(/\s{2}/);
          // Every phrase is whole words of the text.
          for (const w of p.split(' ')) expect(words.has(w)).toBe(true);
          // Over the limit only as one word, or by the wordless marks joined to it.
          const spoken = p.split(' ');
          while (spoken.length > 1 && !/[\p{L}\p{N}]/u.test(spoken.at(-1)!)) spoken.pop();
          while (spoken.length > 1 && !/[\p{L}\p{N}]/u.test(spoken[0]!)) spoken.shift();
          if (spoken.join(' ').length > max) expect(spoken).toHaveLength(1);
          // Something to say in every phrase, unless the whole text has nothing.
          if (/[\p{L}\p{N}]/u.test(normal)) expect(p).toMatch(/[\p{L}\p{N}]/u);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('breaks at sentence ends, merges short clauses, and wraps long clauses evenly', () => {
    expect(splitPhrases('Hello there. Welcome to the show!')).toEqual(['Hello there.', 'Welcome to the show!']);
    expect(splitPhrases('Yes, we can.')).toEqual(['Yes, we can.']);
    expect(splitPhrases('Fresh coffee, every morning, delivered to your door before you wake up.')).toEqual([
      'Fresh coffee, every morning,',
      'delivered to your door before you wake up.',
    ]);
    const long = 'one two three four five six seven eight nine ten eleven twelve';
    const wrapped = splitPhrases(long, 42);
    expect(wrapped).toHaveLength(2);
    expect(Math.abs(wrapped[0]!.length - wrapped[1]!.length)).toBeLessThan(12);
    expect(splitPhrases('Supercalifragilisticexpialidocious', 10)).toEqual(['Supercalifragilisticexpialidocious']);
    expect(splitPhrases('  \n ')).toEqual([]);
  });

  it('gives no phrase that has nothing to say: a wordless tail or head joins its neighbour', () => {
    expect(splitPhrases('Taste the summer. ★★★★★')).toEqual(['Taste the summer. ★★★★★']);
    expect(splitPhrases('New look. —')).toEqual(['New look. —']);
    expect(splitPhrases('… Fresh. Really fresh.')).toEqual(['… Fresh.', 'Really fresh.']);
    expect(splitPhrases('★★★')).toEqual(['★★★']);
  });
});

describe('estimatedSpeechSeconds and maxCharsFor', () => {
  it('adds a pause per extra phrase and sizes lines consistently', () => {
    const one = estimatedSpeechSeconds('Fresh coffee every morning.', 'en');
    expect(one).toBeCloseTo(27 / 14, 5);
    const two = estimatedSpeechSeconds('Fresh coffee every morning. Delivered to your door.', 'en');
    expect(two).toBeCloseTo(one + 23 / 14 + PHRASE_GAP_SECONDS, 5);
    expect(estimatedSpeechSeconds('', 'fr')).toBe(0);
    for (const lang of ['en', 'fr', 'de', 'el', 'ru']) {
      let previous = 0;
      for (const s of [0.5, 1, 2, 4, 8]) {
        const n = maxCharsFor(s, lang);
        expect(n).toBeGreaterThanOrEqual(previous);
        previous = n;
        // A line of that many characters in full-length phrases is estimated to fit.
        const line = splitPhrases('abcdefghi '.repeat(Math.ceil(n / 10)).slice(0, n));
        expect(estimatedSpeechSeconds(line.join(' '), lang)).toBeLessThanOrEqual(s + PHRASE_GAP_SECONDS);
      }
    }
    expect(maxCharsFor(0, 'en')).toBe(0);
  });
});
