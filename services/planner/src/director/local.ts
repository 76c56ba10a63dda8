import { createHash } from 'node:crypto';
import type { Brief, CameraMove, ShotSpec } from '@aiprod/contracts';

export interface ShotPlan {
  director: 'local';
  width: number;
  height: number;
  fps: number;
  endCardSeconds: number;
  transition: { kind: 'fade'; durationSeconds: number };
  shots: ShotSpec[];
}

/** A short crossfade between shots and into the end card. */
export const TRANSITION_SECONDS = 0.5;

const FRAME_SIZES: Record<Brief['aspectRatios'][number], [number, number]> = {
  '16:9': [1280, 720],
  '9:16': [720, 1280],
  '1:1': [1080, 1080],
  '4:5': [864, 1080],
};
const FPS = 30;
const CAMERA_CYCLE: CameraMove[] = ['zoom_in', 'pan_right', 'zoom_out', 'pan_left', 'static'];
// Dark-to-bright pairs that keep white text legible; used when the brand gives no colours.
const HOUSE_PALETTES: [string, string][] = [
  ['#0B1D3A', '#1E6FD9'],
  ['#3A0B2E', '#D91E6F'],
  ['#0B3A1D', '#1ED96F'],
  ['#3A2A0B', '#D9A21E'],
  ['#1D0B3A', '#6F1ED9'],
];

/** Shortens to at most `max` characters on a word boundary. */
export function fitText(text: string, max: number): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}

function darken(hex: string, factor: number): string {
  const n = parseInt(hex.slice(1), 16);
  const channel = (shift: number) => Math.round(((n >> shift) & 0xff) * factor);
  return `#${[16, 8, 0].map((s) => channel(s).toString(16).padStart(2, '0')).join('')}`.toUpperCase();
}

function palettesFor(brief: Brief): [string, string][] {
  const colours = brief.brand.colors;
  if (!colours?.length) {
    // Same brand, same palette: pick a starting point from a hash of the name.
    const start = createHash('sha256').update(brief.brand.name).digest()[0]! % HOUSE_PALETTES.length;
    return [...HOUSE_PALETTES.slice(start), ...HOUSE_PALETTES.slice(0, start)];
  }
  return colours.map((c) => [darken(c, 0.25), c.toUpperCase()] as [string, string]);
}

/** Splits `total` seconds into `n` parts that are whole frames and add up exactly. */
function splitFrames(totalSeconds: number, n: number, fps: number): number[] {
  const frames = Math.round(totalSeconds * fps);
  const base = Math.floor(frames / n);
  return Array.from({ length: n }, (_, i) => (base + (i < frames - base * n ? 1 : 0)) / fps);
}

/**
 * The deterministic local creative director: an ad structure built from the brief alone (hook,
 * product, benefits, call to action), the same plan for the same brief, every time. It renders
 * at the first requested aspect ratio; the end card is added at assembly.
 */
export function planLocally(brief: Brief): ShotPlan {
  const [width, height] = FRAME_SIZES[brief.aspectRatios[0]!];
  const endCardSeconds = brief.durationSeconds >= 10 ? 2 : 1;
  const shotSeconds = brief.durationSeconds - endCardSeconds;
  // Hook first, call to action last; in between, the beats the client asked for come before
  // the generic product shot, which fills in when there is room or nothing was asked for.
  const hook = {
    purpose: 'hook' as const,
    text: brief.keyMessage,
    prompt: `Attention-grabbing opening for ${brief.product}: ${brief.keyMessage}`,
    line: `${brief.keyMessage}.`,
  };
  const product = {
    purpose: 'product' as const,
    text: brief.product,
    prompt: `Hero shot of ${brief.product} by ${brief.brand.name}`,
    line: `Introducing ${brief.product}, from ${brief.brand.name}.`,
  };
  const asked = (brief.scenes ?? []).map((scene) => ({
    purpose: 'benefit' as const,
    text: scene,
    prompt: `${brief.product}: ${scene}`,
    line: `${scene}.`,
  }));
  const proof = brief.audience
    ? [
        {
          purpose: 'proof' as const,
          text: `Made for ${brief.audience}`,
          prompt: `${brief.product} in use by ${brief.audience}`,
          line: `Made for ${brief.audience}.`,
        },
      ]
    : [];
  const candidates = [...asked.slice(0, 1), product, ...asked.slice(1), ...proof];
  // About four seconds a shot, three to five shots, and never more shots than distinct beats.
  const count = Math.min(5, 2 + candidates.length, Math.max(3, Math.round(shotSeconds / 4)));
  const middle = candidates.slice(0, count - 2);
  const closing = brief.callToAction ?? brief.brand.name;
  const chosen = [
    hook,
    ...middle,
    {
      purpose: 'call_to_action' as const,
      text: closing,
      prompt: `${brief.product}, closing moment: ${closing}`,
      line: `${closing}. ${brief.brand.name}.`,
    },
  ];
  // Each shot overlaps the next (and the last overlaps the end card) by one transition, so the
  // shots are planned that much longer for the finished cut to land on the brief's duration.
  const durations = splitFrames(shotSeconds + count * TRANSITION_SECONDS, count, FPS);
  const palettes = palettesFor(brief);
  const mood = brief.tone ? `, ${brief.tone} mood` : '';
  return {
    director: 'local',
    width,
    height,
    fps: FPS,
    endCardSeconds,
    transition: { kind: 'fade', durationSeconds: TRANSITION_SECONDS },
    shots: chosen.map((beat, index) => ({
      shotId: `s${String(index + 1).padStart(2, '0')}`,
      index,
      purpose: beat.purpose,
      durationSeconds: durations[index]!,
      prompt: fitText(`${beat.prompt}${mood}`, 1000),
      camera: CAMERA_CYCLE[index % CAMERA_CYCLE.length]!,
      onScreenText: fitText(beat.text, 40),
      // The voice-over script, one line a shot; delivery burns it in as captions.
      ...(brief.voiceOver ? { voiceOver: fitText(beat.line.replace(/\.+/g, '.'), 300) } : {}),
      palette: palettes[index % palettes.length]!,
      width,
      height,
      fps: FPS,
    })),
  };
}
