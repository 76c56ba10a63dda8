export type SpeechEngineName = 'espeak-ng' | 'google-tts';

export interface WordTiming {
  text: string;
  startSeconds: number;
  endSeconds: number;
}

export interface SpokenPhrase {
  text: string;
  startSeconds: number;
  endSeconds: number;
  words: WordTiming[];
}

export interface SpokenLine {
  /** WAV, 48 kHz mono s16le; speech starts within ~20 ms of 0 and the file ends within ~20 ms of its last sound. */
  file: string;
  /** Measured on the written file. */
  durationSeconds: number;
  /** The caption phrases (`splitPhrases` of the text), times relative to the file's start. */
  phrases: SpokenPhrase[];
  /** `engine`: word times the engine reported; `measured`: phrase times measured on the audio. */
  timing: 'engine' | 'measured';
  engine: SpeechEngineName;
  voice: string;
  language: string;
}

export interface SpeakOptions {
  language: string;
  outFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SpeechEngine {
  readonly name: SpeechEngineName;
  /** The voice this engine would use for a language tag; undefined when it has none. */
  voiceFor(language: string): string | undefined;
  speak(text: string, opts: SpeakOptions): Promise<SpokenLine>;
}

/**
 * Why speaking failed: `invalid` (the request itself cannot be spoken: empty text, a language
 * without a voice), `retryable` (try again later; `retryAfterSeconds` when the vendor said how
 * long), `permanent` (the engine refused and will refuse again: bad voice, no permission).
 */
export class SpeechError extends Error {
  override readonly name = 'SpeechError';
  constructor(
    message: string,
    readonly kind: 'invalid' | 'retryable' | 'permanent',
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
  retryAfterSeconds?: number;
}
