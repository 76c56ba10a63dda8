import { colourName, paletteWords } from './colour';

describe('colour words', () => {
  it.each([
    ['#0B1D3A', 'deep blue'],
    ['#1E6FD9', 'bright blue'],
    ['#D91E6F', 'bright pink'],
    ['#0B3A1D', 'deep green'],
    ['#3A2A0B', 'dark brown'],
    ['#8B4513', 'brown'],
    ['#556B2F', 'dark green'],
    ['#6B6B1F', 'olive'],
    ['#FF0000', 'bright red'],
    ['#FFC0CB', 'pale pink'],
    ['#00FFFF', 'bright cyan'],
    ['#008080', 'dark teal'],
    ['#6F1ED9', 'bright purple'],
    ['#F0E68C', 'light yellow'],
    ['#000000', 'black'],
    ['#FFFFFF', 'white'],
    ['#777777', 'grey'],
    ['#222222', 'charcoal grey'],
    ['#C0C0C0', 'light grey'],
    ['#ffcc00', 'bright yellow'],
  ])('%s is %s', (hex, name) => {
    expect(colourName(hex)).toBe(name);
  });

  it('joins a palette and says a repeated colour once', () => {
    expect(paletteWords(['#0B1D3A', '#1E6FD9'])).toBe('deep blue and bright blue');
    expect(paletteWords(['#1E6FD9', '#1E6FDA'])).toBe('bright blue');
    expect(paletteWords(['#000000', '#FF0000', '#FFFFFF'])).toBe('black, bright red and white');
    expect(paletteWords([])).toBe('');
  });
});
