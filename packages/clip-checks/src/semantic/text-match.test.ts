import { bestMatch, normaliseText, similarity } from './text-match';

describe('text matching', () => {
  it('normalises case, accents, punctuation and spacing', () => {
    expect(normaliseText('  Only 49.99 — TODAY!\n')).toBe('only 49 99 today');
    expect(normaliseText('Café  crème')).toBe('cafe creme');
    expect(normaliseText('end—start')).toBe(normaliseText('end — start'));
    expect(normaliseText('~~ |')).toBe('');
  });

  it('scores 1 − distance / longer length', () => {
    expect(similarity('run brighter', 'run brighter')).toBe(1);
    // A swapped pair is two substitutions in twelve characters.
    expect(similarity('run brihgter', 'run brighter')).toBeCloseTo(0.833, 3);
    expect(similarity('', '')).toBe(1);
    expect(similarity('abc', '')).toBe(0);
  });

  it('finds the expected text among OCR noise', () => {
    expect(bestMatch('Run brighter', '~~ Run brighter\nSa a\nEE')).toEqual({ score: 1, matched: 'run brighter' });
    expect(bestMatch('Lighter every mile', '| Lighter every mile |').score).toBe(1);
    expect(bestMatch('Only 49.99 — today!', 'Only 49.99\n\ntoday!').score).toBe(1);
    // A word split in two by OCR is still close.
    expect(bestMatch('Lighter every mile', 'Lig hter every mi le').score).toBeCloseTo(0.9, 2);
  });

  it('keeps misspellings and other text below the threshold', () => {
    expect(bestMatch('Run brighter', 'Run brihgter').score).toBeCloseTo(0.833, 3);
    expect(bestMatch('Run brighter', 'Walk slower').score).toBeLessThan(0.5);
    expect(bestMatch('Run brighter', '')).toEqual({ score: 0, matched: '' });
    // Part of the text is not the text.
    expect(bestMatch('Run brighter every morning', 'brighter').score).toBeLessThan(0.5);
  });

  it('treats an empty expectation as met only by an empty reading', () => {
    expect(bestMatch('', '').score).toBe(1);
    expect(bestMatch('!!', 'something').score).toBe(0);
  });
});
