export {
  SpeechError,
  type SpeakOptions,
  type SpeechEngine,
  type SpeechEngineName,
  type SpokenLine,
  type SpokenPhrase,
  type WordTiming,
} from './types';
export { espeakEngine } from './espeak';
export { googleTtsEngine, googleVoiceFor, DEFAULT_GOOGLE_VOICES, type GoogleTtsOptions } from './google-tts';
export { PHRASE_GAP_SECONDS, estimatedSpeechSeconds, maxCharsFor, splitPhrases } from './phrases';
export { captionsSrt, captionsVtt, type CaptionCue } from './captions';
export { SPEECH_LANGUAGES, speechLanguage, unrenderableText } from './languages';
export { SpeechEnvProperties, speechEngineFromEnv } from './from-env';
export { engineSpeaks } from './engine-languages';
