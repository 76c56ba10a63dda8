/**
 * The visual translator: one shot's spec in the prompt dialect and limits of one vendor model.
 * Pure (no I/O), so every adapter can build its request from it and the provenance record can say
 * exactly what was sent and what was left out.
 */
import type { ShotSpec } from '@aiprod/contracts';
import { CAMERA_WORDS } from './camera';
import { paletteWords } from './colour';
import { asSentence, capitalise, collapseSpace, cutToFit } from './fit';
import { DEFAULT_REFERENCE_SYNTAX, type AttachedReference, type PromptLimits } from './limits';
import { referenceText } from './references';

export { CAMERA_WORDS } from './camera';
export { colourName, paletteWords } from './colour';
export { cutToFit } from './fit';
export * from './limits';
export { referenceTag } from './references';

/** The spec fields a prompt is made from. */
export type PromptSource = Pick<
  ShotSpec,
  'prompt' | 'negativePrompt' | 'camera' | 'onScreenText' | 'palette' | 'retakeNote' | 'continuity'
>;

/** The parts of a prompt, most important first: when the limit bites, the later ones go first. */
export const PROMPT_PARTS = [
  'subject',
  'reference',
  'camera',
  'onScreenText',
  'retakeNote',
  'continuity',
  'style',
  'palette',
] as const;
export type PromptPart = (typeof PROMPT_PARTS)[number];

export interface DroppedPart {
  part: PromptPart | 'negativePrompt';
  /**
   * `length`: no room within the model's limit (for the subject, the text cut off its end);
   * `unsupported`: the model has no field for it (a negative prompt, a second image);
   * `negative-phrasing`: it could only be said as "avoid X", which the vendor's guide says backfires.
   */
  reason: 'length' | 'unsupported' | 'negative-phrasing';
  text: string;
}

export interface VendorPrompt {
  prompt: string;
  /** For the model's own negative-prompt field; absent when it has none or there is nothing to avoid. */
  negativePrompt?: string;
  /** Seedance's `camera_fixed` input; set only for the Seedance dialect. */
  cameraFixed?: boolean;
  /** What the spec asked for that is not in the request, with why: for the provenance record. */
  dropped: DroppedPart[];
  /** Something was cut or left out to fit a limit. */
  shortened: boolean;
}

interface Part {
  part: PromptPart;
  text: string;
}

/**
 * `spec` as `limits.dialect` wants it: camera move in the vendor's words, attached `references`
 * named in its syntax, the negative prompt in its own field or dropped (never "no X" in the text),
 * the retake note where it can be said positively, the palette as colour words. The prompt never
 * exceeds `limits.maxPromptChars`: parts go in order of importance (subject and action, reference,
 * camera, on-screen text, retake note, continuity, style, palette), each whole or not at all, except
 * the subject, which is cut at a sentence or word end, leaving room for the reference and camera.
 */
export function translatePrompt(
  spec: PromptSource,
  limits: PromptLimits,
  references: readonly AttachedReference[] = [],
): VendorPrompt {
  const { dialect } = limits;
  const syntax = limits.referenceSyntax ?? DEFAULT_REFERENCE_SYNTAX[dialect];
  const dropped: DroppedPart[] = [];
  const parts: Part[] = [];
  const add = (part: PromptPart, text: string) => {
    const t = collapseSpace(text);
    if (t) parts.push({ part, text: t });
  };

  add('subject', capitalise(asSentence(collapseSpace(spec.prompt))));

  const refs = referenceText(references, syntax);
  add('reference', refs.text);
  for (const r of refs.unused) dropped.push({ part: 'reference', reason: 'unsupported', text: r.id });

  add('camera', CAMERA_WORDS[dialect][spec.camera]);

  // Video models spell badly unless the words are given exactly and quoted; the QA judge then
  // checks the same words on screen.
  const onScreen = collapseSpace(spec.onScreenText ?? '');
  if (onScreen) add('onScreenText', `The on-screen text reads "${onScreen}" in clean, legible lettering.`);

  const retake = collapseSpace(spec.retakeNote ?? '');
  if (retake) {
    // A rejection reason names what went wrong; Runway's guide says naming the unwanted thing
    // draws it in. Its retake relies on the new seed instead.
    if (dialect === 'runway') dropped.push({ part: 'retakeNote', reason: 'negative-phrasing', text: retake });
    else add('retakeNote', `Correct what was wrong in the previous take: ${asSentence(retake)}`);
  }

  // Under first-frame syntax an attached image already shows its entry; describing it again
  // competes with the image (Runway's guide: let the text prompt describe the motion).
  const shown = new Set(syntax === 'first-frame' ? references.slice(0, 1).map((r) => r.id) : []);
  for (const c of spec.continuity ?? []) {
    if (shown.has(c.id)) continue;
    add(c.kind === 'product' || c.kind === 'character' ? 'continuity' : 'style', capitalise(asSentence(c.description)));
  }

  // "Color", as in the vendors' own guides: prompts are read by models trained mostly on US English.
  const colours = paletteWords(spec.palette);
  if (colours) add('palette', `Color palette: ${colours}.`);

  const { chosen, shortened } = fit(parts, limits.maxPromptChars, dropped);
  // Hailuo's camera commands lead the prompt in most of MiniMax's examples; elsewhere the camera follows
  // the subject, as the guides order a prompt.
  const order = (p: Part) => (dialect === 'hailuo' && p.part === 'camera' ? -1 : PROMPT_PARTS.indexOf(p.part));
  const prompt = [...chosen]
    .sort((a, b) => order(a) - order(b))
    .map((p) => p.text)
    .join(' ');

  const negative = negativePrompt(spec.negativePrompt, limits, dropped);
  return {
    prompt,
    ...(negative.text ? { negativePrompt: negative.text } : {}),
    ...(dialect === 'seedance' ? { cameraFixed: spec.camera === 'static' } : {}),
    dropped,
    shortened: shortened || negative.shortened,
  };
}

/**
 * The parts that fit in `max` units with one space between each, chosen in order of importance
 * (stable within a part kind), each whole or not at all. The subject alone may be cut, to leave
 * room for the reference and camera when they take no more than half the limit: a shot without
 * its camera move or its product is a worse miss than a shorter description.
 */
function fit(parts: Part[], max: number, dropped: DroppedPart[]): { chosen: Part[]; shortened: boolean } {
  const byImportance = [...parts].sort((a, b) => PROMPT_PARTS.indexOf(a.part) - PROMPT_PARTS.indexOf(b.part));
  const chosen: Part[] = [];
  let used = 0;
  let shortened = false;
  const cost = (text: string) => text.length + (chosen.length ? 1 : 0);
  const take = (p: Part) => {
    used += cost(p.text);
    chosen.push(p);
  };
  const essentials = parts.filter((q) => q.part === 'reference' || q.part === 'camera');
  const reserve = essentials.reduce((n, q) => n + q.text.length + 1, 0);
  for (const p of byImportance) {
    if (p.part === 'subject') {
      const room = reserve <= max / 2 ? max - reserve : max;
      if (p.text.length <= room) {
        take(p);
        continue;
      }
      shortened = true;
      // One unit for the full stop that closes a sentence cut short.
      const cut = cutToFit(p.text, room - 1);
      if (cut) {
        take({ part: 'subject', text: asSentence(cut) });
        dropped.push({ part: 'subject', reason: 'length', text: p.text.slice(cut.length).trim() });
        continue;
      }
    } else if (used + cost(p.text) <= max) {
      take(p);
      continue;
    }
    shortened = true;
    dropped.push({ part: p.part, reason: 'length', text: p.text });
  }
  return { chosen, shortened };
}

function negativePrompt(
  raw: string | undefined,
  limits: PromptLimits,
  dropped: DroppedPart[],
): { text: string; shortened: boolean } {
  const text = collapseSpace(raw ?? '');
  if (!text) return { text: '', shortened: false };
  // Folding "no X" into the text is what the vendors' guides warn against (Runway's says it
  // backfires): a model without the field simply does without it, and the record says so.
  if (!limits.negativePrompt) {
    dropped.push({ part: 'negativePrompt', reason: 'unsupported', text });
    return { text: '', shortened: false };
  }
  const max = limits.maxNegativePromptChars ?? Number.POSITIVE_INFINITY;
  const cut = cutToFit(text, max);
  if (cut.length === text.length) return { text, shortened: false };
  dropped.push({ part: 'negativePrompt', reason: 'length', text: text.slice(cut.length).trim() });
  return { text: cut, shortened: true };
}
export { dialectOf, promptLimitsFor } from './catalogue';
