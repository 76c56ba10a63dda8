import { asSentence, capitalise, collapseSpace, cutToFit } from './fit';

describe('cutToFit', () => {
  it('returns text that fits unchanged', () => {
    expect(cutToFit('A red bottle.', 13)).toBe('A red bottle.');
  });

  it('prefers a sentence end when it keeps at least half the room', () => {
    expect(cutToFit('A red bottle on a rock. Waves break behind it slowly.', 40)).toBe('A red bottle on a rock.');
  });

  it('falls back to a word end when the first sentence is too long or too short', () => {
    expect(cutToFit('Hi. A red bottle on a wet rock while waves break', 30)).toBe('Hi. A red bottle on a wet rock');
    expect(cutToFit('A red bottle stands on a wet rock while waves break', 24)).toBe('A red bottle stands');
  });

  it('never ends inside a word, even when the limit falls inside one', () => {
    const text = 'Sunlight catches the bottle';
    for (let max = 1; max < text.length; max++) {
      const cut = cutToFit(text, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(text.startsWith(cut)).toBe(true);
      expect(cut === '' || text[cut.length] === ' ').toBe(true);
    }
  });

  it('drops a trailing article or preposition and dangling punctuation', () => {
    expect(cutToFit('A runner sprints through the rainy city', 28)).toBe('A runner sprints');
    expect(cutToFit('blurry, extra fingers, watermark', 23)).toBe('blurry, extra fingers');
  });

  it('cuts Japanese and Chinese, written without spaces, at word ends', () => {
    const text = '走る喜びを感じる朝の街';
    const cut = cutToFit(text, 5);
    expect(cut.length).toBeLessThanOrEqual(5);
    expect(cut.length).toBeGreaterThan(0);
    expect(text.startsWith(cut)).toBe(true);
    const words = [...new Intl.Segmenter('en', { granularity: 'word' }).segment(text)].map((s) => s.index);
    expect(words).toContain(cut.length);
  });

  it('never splits an emoji or a surrogate pair', () => {
    const text = 'Go 🏃‍♀️ now';
    for (let max = 1; max < text.length; max++) {
      const cut = cutToFit(text, max);
      expect(['', 'Go', 'Go 🏃‍♀️']).toContain(cut);
    }
  });

  it('returns nothing when not even the first word fits', () => {
    expect(cutToFit('Supercalifragilistic bottle', 10)).toBe('');
    expect(cutToFit('anything', 0)).toBe('');
  });
});

describe('sentence helpers', () => {
  it('collapses runs of white space, newlines included', () => {
    expect(collapseSpace('  a\n\n b\t c ')).toBe('a b c');
  });

  it('replaces half a surrogate pair (JSON can carry one) and keeps whole pairs', () => {
    expect(collapseSpace('dawn \ud83c')).toBe('dawn \ufffd');
    expect(collapseSpace('\udf05 dawn 🌅')).toBe('\ufffd dawn 🌅');
  });

  it('closes a sentence once', () => {
    expect(asSentence('A bottle')).toBe('A bottle.');
    expect(asSentence('A bottle!')).toBe('A bottle!');
    expect(asSentence('He said "go."')).toBe('He said "go."');
    expect(asSentence('走る。')).toBe('走る。');
    expect(asSentence('  ')).toBe('');
  });

  it('capitalises a lower-case first letter only', () => {
    expect(capitalise('écume sur la bouteille')).toBe('Écume sur la bouteille');
    expect(capitalise('3 bottles')).toBe('3 bottles');
    expect(capitalise('走る')).toBe('走る');
  });
});
