import { BriefSchema, type Brief } from './schemas';
import { briefLanguageProblems, briefLanguages, translatedBrief } from './sound';
import { validate } from './validation';

const brief = (overrides: Partial<Brief> = {}): Brief => ({
  product: 'Aurora running shoe',
  brand: { name: 'Aurora' },
  keyMessage: 'Meet Aurora',
  durationSeconds: 15,
  aspectRatios: ['16:9'],
  ...overrides,
});

describe('a brief in several languages', () => {
  it("lists the plan's own language first: languages, else language, else en", () => {
    expect(briefLanguages(brief())).toEqual(['en']);
    expect(briefLanguages(brief({ language: 'fr-CA' }))).toEqual(['fr-CA']);
    expect(briefLanguages(brief({ languages: ['de', 'en'] }))).toEqual(['de', 'en']);
  });

  it('is a closed shape: translations keyed by language tags, music by url or asset, captions by style', () => {
    const ok = brief({
      languages: ['en', 'fr'],
      translations: { fr: { keyMessage: 'Voici Aurora' } },
      music: { assetId: 'asset_0123456789abcdef01234567' },
      captions: 'word',
    });
    expect(validate(BriefSchema, ok).ok).toBe(true);
    const bad = (b: unknown) => validate(BriefSchema, b);
    expect(bad({ ...ok, translations: { 'not a tag': { keyMessage: 'x' } } }).ok).toBe(false);
    expect(bad({ ...ok, translations: { fr: { keyMessage: 'x', tone: 'calm' } } }).ok).toBe(false);
    expect(
      bad({ ...ok, music: { url: 'https://a.example/m.mp3', assetId: 'asset_0123456789abcdef01234567' } }).ok,
    ).toBe(false);
    expect(bad({ ...ok, captions: 'karaoke' }).ok).toBe(false);
    expect(bad({ ...ok, languages: ['en', 'en'] }).ok).toBe(false);
  });

  it('without a translator, refuses a further language with no words in it, naming the field', () => {
    const b = brief({ languages: ['en', 'fr', 'de'], translations: { fr: { keyMessage: 'Voici Aurora' } } });
    expect(briefLanguageProblems(b, { translator: false })).toEqual([
      expect.objectContaining({ field: '/translations/de', rule: 'required' }),
    ]);
    expect(briefLanguageProblems(b, { translator: true })).toEqual([]);
  });

  it('holds a translation to the brief: as many scenes, the audience and call to action it has, nothing it has not', () => {
    const b = brief({
      languages: ['en', 'fr'],
      scenes: ['Lighter every mile', 'Grip in the rain'],
      audience: 'Urban runners',
      translations: {
        fr: { keyMessage: 'Voici Aurora', scenes: ['Plus légère à chaque kilomètre'], callToAction: 'Courez' },
      },
    });
    const fields = briefLanguageProblems(b, { translator: false }).map((e) => `${e.field} ${e.rule}`);
    expect(fields).toEqual([
      '/translations/fr/scenes sameCount',
      '/translations/fr/audience required',
      '/translations/fr/callToAction unexpected',
    ]);
  });

  it('refuses a language that disagrees with languages[0], and a translation of a language the brief does not ask for', () => {
    const b = brief({
      language: 'de',
      languages: ['en', 'fr'],
      translations: { fr: { keyMessage: 'x' }, it: { keyMessage: 'y' }, en: { keyMessage: 'z' } },
    });
    const fields = briefLanguageProblems(b, { translator: false }).map((e) => `${e.field} ${e.rule}`);
    expect(fields).toEqual([
      '/language firstLanguage',
      '/translations/it furtherLanguage',
      '/translations/en furtherLanguage',
    ]);
  });

  it("puts a language's words over the brief's own", () => {
    const b = brief({
      languages: ['en', 'fr'],
      callToAction: 'Run brighter',
      translations: { fr: { keyMessage: 'Voici Aurora', callToAction: 'Courez plus vif' } },
    });
    expect(translatedBrief(b, 'fr')).toMatchObject({
      language: 'fr',
      keyMessage: 'Voici Aurora',
      callToAction: 'Courez plus vif',
      product: 'Aurora running shoe',
    });
  });
});
