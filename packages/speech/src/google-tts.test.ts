import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probe } from '@aiprod/media';
import { measureSpeech, startTtsServer, type TtsServer } from '@aiprod/testing';
import { googleTtsEngine, lineSsml } from './google-tts';
import { splitPhrases } from './phrases';
import { SpeechError } from './types';

/** Shaped like a real key (AIza + 35 characters). */
const API_KEY = 'AIzaSyTESTtestTESTtestTESTtestTESTt12';

let server: TtsServer;
let dir: string;
beforeAll(async () => {
  server = await startTtsServer({ credential: API_KEY });
  dir = await mkdtemp(join(tmpdir(), 'speech-google-test-'));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => server.clearReceived());

const engine = (extra: Partial<Parameters<typeof googleTtsEngine>[0]> = {}) =>
  googleTtsEngine({ baseUrl: server.url, headers: async () => ({ 'x-goog-api-key': API_KEY }), ...extra });

describe('googleTtsEngine against the Text-to-Speech protocol test server', () => {
  const worst: number[] = [];
  afterAll(() => {
    process.stdout.write(
      `google-tts onset accuracy: max |phrase start − measured onset| = ${(Math.max(...worst) * 1000).toFixed(1)} ms\n`,
    );
  });
  it.each([
    ['en', 'Fresh coffee, roasted this morning. Delivered to your door!'],
    ['fr', 'Un café frais, torréfié ce matin. Livré chez vous !'],
    ['de', 'Frischer Kaffee, heute geröstet. Direkt zu Ihnen!'],
  ])('speaks %s with word times from the marks, matching the measured onsets', async (lang, text) => {
    const outFile = join(dir, `g-${lang}.wav`);
    const line = await engine().speak(text, { language: lang, outFile, timeoutMs: 30_000 });
    expect(line).toMatchObject({
      timing: 'engine',
      engine: 'google-tts',
      voice: expect.stringMatching(/-Standard-A$/),
    });

    const [request] = server.received();
    expect(request!.body).toEqual({
      input: { ssml: lineSsml(splitPhrases(text)) },
      voice: { languageCode: line.voice.slice(0, 5), name: line.voice },
      audioConfig: { audioEncoding: 'LINEAR16', sampleRateHertz: 48000 },
      enableTimePointing: ['SSML_MARK'],
    });
    expect(request!.status).toBe(200);

    const probed = await probe(outFile);
    expect(probed.audio).toEqual({ codec: 'pcm_s16le', sampleRate: 48_000, channels: 1 });
    expect(line.durationSeconds).toBeCloseTo(probed.durationSeconds, 3);
    // The server's 50 ms of leading silence is cut and the times shifted with it.
    expect(line.phrases[0]!.startSeconds).toBeLessThan(0.02);
    expect(line.durationSeconds - line.phrases.at(-1)!.endSeconds).toBeLessThan(0.02);

    const measured = await measureSpeech(outFile);
    expect(measured.integratedLufs).toBeGreaterThan(-30);
    for (const phrase of line.phrases) {
      const nearest = Math.min(...measured.onsets.map((o) => Math.abs(o - phrase.startSeconds)));
      worst.push(nearest);
      expect(nearest).toBeLessThan(0.05);
      expect(phrase.words.map((w) => w.text).join(' ')).toBe(phrase.text);
      for (const [k, w] of phrase.words.entries()) {
        // A lone "!" says nothing: zero length, but never backwards.
        expect(w.endSeconds).toBeGreaterThanOrEqual(w.startSeconds);
        if (k > 0) expect(w.startSeconds).toBeGreaterThanOrEqual(phrase.words[k - 1]!.endSeconds);
      }
    }
  });

  it('escapes the text in SSML so markup in a line is spoken, not obeyed', async () => {
    expect(lineSsml(['Tom & Jerry <3', 'say "hi"'])).toBe(
      '<speak><mark name="w0"/>Tom <mark name="w1"/>&amp; <mark name="w2"/>Jerry <mark name="w3"/>&lt;3<mark name="e0"/><break time="150ms"/><mark name="w4"/>say <mark name="w5"/>&quot;hi&quot;<mark name="e1"/></speak>',
    );
    const line = await engine().speak('Tom & Jerry <3 you.', {
      language: 'en',
      outFile: join(dir, 'esc.wav'),
      timeoutMs: 30_000,
    });
    expect(line.phrases[0]!.words.map((w) => w.text)).toEqual(['Tom', '&', 'Jerry', '<3', 'you.']);
  });

  it('classifies errors: 429 and 503 retryable with the asked delay, 400/403 permanent, no secret in messages', async () => {
    const outFile = join(dir, 'err.wav');
    const speak = (e = engine(), language = 'en') => e.speak('Hello there.', { language, outFile, timeoutMs: 30_000 });

    server.enqueueFault({ status: 429, retryAfterSeconds: 7 });
    const limited = await speak().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(SpeechError);
    expect(limited).toMatchObject({ kind: 'retryable', retryAfterSeconds: 7 });
    expect((limited as Error).message).toMatch(/429 RESOURCE_EXHAUSTED/);

    server.enqueueFault({ status: 503 });
    await expect(speak()).rejects.toMatchObject({ kind: 'retryable', message: expect.stringMatching(/503/) });

    // The server's message quotes the key back: it must not reach ours.
    server.enqueueFault({ status: 400, message: `API key ${API_KEY} not valid for voice` });
    const bad = (await speak().catch((e: unknown) => e)) as SpeechError;
    expect(bad.kind).toBe('permanent');
    expect(bad.message).not.toContain(API_KEY);

    // A voice the API does not have: its real 400 INVALID_ARGUMENT.
    await expect(speak(engine({ voices: { en: 'en-US-Imaginary-Z' } }))).rejects.toMatchObject({
      kind: 'permanent',
      message: expect.stringMatching(/400 INVALID_ARGUMENT.*does not exist/),
    });

    const wrongKey = googleTtsEngine({
      baseUrl: server.url,
      headers: async () => ({ 'x-goog-api-key': 'AIzaSyWRONGwrongWRONGwrongWRONGwrong123' }),
    });
    const denied = (await speak(wrongKey).catch((e: unknown) => e)) as SpeechError;
    expect(denied.kind).toBe('permanent');
    expect(denied.message).toMatch(/403/);
    expect(denied.message).not.toMatch(/AIza/);

    // A credential of no known shape is still kept out of messages: the engine scrubs what it sent.
    const odd = 'plain-secret-0123456789';
    server.enqueueFault({ status: 400, message: `key ${odd} rejected` });
    const scrubbed = (await speak(
      googleTtsEngine({ baseUrl: server.url, headers: async () => ({ 'x-goog-api-key': odd }) }),
    ).catch((e: unknown) => e)) as SpeechError;
    expect(scrubbed.message).toMatch(/400/);
    expect(scrubbed.message).not.toContain(odd);

    // A request slower than its bound: retryable, and the token is in no message.
    server.enqueueFault({ delayMs: 2000 });
    const token = 'ya29.a0secret-token-value';
    const slow = googleTtsEngine({
      baseUrl: server.url,
      requestTimeoutMs: 200,
      headers: async () => ({ authorization: `Bearer ${token}` }),
    });
    const timedOut = (await speak(slow).catch((e: unknown) => e)) as SpeechError;
    expect(timedOut.kind).toBe('retryable');
    expect(timedOut.message).toMatch(/timed out/);
    expect(timedOut.message).not.toContain(token);

    await expect(speak(engine(), 'ja')).rejects.toMatchObject({ kind: 'invalid' });
    await expect(engine().speak('  ', { language: 'en', outFile, timeoutMs: 1000 })).rejects.toMatchObject({
      kind: 'invalid',
    });
  });

  it('the test server refuses requests the real API refuses', async () => {
    const post = (body: unknown, headers: Record<string, string> = { 'x-goog-api-key': API_KEY }) =>
      fetch(`${server.url}/v1beta1/text:synthesize`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const good = {
      input: { ssml: '<speak><mark name="a"/>Hello</speak>' },
      voice: { languageCode: 'en-US', name: 'en-US-Standard-A' },
      audioConfig: { audioEncoding: 'LINEAR16', sampleRateHertz: 48000 },
      enableTimePointing: ['SSML_MARK'],
    };
    const noAuth = await post(good, {});
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
    for (const body of [
      { ...good, speed: 2 },
      { ...good, input: {} },
      { ...good, voice: { languageCode: 'fr-FR', name: 'en-US-Standard-A' } },
      { ...good, audioConfig: { sampleRateHertz: 48000 } },
    ]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.any(String) },
      });
    }
    const ok = await post(good);
    expect(ok.status).toBe(200);
    const answer = (await ok.json()) as {
      audioContent: string;
      timepoints: { markName: string; timeSeconds: number }[];
    };
    expect(answer.timepoints).toEqual([{ markName: 'a', timeSeconds: expect.closeTo(0.05, 3) }]);
    expect(Buffer.from(answer.audioContent, 'base64').toString('ascii', 0, 4)).toBe('RIFF');
  });
});
