import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clipGoogleText, describeGoogleError, redactGoogleText, retryAfterMs, retryInfoMs } from '@aiprod/google-ai';
import { Deadline, decodePcm, SAMPLE_RATE, trimSilence, writeWav } from './audio';
import { speechLanguage } from './languages';
import { PHRASE_GAP_SECONDS, splitPhrases } from './phrases';
import { SpeechError, type SpeechEngine, type SpokenLine, type SpokenPhrase, type WordTiming } from './types';

export interface GoogleTtsOptions {
  /** Default https://texttospeech.googleapis.com (a protocol test server's URL in tests). */
  baseUrl?: string;
  /** Auth headers for each request: `x-goog-api-key`, or `authorization: Bearer …` (a fresh token). */
  headers: () => Promise<Record<string, string>>;
  /** Voice name per language tag or base language, overriding DEFAULT_GOOGLE_VOICES. */
  voices?: Record<string, string>;
  fetch?: typeof fetch;
  /** Bound on one HTTP request (default 60 s), inside the call's own timeoutMs. */
  requestTimeoutMs?: number;
}

/**
 * Default voices: the Standard-A voice of each language's main locale, which exists for every
 * language below and, unlike the Chirp voices, honours SSML `<mark>` (we need its timepoints).
 * Deployments choose better voices with `voices`.
 */
export const DEFAULT_GOOGLE_VOICES: Readonly<Record<string, string>> = {
  en: 'en-US-Standard-A',
  fr: 'fr-FR-Standard-A',
  de: 'de-DE-Standard-A',
  es: 'es-ES-Standard-A',
  it: 'it-IT-Standard-A',
  pt: 'pt-PT-Standard-A',
  nl: 'nl-NL-Standard-A',
  sv: 'sv-SE-Standard-A',
  da: 'da-DK-Standard-A',
  nb: 'nb-NO-Standard-A',
  fi: 'fi-FI-Standard-A',
  pl: 'pl-PL-Standard-A',
  cs: 'cs-CZ-Standard-A',
  sk: 'sk-SK-Standard-A',
  ro: 'ro-RO-Standard-A',
  hu: 'hu-HU-Standard-A',
  tr: 'tr-TR-Standard-A',
  el: 'el-GR-Standard-A',
  ru: 'ru-RU-Standard-A',
  uk: 'uk-UA-Standard-A',
  bg: 'bg-BG-Standard-A',
  sr: 'sr-RS-Standard-A',
  lv: 'lv-LV-Standard-A',
  lt: 'lt-LT-Standard-A',
  ca: 'ca-ES-Standard-A',
  id: 'id-ID-Standard-A',
  ms: 'ms-MY-Standard-A',
  is: 'is-IS-Standard-A',
  // Regional voices, chosen for a tag that names the region (pt-BR is not pt-PT).
  'en-GB': 'en-GB-Standard-A',
  'en-AU': 'en-AU-Standard-A',
  'fr-CA': 'fr-CA-Standard-A',
  'pt-BR': 'pt-BR-Standard-A',
  'es-US': 'es-US-Standard-A',
};

const escapeSsml = (text: string) =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/**
 * The SSML of a line: a `<mark name="w<i>"/>` before each word (numbered across the line), an
 * `<mark name="e<j>"/>` after each phrase's last word (where it ends), and a pause between phrases.
 */
export function lineSsml(phrases: string[]): string {
  let w = 0;
  const parts = phrases.map((phrase, j) => {
    const words = phrase.split(' ').map((word) => `<mark name="w${w++}"/>${escapeSsml(word)}`);
    return `${words.join(' ')}<mark name="e${j}"/>`;
  });
  return `<speak>${parts.join(`<break time="${Math.round(PHRASE_GAP_SECONDS * 1000)}ms"/>`)}</speak>`;
}

/** How a Google status is handled: the API's own guide to retrying (429 and 5xx are transient). */
function classifyStatus(status: number): 'retryable' | 'permanent' {
  if (status === 408 || status === 429 || status >= 500) return 'retryable';
  // 400 INVALID_ARGUMENT (bad voice, bad SSML), 401/403 (credentials, API not enabled, no
  // permission), 404 (no such method or voice): the same request fails the same way again.
  return 'permanent';
}

interface GoogleErrorBody {
  error?: { code?: unknown; status?: unknown; message?: unknown; details?: unknown };
}

/** Replaces the credentials we sent wherever they appear (a vendor may quote them back). */
function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join('[REDACTED]');
  return redactGoogleText(out);
}

async function httpError(res: Response, voice: string, secrets: string[]): Promise<SpeechError> {
  const text = await res.text().catch(() => '');
  let body: GoogleErrorBody = {};
  try {
    body = JSON.parse(text) as GoogleErrorBody;
  } catch {
    body = {};
  }
  const status = typeof body.error?.status === 'string' && /^[A-Z_]+$/.test(body.error.status) ? body.error.status : '';
  const message = scrub(typeof body.error?.message === 'string' ? body.error.message : text, secrets);
  const waitMs = retryInfoMs(body.error?.details) ?? retryAfterMs(res.headers.get('retry-after'));
  const kind = classifyStatus(res.status);
  return new SpeechError(
    `Google Text-to-Speech (${voice}) answered ${res.status}${status ? ` ${status}` : ''}: ${clipGoogleText(message)}`,
    kind,
    kind === 'retryable' && waitMs !== undefined ? { retryAfterSeconds: waitMs / 1000 } : {},
  );
}

interface SynthesizeResponse {
  audioContent?: unknown;
  timepoints?: unknown;
}

/** Google Cloud Text-to-Speech (REST v1beta1 text:synthesize, the version with timepoints). */
export function googleTtsEngine(options: GoogleTtsOptions): SpeechEngine {
  const baseUrl = (options.baseUrl ?? 'https://texttospeech.googleapis.com').replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;

  const voiceFor = (tag: string): string | undefined => {
    const checked = speechLanguage(tag);
    if (!checked.ok) return undefined;
    const exact = options.voices?.[tag] ?? options.voices?.[tag.toLowerCase()];
    return exact ?? options.voices?.[checked.base] ?? googleVoiceFor(tag);
  };

  return {
    name: 'google-tts',
    voiceFor,
    async speak(text, opts): Promise<SpokenLine> {
      const phrases = splitPhrases(text);
      if (!phrases.length) throw new SpeechError('nothing to say: the text is empty', 'invalid');
      const checked = speechLanguage(opts.language);
      const voice = voiceFor(opts.language);
      if (!checked.ok || !voice) {
        throw new SpeechError(checked.ok ? `no Google voice configured for ${opts.language}` : checked.why, 'invalid');
      }
      const deadline = new Deadline(opts.timeoutMs, opts.signal);
      // The voice's locale is its name's first two parts (`fr-FR-Standard-A` → `fr-FR`).
      const languageCode = voice.split('-').slice(0, 2).join('-');
      const request = {
        input: { ssml: lineSsml(phrases) },
        voice: { languageCode, name: voice },
        audioConfig: { audioEncoding: 'LINEAR16', sampleRateHertz: SAMPLE_RATE },
        enableTimePointing: ['SSML_MARK'],
      };

      const timeout = AbortSignal.timeout(Math.min(requestTimeoutMs, deadline.remainingMs('Google Text-to-Speech')));
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      let res: Response;
      let payload: SynthesizeResponse;
      let secrets: string[] = [];
      try {
        const auth = await options.headers();
        // The header values and a bearer token alone: never in a message, whatever the vendor echoes.
        secrets = Object.values(auth).flatMap((v) => [v, v.replace(/^Bearer\s+/i, '')]);
        res = await doFetch(`${baseUrl}/v1beta1/text:synthesize`, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', ...auth },
          body: JSON.stringify(request),
          signal,
        });
        if (!res.ok) throw await httpError(res, voice, secrets);
        payload = (await res.json()) as SynthesizeResponse;
      } catch (err) {
        if (err instanceof SpeechError) throw err;
        const why = opts.signal?.aborted ? 'aborted' : timeout.aborted ? 'timed out' : describeGoogleError(err);
        // A network failure, a timeout or a cut answer: the next try may well work.
        throw new SpeechError(`Google Text-to-Speech (${voice}): ${scrub(why, secrets)}`, 'retryable', { cause: err });
      }
      if (typeof payload.audioContent !== 'string' || !payload.audioContent) {
        throw new SpeechError(`Google Text-to-Speech (${voice}) answered without audioContent`, 'retryable');
      }
      const marks = new Map<string, number>();
      for (const tp of Array.isArray(payload.timepoints) ? (payload.timepoints as unknown[]) : []) {
        const { markName, timeSeconds } = (tp ?? {}) as { markName?: unknown; timeSeconds?: unknown };
        // proto3 JSON leaves out a zero: a mark at the very start has no timeSeconds.
        const at = timeSeconds === undefined ? 0 : Number(timeSeconds);
        if (typeof markName === 'string' && Number.isFinite(at)) marks.set(markName, at);
      }

      const scratch = await mkdtemp(join(tmpdir(), 'aiprod-speech-'));
      try {
        const answer = join(scratch, 'answer.wav');
        await writeFile(answer, Buffer.from(payload.audioContent, 'base64'));
        const trimmed = trimSilence(await decodePcm(answer, join(scratch, 'answer.pcm'), deadline));
        if (!trimmed) throw new SpeechError(`Google Text-to-Speech (${voice}) returned silence`, 'retryable');
        const duration = trimmed.pcm.length / SAMPLE_RATE;
        // Engine times count from the start of the audio it sent; we cut its leading silence.
        const at = (name: string): number | undefined => {
          const t = marks.get(name);
          return t === undefined ? undefined : Math.min(duration, Math.max(trimmed.soundStart, t - trimmed.cutSeconds));
        };

        const spoken: SpokenPhrase[] = [];
        let w = 0;
        for (const [j, phrase] of phrases.entries()) {
          const texts = phrase.split(' ');
          const starts = texts.map((_, k) => at(`w${w + k}`));
          w += texts.length;
          const missing = starts.findIndex((s) => s === undefined);
          if (missing >= 0) {
            // Voices without SSML mark support answer without timepoints; every call would.
            throw new SpeechError(
              `Google Text-to-Speech (${voice}) gave no timepoint for a word of phrase ${j + 1}: does the voice support SSML marks?`,
              'permanent',
            );
          }
          const end =
            j === phrases.length - 1
              ? Math.min(at(`e${j}`) ?? duration, trimmed.soundEnd)
              : (at(`e${j}`) ?? starts.at(-1)!);
          const words: WordTiming[] = texts.map((word, k) => ({
            text: word,
            startSeconds: starts[k]!,
            endSeconds: Math.max(starts[k]!, k + 1 < texts.length ? starts[k + 1]! : end),
          }));
          spoken.push({ text: phrase, startSeconds: starts[0]!, endSeconds: Math.max(starts[0]!, end), words });
        }
        const durationSeconds = await writeWav(opts.outFile, [trimmed.pcm], deadline);
        return {
          file: opts.outFile,
          durationSeconds,
          phrases: spoken,
          timing: 'engine',
          engine: 'google-tts',
          voice,
          language: opts.language,
        };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}

/** The default Google voice for a tag: its region's when there is one, else its base language's. */
export function googleVoiceFor(tag: string): string | undefined {
  const checked = speechLanguage(tag);
  if (!checked.ok) return undefined;
  const loc = new Intl.Locale(tag);
  const regional = loc.region ? DEFAULT_GOOGLE_VOICES[`${checked.base}-${loc.region}`] : undefined;
  return regional ?? DEFAULT_GOOGLE_VOICES[checked.base];
}
