/**
 * Colour words for a palette: video models follow "deep blue and bright blue" and ignore (or
 * paint as text) "#0B1D3A". A hue name with a lightness or saturation word is as precise as a
 * prompt can usefully be.
 */

interface Hsl {
  h: number;
  s: number;
  l: number;
}

function hsl(hex: string): Hsl {
  const n = Number.parseInt(hex.replace(/^#/, ''), 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => v / 255) as [number, number, number];
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const l = (max + min) / 2;
  const d = max - min;
  if (d === 0) return { h: 0, s: 0, l };
  const s = d / (1 - Math.abs(2 * l - 1));
  const h = max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return { h: h * 60, s, l };
}

/** Upper hue bounds (degrees) of each name; red wraps round from 345. */
const HUES: readonly [number, string][] = [
  [12, 'red'],
  [40, 'orange'],
  [68, 'yellow'],
  [165, 'green'],
  [195, 'teal'],
  [255, 'blue'],
  [285, 'purple'],
  [330, 'magenta'],
  [345, 'pink'],
  [360, 'red'],
];

/** A short English name for a `#RRGGBB` colour, e.g. "deep blue", "pale yellow", "charcoal grey". */
export function colourName(hex: string): string {
  const { h, s, l } = hsl(hex);
  if (l < 0.07) return 'black';
  if (l > 0.95) return 'white';
  if (s < 0.15) return l < 0.3 ? 'charcoal grey' : l < 0.65 ? 'grey' : 'light grey';
  let hue = HUES.find(([upper]) => h < upper)![1];
  // Dark oranges and yellows are what people call brown and olive, a light teal is cyan, a light
  // red is pink.
  if (l < 0.35 && hue === 'orange') return l < 0.2 ? 'dark brown' : 'brown';
  if (l < 0.35 && hue === 'yellow') return 'olive';
  if (l >= 0.45 && hue === 'teal') hue = 'cyan';
  if (l > 0.7 && hue === 'red') hue = 'pink';
  const shade =
    l < 0.22 ? 'deep' : l < 0.4 ? 'dark' : l > 0.8 ? 'pale' : l > 0.62 ? 'light' : s > 0.7 ? 'bright' : 'muted';
  return `${shade} ${hue}`;
}

/** "deep blue and bright blue"; a colour named twice is said once. */
export function paletteWords(palette: readonly string[]): string {
  const names = [...new Set(palette.map(colourName))];
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
