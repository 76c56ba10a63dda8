import {
  briefLanguages,
  type Brief,
  type CameraMove,
  type ContinuityRef,
  type ShotPlan,
  type ShotSpec,
} from '@aiprod/contracts';
import {
  fitDurations,
  PLAN_FPS,
  TEXT_LIMITS,
  TRANSITION_SECONDS,
  preferredEndCardSeconds,
} from '@aiprod/vendor-catalogue';
import { FRAME_SIZES, briefContinuity, chooseShotCount, fitText, palettesFor } from '../shaping';
import { PlanningError, defaultContext, type CreativeDirector, type PlanContext } from './director';

const CAMERA_CYCLE: CameraMove[] = ['zoom_in', 'pan_right', 'zoom_out', 'pan_left', 'static'];
/** What generative models tend to add uninvited; harmless for the animatic. */
const NEGATIVE_PROMPT = 'watermarks, third-party logos, garbled text, distorted hands or faces';

/**
 * The few words the local director adds around the brief's own, per language (base subtag): a
 * template's glue, not a translation. A language without an entry gets neutral forms that need no
 * grammar ("<product> — <brand>.", the audience alone).
 */
const GLUE: Record<
  string,
  { introducing: (product: string, brand: string) => string; madeFor: (a: string) => string }
> = {
  en: { introducing: (p, b) => `Introducing ${p}, from ${b}.`, madeFor: (a) => `Made for ${a}` },
  fr: { introducing: (p, b) => `Voici ${p}, par ${b}.`, madeFor: (a) => `Pensé pour ${a}` },
  de: { introducing: (p, b) => `Das ist ${p} von ${b}.`, madeFor: (a) => `Gemacht für ${a}` },
  es: { introducing: (p, b) => `Presentamos ${p}, de ${b}.`, madeFor: (a) => `Hecho para ${a}` },
  it: { introducing: (p, b) => `Ecco ${p}, di ${b}.`, madeFor: (a) => `Pensato per ${a}` },
  pt: { introducing: (p, b) => `Conheça ${p}, de ${b}.`, madeFor: (a) => `Feito para ${a}` },
  nl: { introducing: (p, b) => `Maak kennis met ${p} van ${b}.`, madeFor: (a) => `Gemaakt voor ${a}` },
};
const NEUTRAL_GLUE = { introducing: (p: string, b: string) => `${p} — ${b}.`, madeFor: (a: string) => a };
const glueFor = (language: string | undefined) => GLUE[(language ?? 'en').split('-')[0]!] ?? NEUTRAL_GLUE;

interface Beat {
  purpose: ShotSpec['purpose'];
  text?: string;
  prompt: string;
  line?: string;
  refs: string[];
}

/**
 * The deterministic local creative director: an ad structure built from the brief alone (hook,
 * product, benefits, proof, call to action), the same plan for the same brief, every time. It
 * frames the shots for the first requested aspect ratio; the end card is added at assembly.
 */
export function planLocally(brief: Brief, context: PlanContext = defaultContext(brief)): ShotPlan {
  const { preset, backend, model } = context;
  const [width, height] = FRAME_SIZES[brief.aspectRatios[0]!];
  const continuity = briefContinuity(brief);
  const hasCharacter = continuity.some((c) => c.id === 'character');
  const people = hasCharacter ? ['character'] : [];
  const glue = glueFor(briefLanguages(brief)[0]);
  // Hook first, call to action last; in between, the beats the client asked for come before
  // the generic product shot, which fills in when there is room or nothing was asked for.
  const hook: Beat = {
    purpose: 'hook',
    text: brief.keyMessage,
    prompt: `Attention-grabbing opening for ${brief.product}: ${brief.keyMessage}`,
    line: `${brief.keyMessage}.`,
    refs: ['product', 'style'],
  };
  const product: Beat = {
    purpose: 'product',
    text: brief.product,
    prompt: `Hero shot of ${brief.product} by ${brief.brand.name}`,
    line: glue.introducing(brief.product, brief.brand.name),
    refs: ['product', 'style'],
  };
  const asked: Beat[] = (brief.scenes ?? []).map((scene) => ({
    purpose: 'benefit',
    text: scene,
    prompt: `${brief.product}: ${scene}`,
    line: `${scene}.`,
    refs: ['product', 'style', ...people],
  }));
  const proof: Beat[] = brief.audience
    ? [
        {
          purpose: 'proof',
          text: glue.madeFor(brief.audience),
          prompt: `${brief.product} in use by ${brief.audience}`,
          line: `${glue.madeFor(brief.audience)}.`,
          refs: ['product', 'style', ...people],
        },
      ]
    : [];
  const candidates = [...asked.slice(0, 1), product, ...asked.slice(1), ...proof];
  // Beats without words, used only when a backend's short clips need more shots than the brief
  // has beats (a minute on Veo takes eight): each is different, none repeats another.
  const fillers: Beat[] = [
    {
      purpose: 'product',
      prompt: `Close-up details of ${brief.product}: materials and finish`,
      refs: ['product', 'style'],
    },
    { purpose: 'benefit', prompt: `${brief.product} in everyday use`, refs: ['product', 'style', ...people] },
    {
      purpose: 'product',
      prompt: `${brief.product} in the ${brief.brand.name} world of colour and light`,
      refs: ['product', 'style'],
    },
    {
      purpose: 'benefit',
      prompt: `The moment ${brief.product} makes a difference`,
      refs: ['product', 'style', ...people],
    },
    { purpose: 'product', prompt: `${brief.product} turning slowly, seen from every side`, refs: ['product', 'style'] },
    {
      purpose: 'benefit',
      prompt: `A quiet, satisfied pause with ${brief.product}`,
      refs: ['product', 'style', ...people],
    },
  ];
  const shotSeconds = brief.durationSeconds - preferredEndCardSeconds(brief.durationSeconds);
  // About four seconds a shot, three to five shots, and never more shots than distinct beats
  // unless the backend's clip lengths demand it.
  const wanted = Math.min(5, 2 + candidates.length, Math.max(3, Math.round(shotSeconds / 4)));
  const count = chooseShotCount(wanted, brief, preset, backend, model);
  const middle = [...candidates, ...fillers].slice(0, count - 2);
  const closing = brief.callToAction ?? brief.brand.name;
  const chosen: Beat[] = [
    hook,
    ...middle,
    {
      purpose: 'call_to_action',
      text: closing,
      prompt: `${brief.product}, closing moment: ${closing}`,
      line: `${closing}. ${brief.brand.name}.`,
      refs: ['product', 'style'],
    },
  ];
  const fitted = fitDurations(
    chosen.map(() => 1),
    chosen.map(() => backend),
    brief.durationSeconds,
    { fps: PLAN_FPS, transitionSeconds: TRANSITION_SECONDS, ...(model ? { models: { [backend]: model } } : {}) },
  );
  if (!fitted.ok) throw new PlanningError('permanent', fitted.why);
  // The table keeps only what some shot shows (a short plan may leave out the audience's beat).
  const usedIds = new Set(chosen.flatMap((b) => b.refs));
  const table = continuity.filter((c) => usedIds.has(c.id));
  const palettes = palettesFor(brief);
  const mood = brief.tone ? `, ${brief.tone} mood` : '';
  // The local director cannot interpret notes; its rule is plain and visible: every shot's visual
  // prompt carries the client's notes, so the vendor model is asked for them on every shot.
  const notes = clientNotes(context.notes);
  const byId = new Map(continuity.map((c) => [c.id, c]));
  return {
    director: 'local',
    width,
    height,
    fps: PLAN_FPS,
    endCardSeconds: fitted.endCardSeconds,
    transition: { kind: 'fade', durationSeconds: TRANSITION_SECONDS },
    fittedFor: backend,
    continuity: table,
    shots: chosen.map((beat, index) => ({
      shotId: `s${String(index + 1).padStart(2, '0')}`,
      index,
      purpose: beat.purpose,
      durationSeconds: fitted.durations[index]!,
      prompt: fitText(`${beat.prompt}${mood}${notes}`, TEXT_LIMITS.prompt),
      negativePrompt: NEGATIVE_PROMPT,
      camera: CAMERA_CYCLE[index % CAMERA_CYCLE.length]!,
      ...(beat.text ? { onScreenText: fitText(beat.text, TEXT_LIMITS.onScreenText) } : {}),
      // The voice-over script, one line a shot; delivery burns it in as captions.
      ...(brief.voiceOver && beat.line
        ? { voiceOver: fitText(beat.line.replace(/\.+/g, '.'), TEXT_LIMITS.voiceOver) }
        : {}),
      palette: palettes[index % palettes.length]!,
      width,
      height,
      fps: PLAN_FPS,
      transition: { kind: 'fade', durationSeconds: TRANSITION_SECONDS },
      continuity: beat.refs.map((id) => byId.get(id)).filter((c): c is ContinuityRef => c !== undefined),
    })),
  };
}

/** The notes as the local director adds them to a prompt: `. Client notes: a; b`, or nothing. */
export function clientNotes(notes: readonly string[] | undefined): string {
  const said = (notes ?? []).map((n) => n.replace(/\s+/g, ' ').trim()).filter(Boolean);
  return said.length ? `. Client notes: ${said.join('; ')}` : '';
}

export const localDirector: CreativeDirector = {
  name: 'local',
  plan: (brief, context) => Promise.resolve().then(() => planLocally(brief, context)),
};
