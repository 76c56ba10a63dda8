import { googleVoiceFor } from './google-tts';
import { speechLanguage } from './languages';
import type { SpeechEngineName } from './types';

/**
 * Whether `engine` can speak `tag` with its default voices, or why not: the gateway asks the
 * deployment's engine (SPEECH_ENGINE), so a brief in a language the production voice lacks is
 * refused at the door, not after its shots are paid for.
 */
export function engineSpeaks(engine: SpeechEngineName, tag: string): { ok: true } | { ok: false; why: string } {
  const checked = speechLanguage(tag);
  if (!checked.ok) return checked;
  if (engine === 'google-tts' && !googleVoiceFor(tag)) {
    return {
      ok: false,
      why: `${tag}: the deployment's voice (Google Text-to-Speech) has no voice for "${checked.base}"`,
    };
  }
  return { ok: true };
}
