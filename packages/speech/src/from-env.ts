import { Type, type Static } from '@sinclair/typebox';
import { GoogleAuth } from 'google-auth-library';
import { espeakEngine } from './espeak';
import { googleTtsEngine } from './google-tts';
import type { SpeechEngine } from './types';

/**
 * The speech settings, the same for every service that speaks (the planner measures the lines
 * with the engine delivery speaks them with, so a line that fits at planning fits at assembly).
 */
export const SpeechEnvProperties = {
  SPEECH_ENGINE: Type.Union([Type.Literal('espeak-ng'), Type.Literal('google-tts')], {
    default: 'espeak-ng',
    description:
      "The voice-over's speech engine: espeak-ng (offline, embedded, free: the default, so a new deployment and CI speak without a paid API) or Google Cloud Text-to-Speech (natural voices and word timings from the engine; Application Default Credentials). The planner and delivery must agree (Terraform sets both from one value).",
  }),
  GOOGLE_TTS_BASE_URL: Type.Optional(
    Type.String({
      format: 'uri',
      description: 'Text-to-Speech API base URL (tests point it at a protocol test server).',
    }),
  ),
  GOOGLE_TTS_ACCESS_TOKEN: Type.Optional(
    Type.String({
      minLength: 8,
      description:
        'A pre-issued OAuth token (a developer run, or a test server); Application Default Credentials otherwise.',
    }),
  ),
};

export interface SpeechEnv {
  SPEECH_ENGINE: Static<typeof SpeechEnvProperties.SPEECH_ENGINE>;
  GOOGLE_TTS_BASE_URL?: string;
  GOOGLE_TTS_ACCESS_TOKEN?: string;
}

/** The engine the settings name; Google's asks Application Default Credentials for a token per request (cached by the library). */
export function speechEngineFromEnv(env: SpeechEnv): SpeechEngine {
  if (env.SPEECH_ENGINE === 'espeak-ng') return espeakEngine();
  const token = env.GOOGLE_TTS_ACCESS_TOKEN;
  const auth = token ? undefined : new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  return googleTtsEngine({
    ...(env.GOOGLE_TTS_BASE_URL ? { baseUrl: env.GOOGLE_TTS_BASE_URL } : {}),
    headers: async () => {
      if (token) return { authorization: `Bearer ${token}` };
      const headers = await (await auth!.getClient()).getRequestHeaders();
      const plain: Record<string, string> = {};
      headers.forEach((value, name) => (plain[name] = value));
      return plain;
    },
  });
}
