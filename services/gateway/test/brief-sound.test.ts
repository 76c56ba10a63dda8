import { aBrief } from '@aiprod/testing';
import { parseBrief } from '../src/brief';
import { HttpProblem } from '../src/problem';

/** The field errors parseBrief refuses `body` with (none: it accepted it). */
function refusal(
  body: unknown,
  translator = false,
  speechEngine: 'espeak-ng' | 'google-tts' = 'espeak-ng',
): { kind: string; fields: string[] } | null {
  try {
    parseBrief(body, { translator, speechEngine });
    return null;
  } catch (err) {
    if (!(err instanceof HttpProblem)) throw err;
    return { kind: err.kind, fields: (err.extras.errors ?? []).map((e) => `${e.field} ${e.rule}`) };
  }
}

describe('a brief asking for sound and languages', () => {
  it('takes a voice-over in several languages with the words of each, music by asset and a caption style', () => {
    const brief = aBrief({
      voiceOver: true,
      captions: 'word',
      languages: ['en', 'fr-CA'],
      translations: { 'fr-CA': { keyMessage: 'Voici Aurora' } },
      music: { assetId: 'asset_0123456789abcdef01234567' },
    });
    expect(refusal(brief)).toBeNull();
  });

  it('refuses a further language without its words when no translator is configured, naming the field; a translator lifts it', () => {
    const brief = aBrief({ voiceOver: true, languages: ['en', 'de'] });
    expect(refusal(brief)).toEqual({ kind: 'validation', fields: ['/translations/de required'] });
    expect(refusal(brief, true)).toBeNull();
  });

  it('refuses a language it cannot speak or draw, naming it', () => {
    expect(refusal(aBrief({ language: 'ja' }))?.fields).toEqual(['/language supportedLanguage']);
    expect(refusal(aBrief({ languages: ['en', 'ar'] }), true)?.fields).toEqual(['/languages/1 supportedLanguage']);
    expect(refusal(aBrief({ languages: ['el', 'ru'] }), true)).toBeNull();
    // The deployment's engine decides: Croatian has an espeak-ng voice, not a default Google one.
    expect(refusal(aBrief({ language: 'hr' }))).toBeNull();
    expect(refusal(aBrief({ language: 'hr' }), false, 'google-tts')?.fields).toEqual(['/language supportedLanguage']);
  });

  it('refuses words in a script the video font cannot draw, in the brief and in its translations', () => {
    expect(refusal(aBrief({ keyMessage: '走る喜び' }))).toEqual({
      kind: 'validation',
      fields: ['/keyMessage drawableScript'],
    });
    const translated = aBrief({
      languages: ['en', 'fr'],
      scenes: ['Lighter every mile'],
      translations: { fr: { keyMessage: 'Voici Aurora', scenes: ['مرحبا'] } },
    });
    expect(refusal(translated)?.fields).toEqual(['/translations/fr/scenes/0 drawableScript']);
    // Accents, Greek, Cyrillic, digits, punctuation and emoji are drawn (or are not letters).
    expect(refusal(aBrief({ keyMessage: 'Ça marche — Ελλάδα, Россия, 100 % 🚀' }))).toBeNull();
  });

  it('refuses more delivered video than one assembly makes in time (languages × ratios × length), naming the field', () => {
    const four = ['en', 'fr', 'de', 'es'];
    const words = { keyMessage: 'x' };
    const big = aBrief({
      preset: 'brand_campaign',
      durationSeconds: 60,
      aspectRatios: ['16:9', '9:16', '1:1'],
      languages: four,
      translations: { fr: words, de: words, es: words },
    });
    expect(refusal(big)?.fields).toEqual(['/languages deliveredSeconds']);
    // 4 × 2 × 60 s = 480 s: the most one job delivers.
    expect(refusal({ ...big, aspectRatios: ['16:9', '9:16'] })).toBeNull();
  });
});
