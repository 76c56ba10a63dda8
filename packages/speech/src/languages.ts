/**
 * The languages we both speak (an espeak-ng voice, so the offline engine always works) and draw
 * (Latin, Greek or Cyrillic script: the DejaVu Sans font of the finishing step covers those).
 * Base subtags; the espeak-ng voice of each is in ESPEAK_VOICES (speech.test.ts checks every one
 * against `espeak-ng --voices`).
 */
export const ESPEAK_VOICES: Readonly<Record<string, string>> = {
  en: 'en-us',
  fr: 'fr-fr',
  de: 'de',
  es: 'es',
  it: 'it',
  pt: 'pt',
  nl: 'nl',
  sv: 'sv',
  da: 'da',
  nb: 'nb',
  fi: 'fi',
  pl: 'pl',
  cs: 'cs',
  sk: 'sk',
  ro: 'ro',
  hu: 'hu',
  tr: 'tr',
  el: 'el',
  ru: 'ru',
  uk: 'uk',
  bg: 'bg',
  hr: 'hr',
  sl: 'sl',
  sr: 'sr',
  mk: 'mk',
  et: 'et',
  lv: 'lv',
  lt: 'lt',
  ca: 'ca',
  id: 'id',
  ms: 'ms',
  is: 'is',
  ga: 'ga',
  cy: 'cy',
};

/** Regional espeak-ng voices a full tag may ask for (`pt-BR`, `en-GB`…); else the base's voice. */
export const ESPEAK_REGIONAL_VOICES: Readonly<Record<string, string>> = {
  'en-gb': 'en-gb',
  'en-us': 'en-us',
  'pt-br': 'pt-br',
  'fr-be': 'fr-be',
  'fr-ch': 'fr-ch',
  'es-419': 'es-419',
};

export const SPEECH_LANGUAGES: readonly string[] = Object.freeze(Object.keys(ESPEAK_VOICES));

const DRAWABLE_SCRIPTS = new Set(['Latn', 'Grek', 'Cyrl']);
/** ISO 15924 codes Intl gives for the scripts of the languages people ask for most. */
const SCRIPT_NAMES: Readonly<Record<string, string>> = {
  Jpan: 'Japanese',
  Hans: 'Simplified Chinese',
  Hant: 'Traditional Chinese',
  Kore: 'Korean',
  Arab: 'Arabic',
  Hebr: 'Hebrew',
  Deva: 'Devanagari',
  Beng: 'Bengali',
  Thai: 'Thai',
  Taml: 'Tamil',
  Geor: 'Georgian',
  Armn: 'Armenian',
  Ethi: 'Ethiopic',
};

/** Aliases: Norwegian without a written standard is Bokmål for us. */
const ALIASES: Readonly<Record<string, string>> = { no: 'nb' };

function locale(tag: string): Intl.Locale | undefined {
  try {
    return new Intl.Locale(tag.trim().replace(/_/g, '-'));
  } catch {
    return undefined;
  }
}

/** The base language of a BCP 47 tag we can speak and draw (`fr-CA` → `fr`), or why not. */
export function speechLanguage(tag: string): { ok: true; base: string } | { ok: false; why: string } {
  const loc = locale(tag);
  if (!loc) return { ok: false, why: `"${tag}" is not a BCP 47 language tag` };
  const base = ALIASES[loc.language] ?? loc.language;
  // The script the tag names, else the one the language is usually written in (ja → Jpan).
  let script = loc.script;
  if (!script) {
    try {
      script = loc.maximize().script;
    } catch {
      script = undefined;
    }
  }
  if (script && !DRAWABLE_SCRIPTS.has(script)) {
    return {
      ok: false,
      why: `${tag} is written in ${SCRIPT_NAMES[script] ?? script} script, which the caption font (DejaVu Sans: Latin, Greek, Cyrillic) cannot draw`,
    };
  }
  if (!SPEECH_LANGUAGES.includes(base)) {
    return { ok: false, why: `${tag}: no voice for "${base}" (we speak ${SPEECH_LANGUAGES.join(', ')})` };
  }
  return { ok: true, base };
}

/** The espeak-ng voice for a tag: a regional voice when it has one, else its base language's. */
export function espeakVoiceFor(tag: string): string | undefined {
  const checked = speechLanguage(tag);
  if (!checked.ok) return undefined;
  const loc = locale(tag);
  const regional = loc?.region ? ESPEAK_REGIONAL_VOICES[`${checked.base}-${loc.region.toLowerCase()}`] : undefined;
  return regional ?? ESPEAK_VOICES[checked.base];
}

const DRAWABLE_LETTER = /[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]/u;

/** The first letter of `text` in a script we cannot draw, else undefined. Digits, punctuation,
 *  symbols and emoji (Common or Inherited script, not letters) pass. */
export function unrenderableText(text: string): string | undefined {
  for (const match of text.matchAll(/\p{L}/gu)) {
    if (!DRAWABLE_LETTER.test(match[0])) return match[0];
  }
  return undefined;
}
