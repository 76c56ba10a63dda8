import {
  BriefSchema,
  PRESETS,
  briefLanguageProblems,
  briefLanguages,
  defaultPresetFor,
  normalizeBriefInput,
  validate,
  type Brief,
  type FieldError,
} from '@aiprod/contracts';
import { engineSpeaks, unrenderableText, type SpeechEngineName } from '@aiprod/speech';
import { HttpProblem } from './problem';

/**
 * The brief exactly as we store it: NFC-normalised first (so `é` typed two ways is one string and
 * lengths are counted the same for every client), then validated against the closed schema.
 * Every rejection names the field (a JSON Pointer) and the rule.
 */
export interface BriefOptions {
  /** The planner has a translator (PLANNER_TRANSLATOR): a further language may come without the brief's words in it. */
  translator: boolean;
  /** The deployment's speech engine (SPEECH_ENGINE): a language it has no voice for is refused. */
  speechEngine: SpeechEngineName;
}

export function parseBrief(
  body: unknown,
  options: BriefOptions = { translator: false, speechEngine: 'espeak-ng' },
): Brief {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpProblem('validation', 'the body must be a JSON object (a brief)', {
      errors: [{ field: '', rule: 'type', message: 'must be object' }],
    });
  }
  const normalized = normalizeBriefInput(body);
  if (!normalized.ok) {
    throw new HttpProblem('validation', 'the brief nests deeper than any of its fields allows', {
      errors: [{ field: normalized.field, rule: 'maxDepth', message: 'is nested too deeply' }],
    });
  }
  const checked = validate(BriefSchema, normalized.value);
  if (!checked.ok) throw new HttpProblem('validation', 'the brief is not valid', { errors: checked.errors });
  // The preset is stored explicitly: the one asked for, or the shortest-form one that fits.
  const brief = { ...checked.value, preset: checked.value.preset ?? defaultPresetFor(checked.value.durationSeconds) };
  const preset = PRESETS[brief.preset];
  if (brief.durationSeconds > preset.maxDurationSeconds) {
    throw new HttpProblem('validation', 'the brief is longer than its preset allows', {
      errors: [
        {
          field: '/durationSeconds',
          rule: 'presetMaximum',
          message: `must be at most ${preset.maxDurationSeconds} s for the ${preset.name} preset`,
        },
      ],
    });
  }
  const problems = [
    ...outputProblems(brief),
    ...briefScriptProblems(brief),
    ...languageProblems(brief, options.speechEngine),
    ...briefLanguageProblems(brief, options),
  ];
  if (problems.length) {
    // 400 like every other rule a brief breaks (the fuzz suite holds a JSON body's refusal to it).
    throw new HttpProblem('validation', 'the brief asks for what the platform cannot deliver', {
      errors: problems,
    });
  }
  return brief;
}

/** Every brief field whose words reach the picture (on-screen text, captions, the end card), as JSON Pointers. */
function drawnFields(brief: Brief): [string, string][] {
  const fields: [string, string][] = [
    ['/brand/name', brief.brand.name],
    ['/product', brief.product],
    ['/keyMessage', brief.keyMessage],
  ];
  if (brief.audience) fields.push(['/audience', brief.audience]);
  if (brief.callToAction) fields.push(['/callToAction', brief.callToAction]);
  (brief.scenes ?? []).forEach((scene, i) => fields.push([`/scenes/${i}`, scene]));
  for (const [language, t] of Object.entries(brief.translations ?? {})) {
    const at = `/translations/${language}`;
    fields.push([`${at}/keyMessage`, t.keyMessage]);
    if (t.product) fields.push([`${at}/product`, t.product]);
    if (t.audience) fields.push([`${at}/audience`, t.audience]);
    if (t.callToAction) fields.push([`${at}/callToAction`, t.callToAction]);
    (t.scenes ?? []).forEach((scene, i) => fields.push([`${at}/scenes/${i}`, scene]));
  }
  return fields;
}

/**
 * A field with a letter the video font (DejaVu Sans: Latin, Greek, Cyrillic) cannot draw: it
 * would show as empty boxes on screen. Named with the first such letter.
 */
function briefScriptProblems(brief: Brief): FieldError[] {
  return drawnFields(brief).flatMap(([field, text]) => {
    const letter = unrenderableText(text);
    if (letter === undefined) return [];
    const code = `U+${letter.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return [
      {
        field,
        rule: 'drawableScript',
        message: `has "${letter}" (${code}), a script the video font cannot draw: Latin, Greek and Cyrillic letters are supported`,
      },
    ];
  });
}

/**
 * Every language of a brief is a full set of videos, one per aspect ratio, each encoded and checked
 * at assembly under one deadline (ASSEMBLY_TIMEOUT_SECONDS). Measured: about 0.85 s of assembly per
 * second of delivered video on a loaded 2-core pool, so 8 minutes of video in all keeps a job well
 * inside the default 600 s. More is refused, naming the fields, rather than failing after the spend.
 */
export const MAX_DELIVERED_SECONDS = 480;

function outputProblems(brief: Brief): FieldError[] {
  const languages = briefLanguages(brief).length;
  const seconds = languages * brief.aspectRatios.length * brief.durationSeconds;
  if (seconds <= MAX_DELIVERED_SECONDS) return [];
  return [
    {
      field: brief.languages?.length ? '/languages' : '/aspectRatios',
      rule: 'deliveredSeconds',
      message:
        `asks for ${seconds} s of video in all (${languages} language(s) × ${brief.aspectRatios.length} aspect ratio(s) × ` +
        `${brief.durationSeconds} s); a job delivers at most ${MAX_DELIVERED_SECONDS} s: split it into several jobs`,
    },
  ];
}

/** Every language must be one the deployment's engine speaks and the font draws: named by its field. */
function languageProblems(brief: Brief, engine: SpeechEngineName): FieldError[] {
  const named: [string, string][] = brief.languages?.length
    ? brief.languages.map((l, i) => [`/languages/${i}`, l])
    : brief.language !== undefined
      ? [['/language', brief.language]]
      : [];
  return named.flatMap(([field, tag]) => {
    const support = engineSpeaks(engine, tag);
    return support.ok ? [] : [{ field, rule: 'supportedLanguage', message: support.why }];
  });
}

/** Query strings: the schema's types are numbers, the URL's are strings. */
export function coerceQuery(query: Record<string, unknown>, integers: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    // A repeated parameter (?a=1&a=2) arrives as an array; the schema refuses it as not a string.
    out[key] =
      integers.includes(key) && typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  }
  return out;
}
