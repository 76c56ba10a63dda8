import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probe } from '@aiprod/media';
import { espeakEngine } from './espeak';
import { estimatedSpeechSeconds, PHRASE_GAP_SECONDS, splitPhrases } from './phrases';
import { measureSpeech } from '@aiprod/testing';
import { SpeechError } from './types';

const LINES: Record<string, string> = {
  en: 'Fresh coffee, roasted this morning. Delivered to your door before you even wake up!',
  fr: 'Un café frais, torréfié ce matin. Livré chez vous avant même votre réveil !',
  de: 'Frischer Kaffee, heute Morgen geröstet. Geliefert, bevor Sie überhaupt aufwachen!',
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'speech-espeak-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('espeakEngine', () => {
  const engine = espeakEngine();
  const worst: number[] = [];

  it.each(Object.keys(LINES))(
    'speaks %s: real, loud speech whose phrase starts match the measured onsets',
    async (lang) => {
      const outFile = join(dir, `${lang}.wav`);
      const line = await engine.speak(LINES[lang]!, { language: lang, outFile, timeoutMs: 30_000 });
      expect(line).toMatchObject({ file: outFile, timing: 'measured', engine: 'espeak-ng', language: lang });
      expect(line.phrases.map((p) => p.text)).toEqual(splitPhrases(LINES[lang]!));
      expect(line.phrases.length).toBeGreaterThanOrEqual(2);

      const probed = await probe(outFile);
      expect(probed.audio).toEqual({ codec: 'pcm_s16le', sampleRate: 48_000, channels: 1 });
      expect(line.durationSeconds).toBeCloseTo(probed.durationSeconds, 3);
      // Speech fills the file: it starts and ends within 20 ms of its edges.
      expect(line.phrases[0]!.startSeconds).toBeLessThan(0.02);
      expect(line.durationSeconds - line.phrases.at(-1)!.endSeconds).toBeLessThan(0.02);

      const measured = await measureSpeech(outFile);
      expect(measured.integratedLufs).toBeGreaterThan(-30);
      // silencedetect hears the pauses between phrases: at least one onset per phrase.
      expect(measured.onsets.length).toBeGreaterThanOrEqual(line.phrases.length);
      for (const [i, phrase] of line.phrases.entries()) {
        const nearest = Math.min(...measured.onsets.map((o) => Math.abs(o - phrase.startSeconds)));
        worst.push(nearest);
        expect(nearest).toBeLessThan(0.05);
        // Ordered, separated by the pause, words inside the phrase.
        if (i > 0)
          expect(phrase.startSeconds - line.phrases[i - 1]!.endSeconds).toBeGreaterThanOrEqual(PHRASE_GAP_SECONDS);
        expect(phrase.words.map((w) => w.text).join(' ')).toBe(phrase.text);
        expect(phrase.words[0]!.startSeconds).toBeCloseTo(phrase.startSeconds, 6);
        expect(phrase.words.at(-1)!.endSeconds).toBeCloseTo(phrase.endSeconds, 6);
      }
      // The rate table is about right for this engine (it sizes lines before they are spoken).
      const estimate = estimatedSpeechSeconds(LINES[lang]!, lang);
      expect(line.durationSeconds / estimate).toBeGreaterThan(0.65);
      expect(line.durationSeconds / estimate).toBeLessThan(1.35);
    },
  );

  afterAll(() => {
    process.stdout.write(
      `espeak onset accuracy: max |phrase start − measured onset| = ${(Math.max(...worst) * 1000).toFixed(1)} ms\n`,
    );
  });

  it('takes a fraction of a second for a 10-word line', async () => {
    const started = performance.now();
    const line = await engine.speak('Our new blend tastes great with milk or without it.', {
      language: 'en-GB',
      outFile: join(dir, 'ten.wav'),
      timeoutMs: 30_000,
    });
    const ms = performance.now() - started;
    process.stdout.write(
      `espeak 10-word line: ${ms.toFixed(0)} ms for ${line.durationSeconds.toFixed(2)} s of speech\n`,
    );
    expect(line.voice).toBe('en-gb');
    expect(ms).toBeLessThan(5000);
  });

  it('refuses empty text and languages without a voice, and honours the timeout and signal', async () => {
    const outFile = join(dir, 'x.wav');
    await expect(engine.speak(' \n ', { language: 'en', outFile, timeoutMs: 5000 })).rejects.toMatchObject({
      kind: 'invalid',
    });
    await expect(engine.speak('こんにちは', { language: 'ja', outFile, timeoutMs: 5000 })).rejects.toMatchObject({
      kind: 'invalid',
      message: expect.stringMatching(/Japanese/),
    });
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      engine.speak('Hello.', { language: 'en', outFile, timeoutMs: 5000, signal: aborted.signal }),
    ).rejects.toMatchObject({
      kind: 'retryable',
    });
    await expect(
      espeakEngine({ binary: 'no-such-espeak' }).speak('Hello.', { language: 'en', outFile, timeoutMs: 5000 }),
    ).rejects.toBeInstanceOf(SpeechError);
    expect(engine.voiceFor('fr-CA')).toBe('fr-fr');
    expect(engine.voiceFor('pt-BR')).toBe('pt-br');
    expect(engine.voiceFor('ar')).toBeUndefined();
  });
});
