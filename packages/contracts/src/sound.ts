import { Type, type Static } from '@sinclair/typebox';
import { LanguageTag, Strict, type Brief, type BriefTranslation } from './schemas';
import type { FieldError } from './validation';

/** The language a brief's plan is written in when it names none. */
export const DEFAULT_LANGUAGE = 'en';

/**
 * Every language a brief asks for, the plan's own first: `languages` when given, else the one
 * `language` (default en). parseBrief refuses a `language` that is not `languages[0]`.
 */
export function briefLanguages(brief: Pick<Brief, 'language' | 'languages'>): string[] {
  return brief.languages?.length ? [...brief.languages] : [brief.language ?? DEFAULT_LANGUAGE];
}

/** The brief in one of its languages: its translated words over the original ones, as a one-language brief. */
export function translatedBrief(brief: Brief, language: string): Brief {
  // A brief of this one language: its words, without the list of the others.
  const { languages: _all, translations: _words, ...rest } = brief;
  const t: BriefTranslation | undefined = brief.translations?.[language];
  if (!t) return { ...rest, language };
  return {
    ...rest,
    language,
    keyMessage: t.keyMessage,
    ...(t.product ? { product: t.product } : {}),
    ...(t.audience ? { audience: t.audience } : {}),
    ...(t.callToAction ? { callToAction: t.callToAction } : {}),
    ...(t.scenes ? { scenes: t.scenes } : {}),
  };
}

/**
 * What the closed schema cannot say about a brief's languages: `language` agrees with
 * `languages[0]`; translations are keyed by further languages only; and, without a translator,
 * every further language comes with the brief's words (key message, and the audience, call to
 * action and scenes the brief has, as many scenes as the brief). Each problem names its field.
 */
export function briefLanguageProblems(brief: Brief, options: { translator: boolean }): FieldError[] {
  const errors: FieldError[] = [];
  const languages = briefLanguages(brief);
  const [primary, ...further] = languages;
  if (brief.languages?.length && brief.language !== undefined && brief.language !== primary) {
    errors.push({
      field: '/language',
      rule: 'firstLanguage',
      message: `must be the first of languages (${primary}) when both are given`,
    });
  }
  for (const key of Object.keys(brief.translations ?? {})) {
    if (!further.includes(key)) {
      errors.push({
        field: `/translations/${key}`,
        rule: 'furtherLanguage',
        message:
          key === primary
            ? `is the plan's own language: its words are the brief's`
            : `is not one of languages (${languages.join(', ')})`,
      });
    }
  }
  for (const language of further) {
    const t = brief.translations?.[language];
    const at = `/translations/${language}`;
    if (!t) {
      if (!options.translator) {
        errors.push({
          field: at,
          rule: 'required',
          message: `is required: no translator is configured, so the brief must give its words in ${language}`,
        });
      }
      continue;
    }
    const scenes = brief.scenes?.length ?? 0;
    if ((t.scenes?.length ?? 0) !== scenes && (t.scenes !== undefined || !options.translator)) {
      errors.push({
        field: `${at}/scenes`,
        rule: 'sameCount',
        message: `must have ${scenes} item(s), as many as the brief's scenes`,
      });
    }
    for (const field of ['audience', 'callToAction'] as const) {
      if (brief[field] !== undefined && t[field] === undefined && !options.translator) {
        errors.push({ field: `${at}/${field}`, rule: 'required', message: `is required: the brief has a ${field}` });
      }
      if (brief[field] === undefined && t[field] !== undefined) {
        errors.push({
          field: `${at}/${field}`,
          rule: 'unexpected',
          message: `has no ${field} in the brief to translate`,
        });
      }
    }
  }
  return errors;
}

/**
 * One language's words for a plan with several languages: per shot its voice-over line and
 * on-screen text, and the end card's call to action. Stored with the plan; delivery makes one set
 * of videos, captions and voice from each.
 */
export const PlanLanguageSchema = Strict({
  language: LanguageTag,
  source: Type.Union([Type.Literal('brief'), Type.Literal('supplied'), Type.Literal('translator')], {
    description:
      "Where the words came from: the brief itself (the plan's language), the brief's translations, or the translator.",
  }),
  shots: Type.Array(
    Strict({
      voiceOver: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
      onScreenText: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
    }),
    { maxItems: 16, description: 'By shot index.' },
  ),
  callToAction: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
});
export type PlanLanguage = Static<typeof PlanLanguageSchema>;
