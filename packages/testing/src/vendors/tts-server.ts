import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { runFfmpeg } from '@aiprod/media';
import { googleErrorBody } from '../google-errors';
import {
  FaultQueues,
  ReceivedLog,
  startVendorHttp,
  type HttpFault,
  type ReceivedRequest,
  type VendorRequest,
} from './common';

/**
 * A local stand-in for Google Cloud Text-to-Speech, REST v1beta1:
 *
 *   POST {base}/v1beta1/text:synthesize
 *        { input: { text | ssml }, voice: { languageCode, name?, ssmlGender? },
 *          audioConfig: { audioEncoding, sampleRateHertz?, speakingRate?, pitch?, volumeGainDb?, effectsProfileId? },
 *          enableTimePointing?: ['SSML_MARK'] }
 *     → { audioContent: base64 WAV (LINEAR16), timepoints: [{ markName, timeSeconds }], audioConfig }
 *
 * The audio is REAL speech: espeak-ng says each word between marks, the words are joined (with
 * `<break>` pauses as silence), and each mark's time is where the following word's sound starts.
 * Requests are checked as strictly as the API does: an API key (`x-goog-api-key`) or bearer token
 * is required (401 UNAUTHENTICATED), and unknown fields, a missing input, an unknown voice or a
 * voice of another language are 400 INVALID_ARGUMENT in Google's error shape. Faults (429 with
 * Retry-After and RetryInfo, 503, delays, dropped connections) are scripted with `enqueueFault`.
 *
 *   GET | DELETE /__received   → the synthesize requests received (loopback only), or clears it
 */

export interface TtsServer {
  url: string;
  /** The next synthesize requests get these answers instead, in order. */
  enqueueFault(fault: HttpFault, times?: number): void;
  received(): ReceivedRequest[];
  clearReceived(): void;
  /** Every request, including refused ones, with its headers (to check what auth was sent). */
  readonly requests: VendorRequest[];
  close(): Promise<void>;
}

export interface TtsServerOptions {
  /** When set, only this API key (or bearer token) is accepted; otherwise any non-empty one. */
  credential?: string;
  /** Bound on one espeak-ng or ffmpeg run (default 30 s). */
  synthTimeoutMs?: number;
}

/** Voice names this server knows: `<locale>-Standard-A`…`-D` and `-Wavenet-A`…`-D` for these locales. */
const LOCALES = [
  'en-US',
  'en-GB',
  'fr-FR',
  'fr-CA',
  'de-DE',
  'es-ES',
  'it-IT',
  'pt-PT',
  'pt-BR',
  'nl-NL',
  'sv-SE',
  'da-DK',
  'nb-NO',
  'fi-FI',
  'pl-PL',
  'cs-CZ',
  'sk-SK',
  'ro-RO',
  'hu-HU',
  'tr-TR',
  'el-GR',
  'ru-RU',
  'uk-UA',
  'bg-BG',
  'sr-RS',
  'lv-LV',
  'lt-LT',
  'ca-ES',
  'id-ID',
  'ms-MY',
  'is-IS',
];
const VOICE_NAME = /^([a-z]{2,3}-[A-Z]{2})-(Standard|Wavenet)-[A-D]$/;
/** espeak-ng voices for the locales above where the base language's own is not the right one. */
const ESPEAK_BY_LOCALE: Record<string, string> = {
  'en-US': 'en-us',
  'en-GB': 'en-gb',
  'pt-BR': 'pt-br',
  'fr-FR': 'fr-fr',
};

const TOP_FIELDS = new Set(['input', 'voice', 'audioConfig', 'enableTimePointing', 'advancedVoiceOptions']);
const INPUT_FIELDS = new Set(['text', 'ssml', 'markup', 'multiSpeakerMarkup', 'customPronunciations']);
const VOICE_FIELDS = new Set(['languageCode', 'name', 'ssmlGender', 'customVoice', 'voiceClone', 'modelName']);
const AUDIO_FIELDS = new Set([
  'audioEncoding',
  'speakingRate',
  'pitch',
  'volumeGainDb',
  'sampleRateHertz',
  'effectsProfileId',
]);
const ENCODINGS = new Set(['LINEAR16', 'MP3', 'OGG_OPUS', 'MULAW', 'ALAW', 'PCM', 'M4A']);
const ESPEAK_RATE = 22050;
/** −50 dBFS, as the client's trimming. */
const THRESHOLD = Math.round(32768 * 10 ** (-50 / 20));

type Token = { mark: string } | { breakSeconds: number } | { text: string };

const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

/** The marks, breaks and text of an SSML document, or a reason it is not one we read. */
function parseSsml(ssml: string): Token[] | string {
  const body = /^\s*<speak(?:\s[^>]*)?>([\s\S]*)<\/speak>\s*$/.exec(ssml);
  if (!body) return 'Invalid SSML: the document must be a <speak> element.';
  const tokens: Token[] = [];
  const tag = /<(\/?)([a-z:]+)((?:\s+[a-zA-Z]+="[^"]*")*)\s*(\/?)>/g;
  let last = 0;
  const between: string[] = [];
  for (let m = tag.exec(body[1]!); m; m = tag.exec(body[1]!)) {
    between.push(body[1]!.slice(last, m.index));
    const text = unescapeXml(body[1]!.slice(last, m.index));
    if (text.trim()) tokens.push({ text: text.trim() });
    last = m.index + m[0].length;
    const attrs = Object.fromEntries([...m[3]!.matchAll(/([a-zA-Z]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
    if (m[2] === 'mark') {
      if (!attrs.name) return 'Invalid SSML: <mark> needs a name.';
      tokens.push({ mark: attrs.name });
    } else if (m[2] === 'break') {
      const time = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(attrs.time ?? '');
      tokens.push({ breakSeconds: time ? Number(time[1]) / (time[2] === 'ms' ? 1000 : 1) : 0.5 });
    } else if (!['p', 's', 'sub', 'emphasis', 'prosody', 'say-as'].includes(m[2]!)) {
      return `Invalid SSML: unsupported element <${m[2]}>.`;
    }
  }
  between.push(body[1]!.slice(last));
  const rest = unescapeXml(body[1]!.slice(last));
  if (rest.trim()) tokens.push({ text: rest.trim() });
  // A `<` or `>` outside a tag is markup gone wrong (text must escape them).
  if (between.some((raw) => /[<>]/.test(raw))) return 'Invalid SSML: malformed markup.';
  return tokens;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What is wrong with a request body, in the API's words, or undefined. */
function invalidRequest(body: unknown): string | undefined {
  if (!isObject(body)) return 'Invalid JSON payload received.';
  for (const key of Object.keys(body)) {
    if (!TOP_FIELDS.has(key)) return `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`;
  }
  const { input, voice, audioConfig, enableTimePointing } = body;
  if (!isObject(input)) return 'Input is required.';
  for (const key of Object.keys(input)) {
    if (!INPUT_FIELDS.has(key))
      return `Invalid JSON payload received. Unknown name "${key}" at 'input': Cannot find field.`;
  }
  if ((typeof input.text === 'string') === (typeof input.ssml === 'string'))
    return 'Exactly one of input.text or input.ssml is required.';
  if (!isObject(voice)) return 'Voice is required.';
  for (const key of Object.keys(voice)) {
    if (!VOICE_FIELDS.has(key))
      return `Invalid JSON payload received. Unknown name "${key}" at 'voice': Cannot find field.`;
  }
  if (typeof voice.languageCode !== 'string' || !voice.languageCode) return 'Voice language code is required.';
  if (voice.name !== undefined) {
    const match = typeof voice.name === 'string' ? VOICE_NAME.exec(voice.name) : null;
    if (!match || !LOCALES.includes(match[1]!)) return `Voice '${String(voice.name)}' does not exist.`;
    if (match[1]!.toLowerCase() !== voice.languageCode.toLowerCase()) {
      return `Requested language code '${voice.languageCode}' doesn't match the voice '${voice.name}'s language code '${match[1]}'.`;
    }
  } else if (!LOCALES.some((l) => l.toLowerCase() === String(voice.languageCode).toLowerCase())) {
    return `Unsupported language code '${voice.languageCode}'.`;
  }
  if (!isObject(audioConfig)) return 'AudioConfig is required.';
  for (const key of Object.keys(audioConfig)) {
    if (!AUDIO_FIELDS.has(key))
      return `Invalid JSON payload received. Unknown name "${key}" at 'audio_config': Cannot find field.`;
  }
  if (typeof audioConfig.audioEncoding !== 'string' || !ENCODINGS.has(audioConfig.audioEncoding)) {
    return 'AudioConfig.audio_encoding is required and must be a known encoding.';
  }
  if (audioConfig.audioEncoding !== 'LINEAR16') return 'This test server answers LINEAR16 only.';
  const rate = audioConfig.sampleRateHertz;
  if (rate !== undefined && !(Number.isInteger(rate) && (rate as number) >= 8000 && (rate as number) <= 48000)) {
    return 'AudioConfig.sample_rate_hertz must be between 8000 and 48000.';
  }
  if (enableTimePointing !== undefined) {
    if (
      !Array.isArray(enableTimePointing) ||
      !enableTimePointing.every((t) => t === 'SSML_MARK' || t === 'TIMEPOINT_TYPE_UNSPECIFIED')
    ) {
      return "Invalid value at 'enable_time_pointing'.";
    }
  }
  return undefined;
}

function runEspeakToFile(voice: string, text: string, out: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('espeak-ng', ['-v', voice, '-w', out, '--', text], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`espeak-ng exited with ${code}`));
    });
  });
}

/** The PCM of an espeak-ng WAV (mono s16le at 22050 Hz), from its `data` chunk. */
function wavSamples(wav: Buffer): Int16Array {
  let at = 12;
  while (at + 8 <= wav.length) {
    const id = wav.toString('ascii', at, at + 4);
    const size = wav.readUInt32LE(at + 4);
    if (id === 'data') {
      // espeak-ng writing to a file leaves the size at its placeholder (0x7ffff000): take the rest.
      const end = Math.min(wav.length, at + 8 + size);
      const data = new Uint8Array(end - at - 8 - ((end - at - 8) % 2));
      data.set(wav.subarray(at + 8, at + 8 + data.length));
      return new Int16Array(data.buffer);
    }
    at += 8 + size + (size % 2);
  }
  return new Int16Array(0);
}

/** The word's sound with 10 ms either side, so that joined words sound like one stream. */
function trimmed(pcm: Int16Array): Int16Array {
  let first = 0;
  while (first < pcm.length && Math.abs(pcm[first]!) <= THRESHOLD) first++;
  let last = pcm.length - 1;
  while (last > first && Math.abs(pcm[last]!) <= THRESHOLD) last--;
  if (first >= pcm.length) return new Int16Array(0);
  const pad = Math.round(0.01 * ESPEAK_RATE);
  return pcm.subarray(Math.max(0, first - pad), Math.min(pcm.length, last + 1 + pad));
}

/** Starts the server on 127.0.0.1 and a free port. */
export async function startTtsServer(options: TtsServerOptions = {}): Promise<TtsServer> {
  const received = new ReceivedLog();
  const faults = new FaultQueues<'create'>();
  const scratch = await mkdtemp(join(tmpdir(), 'aiprod-tts-server-'));
  const timeoutMs = options.synthTimeoutMs ?? 30_000;
  let counter = 0;

  const synthesize = async (voiceLocale: string, tokens: Token[], sampleRate: number) => {
    const espeakVoice = ESPEAK_BY_LOCALE[voiceLocale] ?? voiceLocale.split('-')[0]!.toLowerCase();
    const parts: Int16Array[] = [];
    const timepoints: { markName: string; timeSeconds: number }[] = [];
    let samples = 0;
    const id = ++counter;
    for (const [i, token] of tokens.entries()) {
      if ('mark' in token) timepoints.push({ markName: token.mark, timeSeconds: samples / ESPEAK_RATE });
      else if ('breakSeconds' in token) {
        const gap = new Int16Array(Math.round(token.breakSeconds * ESPEAK_RATE));
        parts.push(gap);
        samples += gap.length;
      } else {
        const file = join(scratch, `${id}-${i}.wav`);
        await runEspeakToFile(espeakVoice, token.text, file, timeoutMs);
        const word = trimmed(wavSamples(await readFile(file)));
        await rm(file, { force: true });
        parts.push(word);
        samples += word.length;
      }
    }
    // Some leading and trailing silence, as the real service sends.
    const lead = new Int16Array(Math.round(0.05 * ESPEAK_RATE));
    const raw = join(scratch, `${id}.pcm`);
    const out = join(scratch, `${id}.wav`);
    const all = [lead, ...parts, lead];
    await writeFile(raw, Buffer.concat(all.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    await runFfmpeg(
      [
        '-v',
        'error',
        '-f',
        's16le',
        '-ar',
        String(ESPEAK_RATE),
        '-ac',
        '1',
        '-i',
        raw,
        '-ar',
        String(sampleRate),
        '-c:a',
        'pcm_s16le',
        '-y',
        out,
      ],
      { timeoutMs, operation: 'tts_test_server' },
    );
    const wav = await readFile(out);
    await Promise.all([rm(raw, { force: true }), rm(out, { force: true })]);
    const shift = lead.length / ESPEAK_RATE;
    return {
      audioContent: wav.toString('base64'),
      // proto3 JSON: a zero double is left out, as the real API does.
      timepoints: timepoints.map((t) =>
        t.timeSeconds + shift === 0
          ? { markName: t.markName }
          : { markName: t.markName, timeSeconds: t.timeSeconds + shift },
      ),
    };
  };

  const refuse = (
    http: { sendJson: (res: ServerResponse, status: number, payload: unknown) => void },
    res: ServerResponse,
    status: number,
    message: string,
  ) => http.sendJson(res, status, googleErrorBody(status, message));

  const http = await startVendorHttp({
    vendor: 'Text-to-Speech',
    received,
    operationOf: (method, path) => (method === 'POST' && path === '/v1beta1/text:synthesize' ? 'create' : 'unrouted'),
    errorBody: (status, message) =>
      googleErrorBody(
        status,
        message ??
          (status === 429
            ? "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service 'texttospeech.googleapis.com'."
            : status === 503
              ? 'The service is currently unavailable.'
              : `HTTP ${status}`),
      ),
    handle: async (req, res) => {
      if (req.op !== 'create') {
        refuse(http, res, 404, `The requested URL ${req.path} was not found on this server.`);
        return;
      }
      // A scripted fault comes first, as a quota or outage answers before anything is checked.
      const fault = faults.take('create');
      const answer = async () => {
        const key = typeof req.headers['x-goog-api-key'] === 'string' ? req.headers['x-goog-api-key'] : undefined;
        const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
        const credential = key ?? token;
        if (!credential || (options.credential !== undefined && credential !== options.credential)) {
          refuse(
            http,
            res,
            credential ? 403 : 401,
            credential
              ? 'The caller does not have permission'
              : 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
          );
          return;
        }
        const why = invalidRequest(req.body);
        if (why) {
          refuse(http, res, 400, why);
          return;
        }
        const body = req.body as {
          input: { text?: string; ssml?: string };
          voice: { languageCode: string; name?: string };
          audioConfig: { sampleRateHertz?: number };
          enableTimePointing?: string[];
        };
        let tokens: Token[];
        if (body.input.ssml !== undefined) {
          const parsed = parseSsml(body.input.ssml);
          if (typeof parsed === 'string') {
            refuse(http, res, 400, parsed);
            return;
          }
          tokens = parsed;
        } else tokens = [{ text: body.input.text! }];
        if (!tokens.some((t) => 'text' in t)) {
          refuse(http, res, 400, 'Input text is empty.');
          return;
        }
        const locale = body.voice.name ? VOICE_NAME.exec(body.voice.name)![1]! : body.voice.languageCode;
        const rate = body.audioConfig.sampleRateHertz ?? 24000;
        const out = await synthesize(locale, tokens, rate);
        const marks = body.enableTimePointing?.includes('SSML_MARK') && body.input.ssml !== undefined;
        http.sendJson(res, 200, {
          audioContent: out.audioContent,
          timepoints: marks ? out.timepoints : [],
          audioConfig: { audioEncoding: 'LINEAR16', sampleRateHertz: rate, speakingRate: 1, pitch: 0, volumeGainDb: 0 },
        });
      };
      const failed = (err: unknown) =>
        refuse(
          http,
          res,
          500,
          `Text-to-Speech test server failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      if (fault) http.perform(fault, res, () => void answer().catch(failed));
      else await answer();
    },
  });

  return {
    url: http.url,
    enqueueFault: (fault, times) => faults.enqueue('create', fault, times),
    received: () => received.list(),
    clearReceived: () => received.clear(),
    requests: http.requests,
    close: async () => {
      await http.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}
