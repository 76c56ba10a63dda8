import type { Brief } from '@aiprod/contracts';
import { defaultContext, PlanningError } from './director/director';
import { planLocally } from './director/local';
import { checkTranslation, planLanguages, planWords, type Translator } from './languages';

const brief: Brief = {
  product: 'Aurora running shoe',
  brand: { name: 'Aurora' },
  keyMessage: 'Meet Aurora',
  audience: 'Urban runners',
  callToAction: 'Run brighter',
  scenes: ['Lighter every mile'],
  durationSeconds: 30,
  aspectRatios: ['16:9'],
  voiceOver: true,
  languages: ['en', 'fr'],
  translations: {
    fr: {
      keyMessage: 'Voici Aurora',
      audience: 'les coureurs des villes',
      callToAction: 'Courez plus vif',
      scenes: ['Plus légère à chaque kilomètre'],
    },
  },
};

describe("a plan's words in every language", () => {
  const context = defaultContext(brief);
  const plan = planLocally(brief, context);

  it("takes a further language's words from the brief's translation, beat for beat, with the template's glue in that language", async () => {
    const [en, fr] = await planLanguages(brief, plan, context, undefined);
    expect(en).toMatchObject({ language: 'en', source: 'brief', callToAction: 'Run brighter' });
    expect(en!.shots).toEqual(planWords(plan, brief).shots);
    expect(fr).toMatchObject({ language: 'fr', source: 'supplied', callToAction: 'Courez plus vif' });
    expect(fr!.shots).toHaveLength(plan.shots.length);
    const lines = fr!.shots.map((s) => s.voiceOver ?? '');
    expect(lines[0]).toBe('Voici Aurora.');
    expect(lines.join(' ')).toContain('Plus légère à chaque kilomètre.');
    expect(lines.join(' ')).toContain('Voici Aurora running shoe, par Aurora.');
    expect(lines.join(' ')).toContain('Pensé pour les coureurs des villes.');
    expect(lines.join(' ')).not.toMatch(/Introducing|Made for/);
    // Every shot that speaks or shows text in English does so in French, and no other.
    fr!.shots.forEach((s, i) => {
      expect(Boolean(s.voiceOver)).toBe(Boolean(en!.shots[i]!.voiceOver));
      expect(Boolean(s.onScreenText)).toBe(Boolean(en!.shots[i]!.onScreenText));
    });
  });

  it('asks the translator when one is configured, and refuses an answer that says something else', async () => {
    const seen: string[] = [];
    const translator: Translator = {
      name: 'test',
      translate: ({ to, words }) => {
        seen.push(to);
        return Promise.resolve({
          shots: words.shots.map((s) => ({
            ...(s.voiceOver ? { voiceOver: `[${to}] ${s.voiceOver}` } : {}),
            ...(s.onScreenText ? { onScreenText: `[${to}] ${s.onScreenText}`.slice(0, 80) } : {}),
          })),
          ...(words.callToAction ? { callToAction: `[${to}] ${words.callToAction}` } : {}),
        });
      },
    };
    const [, fr] = await planLanguages(brief, plan, context, translator);
    expect(seen).toEqual(['fr']);
    expect(fr).toMatchObject({ source: 'translator', callToAction: '[fr] Run brighter' });

    const source = planWords(plan, brief);
    expect(() => checkTranslation(source, { ...source, shots: source.shots.slice(1) }, 'fr')).toThrow(PlanningError);
    const noLine = { ...source, shots: source.shots.map((s) => ({ ...s, voiceOver: undefined })) };
    expect(() => checkTranslation(source, noLine, 'fr')).toThrow(/has no voiceOver/);
    const long = { ...source, shots: source.shots.map((s) => ({ ...s, onScreenText: 'x'.repeat(200) })) };
    expect(() => checkTranslation(source, long, 'fr')).toThrow(/over/);
  });

  it('refuses a further language with neither a translation nor a translator', async () => {
    const bare = { ...brief, translations: {} };
    await expect(planLanguages(bare, planLocally(bare, context), context, undefined)).rejects.toThrow(/no words in fr/);
  });
});
