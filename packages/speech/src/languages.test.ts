import { execFileSync } from 'node:child_process';
import { engineSpeaks } from './engine-languages';
import { googleVoiceFor } from './google-tts';
import { ESPEAK_REGIONAL_VOICES, ESPEAK_VOICES, SPEECH_LANGUAGES, speechLanguage, unrenderableText } from './languages';

describe('speech languages', () => {
  it('every language we offer has an espeak-ng voice on this machine', () => {
    const listing = execFileSync('espeak-ng', ['--voices'], { encoding: 'utf8' });
    const installed = new Set(
      listing
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/)[1])
        .filter(Boolean),
    );
    for (const base of SPEECH_LANGUAGES) expect([base, installed.has(ESPEAK_VOICES[base]!)]).toEqual([base, true]);
    for (const voice of Object.values(ESPEAK_REGIONAL_VOICES))
      expect([voice, installed.has(voice)]).toEqual([voice, true]);
    for (const base of ['en', 'fr', 'de', 'es', 'it', 'pt', 'nl', 'el', 'ru', 'uk', 'pl', 'tr']) {
      expect(SPEECH_LANGUAGES).toContain(base);
    }
  });

  it('accepts tags of languages in Latin, Greek or Cyrillic script and says why it refuses others', () => {
    expect(speechLanguage('fr-CA')).toEqual({ ok: true, base: 'fr' });
    expect(speechLanguage('de')).toEqual({ ok: true, base: 'de' });
    expect(speechLanguage('el')).toEqual({ ok: true, base: 'el' });
    expect(speechLanguage('ru-RU')).toEqual({ ok: true, base: 'ru' });
    expect(speechLanguage('no')).toEqual({ ok: true, base: 'nb' });
    const refused: Record<string, RegExp> = { ja: /Japanese/, zh: /Chinese/, ar: /Arabic/, hi: /Devanagari/ };
    for (const [tag, script] of Object.entries(refused)) {
      const answer = speechLanguage(tag);
      expect(answer.ok).toBe(false);
      if (!answer.ok) expect(answer.why).toMatch(script);
      if (!answer.ok) expect(answer.why).toMatch(/cannot draw/);
    }
    // A drawable script without a voice, and not a tag at all.
    const noVoice = speechLanguage('haw');
    expect(noVoice.ok === false && noVoice.why).toMatch(/no voice/);
    expect(speechLanguage('sr-Arab').ok).toBe(false);
    expect(speechLanguage('not a tag!').ok).toBe(false);
  });

  it('finds the first letter we cannot draw', () => {
    expect(unrenderableText('Café à 3 € — Ελλάδα, Россия! 🎉 2024 ✓')).toBeUndefined();
    expect(unrenderableText('Sale 50% 東京')).toBe('東');
    expect(unrenderableText('Hello مرحبا')).toBe('م');
    expect(unrenderableText('नमस्ते')).toBe('न');
    expect(unrenderableText('ña\u0301')).toBeUndefined();
  });
});

describe('engineSpeaks', () => {
  it("holds a language to the deployment's engine: espeak-ng's voices, or Google's defaults by region", () => {
    expect(engineSpeaks('espeak-ng', 'hr')).toEqual({ ok: true });
    expect(engineSpeaks('google-tts', 'hr')).toEqual({ ok: false, why: expect.stringMatching(/no voice for "hr"/) });
    expect(engineSpeaks('google-tts', 'ja')).toMatchObject({ ok: false, why: expect.stringMatching(/cannot draw/) });
    expect(engineSpeaks('google-tts', 'fr-CA')).toEqual({ ok: true });
    expect(googleVoiceFor('pt-BR')).toBe('pt-BR-Standard-A');
    expect(googleVoiceFor('pt')).toBe('pt-PT-Standard-A');
    expect(googleVoiceFor('de-AT')).toBe('de-DE-Standard-A');
  });
});
