import {
  briefLanguages,
  translatedBrief,
  type Brief,
  type BriefTranslation,
  type PlanLanguage,
  type ShotPlan,
} from '@aiprod/contracts';
import { TEXT_LIMITS } from '@aiprod/vendor-catalogue';
import { PlanningError, type PlanContext } from './director/director';
import { planLocally } from './director/local';

/** One language's words for a plan: per shot its line and on-screen text, and the call to action. */
export interface LanguageWords {
  shots: { voiceOver?: string; onScreenText?: string }[];
  callToAction?: string;
}

/**
 * Translates a plan's words into another language (the director's model, when configured: see
 * PLANNER_TRANSLATOR). Its answer is checked with checkTranslation before it is used.
 */
export interface Translator {
  readonly name: string;
  translate(input: TranslationInput): Promise<LanguageWords>;
}

/** What a translator is asked: a plan's words from one language into another. */
export interface TranslationInput {
  from: string;
  to: string;
  words: LanguageWords;
  /** The brief's own words in `to`, when the client gave them: names and phrases to keep. */
  glossary?: BriefTranslation;
  signal?: AbortSignal;
}

/** The words a plan carries in its own language: the shot specs' lines and texts. */
export function planWords(plan: ShotPlan, brief: Brief): LanguageWords {
  return {
    shots: plan.shots.map((s) => ({
      ...(s.voiceOver ? { voiceOver: s.voiceOver } : {}),
      ...(s.onScreenText ? { onScreenText: s.onScreenText } : {}),
    })),
    ...(brief.callToAction ? { callToAction: brief.callToAction } : {}),
  };
}

/**
 * A translation must say the same things: a line and an on-screen text for exactly the shots that
 * have them, within the same length limits, and a call to action if the source has one. A
 * translation that does not is refused (the translator may answer differently next time).
 */
export function checkTranslation(source: LanguageWords, result: LanguageWords, language: string): LanguageWords {
  const problems: string[] = [];
  if (result.shots.length !== source.shots.length)
    problems.push(`${result.shots.length} shots for ${source.shots.length}`);
  source.shots.forEach((shot, i) => {
    const got = result.shots[i];
    for (const field of ['voiceOver', 'onScreenText'] as const) {
      const want = shot[field] !== undefined;
      const text = got?.[field]?.trim();
      if (want && !text) problems.push(`shot ${i + 1} has no ${field}`);
      if (!want && text) problems.push(`shot ${i + 1} has a ${field} the source has not`);
      if (text && text.length > TEXT_LIMITS[field])
        problems.push(`shot ${i + 1}'s ${field} is over ${TEXT_LIMITS[field]}`);
    }
  });
  if ((source.callToAction === undefined) !== (result.callToAction === undefined))
    problems.push('the call to action is missing or extra');
  if (result.callToAction && result.callToAction.length > 80) problems.push('the call to action is over 80');
  if (problems.length)
    throw new PlanningError('retryable', `the ${language} translation does not match the plan: ${problems.join('; ')}`);
  return {
    shots: result.shots.map((s) => ({
      ...(s.voiceOver?.trim() ? { voiceOver: s.voiceOver.trim() } : {}),
      ...(s.onScreenText?.trim() ? { onScreenText: s.onScreenText.trim() } : {}),
    })),
    ...(result.callToAction ? { callToAction: result.callToAction.trim() } : {}),
  };
}

/**
 * The local director's plan of the brief in `language`, made from the brief's own words in it
 * (its translations): the same beats in the same order as the plan in the brief's first
 * language, because the beats depend only on the brief's structure (scenes, audience), which the
 * gateway holds equal across translations.
 */
export function localWords(brief: Brief, plan: ShotPlan, language: string, context: PlanContext): LanguageWords {
  const translated = planLocally(translatedBrief(brief, language), context);
  if (translated.shots.length !== plan.shots.length)
    throw new PlanningError(
      'permanent',
      `the ${language} brief makes ${translated.shots.length} shots, not ${plan.shots.length}`,
    );
  return planWords(translated, translatedBrief(brief, language));
}

/**
 * Every language's words for a plan with several languages, the plan's own first: a further
 * language's come from the translator when one is configured (the plan may be Gemini's, whose
 * lines no template reproduces), else from the local director's plan of the brief's own
 * translation (the gateway refused a further language without one).
 */
export async function planLanguages(
  brief: Brief,
  plan: ShotPlan,
  context: PlanContext,
  translator: Translator | undefined,
): Promise<PlanLanguage[]> {
  const [primary, ...further] = briefLanguages(brief);
  const own = planWords(plan, brief);
  const languages: PlanLanguage[] = [{ language: primary!, source: 'brief', ...own }];
  for (const language of further) {
    if (translator) {
      const glossary = brief.translations?.[language];
      const answer = await translator.translate({
        from: primary!,
        to: language,
        words: own,
        ...(glossary ? { glossary } : {}),
        ...(context.signal ? { signal: context.signal } : {}),
      });
      languages.push({ language, source: 'translator', ...checkTranslation(own, answer, language) });
    } else if (brief.translations?.[language]) {
      languages.push({ language, source: 'supplied', ...localWords(brief, plan, language, context) });
    } else {
      throw new PlanningError(
        'permanent',
        `no words in ${language}: the brief has no translation and no translator is configured`,
      );
    }
  }
  return languages;
}
