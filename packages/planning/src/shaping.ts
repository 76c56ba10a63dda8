import { createHash } from 'node:crypto';
import { briefReferences, type BackendName, type Brief, type ContinuityRef, type Preset } from '@aiprod/contracts';
import { feasibleShotCounts } from '@aiprod/vendor-catalogue';
import { PlanningError } from './director/director';

/** Frame sizes per aspect ratio; the shots are framed for the brief's first one. */
export const FRAME_SIZES: Record<Brief['aspectRatios'][number], [number, number]> = {
  '16:9': [1280, 720],
  '9:16': [720, 1280],
  '1:1': [1080, 1080],
  '4:5': [864, 1080],
};

// Dark-to-bright pairs that keep white text legible; used when the brand gives no colours.
const HOUSE_PALETTES: [string, string][] = [
  ['#0B1D3A', '#1E6FD9'],
  ['#3A0B2E', '#D91E6F'],
  ['#0B3A1D', '#1ED96F'],
  ['#3A2A0B', '#D9A21E'],
  ['#1D0B3A', '#6F1ED9'],
];

/** Shortens to at most `max` characters on a word boundary (counted in UTF-16 units, as JSON Schema's maxLength is by ajv). */
export function fitText(text: string, max: number): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  let cut = clean.slice(0, max - 1);
  // Never leave half a surrogate pair (an emoji cut in two) at the end.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}

function darken(hex: string, factor: number): string {
  const n = parseInt(hex.slice(1), 16);
  const channel = (shift: number) => Math.round(((n >> shift) & 0xff) * factor);
  return `#${[16, 8, 0].map((s) => channel(s).toString(16).padStart(2, '0')).join('')}`.toUpperCase();
}

/** Dark/bright pairs from the brand's colours, or a house palette chosen by the brand's name. */
export function palettesFor(brief: Brief): [string, string][] {
  const colours = brief.brand.colors;
  if (!colours?.length) {
    // Same brand, same palette: pick a starting point from a hash of the name.
    const start = createHash('sha256').update(brief.brand.name).digest()[0]! % HOUSE_PALETTES.length;
    return [...HOUSE_PALETTES.slice(start), ...HOUSE_PALETTES.slice(0, start)];
  }
  return colours.map((c) => [darken(c, 0.25), c.toUpperCase()] as [string, string]);
}

/**
 * The continuity table built from the brief: the product (with the client's reference images),
 * the visual style, and, when the brief names an audience, one recurring character.
 */
export function briefContinuity(brief: Brief): ContinuityRef[] {
  const colours = brief.brand.colors?.length ? `, brand colours ${brief.brand.colors.join(' ')}` : '';
  // The URLs as the client gave them (uploaded assets have none); the stored copies a render pool
  // sends are on each shot's `references`.
  const imageUris = briefReferences(brief).flatMap((r) => (r.kind === 'url' ? [r.url] : []));
  return [
    {
      id: 'product',
      kind: 'product',
      description: fitText(`${brief.product} by ${brief.brand.name}, identical design in every shot`, 300),
      ...(imageUris.length ? { imageUris } : {}),
    },
    {
      id: 'style',
      kind: 'style',
      description: fitText(
        `${brief.tone ?? 'clean'} commercial look, consistent lighting and colour grade${colours}`,
        300,
      ),
    },
    ...(brief.audience
      ? [
          {
            id: 'character',
            kind: 'character' as const,
            description: fitText(`the same person throughout, one of: ${brief.audience}`, 300),
          },
        ]
      : []),
  ];
}

/**
 * The shot count closest to `wanted` that the preset allows and that can make the brief's length
 * on `backend`'s `model` (Veo's 4–8 s clips need more shots for a minute than the animatic does).
 */
export function chooseShotCount(
  wanted: number,
  brief: Brief,
  preset: Preset,
  backend: BackendName,
  model?: string,
): number {
  const counts = feasibleShotCounts(
    backend,
    brief.durationSeconds,
    { min: Math.max(3, preset.shotCount.min), max: Math.min(8, preset.shotCount.max) },
    undefined,
    model,
  );
  if (!counts.length) {
    throw new PlanningError(
      'permanent',
      `no plan of ${preset.shotCount.min}–${preset.shotCount.max} shots on ${backend} makes a ${brief.durationSeconds} s cut`,
    );
  }
  return counts.reduce((best, n) => (Math.abs(n - wanted) < Math.abs(best - wanted) ? n : best));
}
