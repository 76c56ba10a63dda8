import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deadline, SAMPLE_RATE, decodePcm, proportionalWords, silence, trimSilence, writeWav, type Pcm } from './audio';
import { espeakVoiceFor, speechLanguage } from './languages';
import { PHRASE_GAP_SECONDS, splitPhrases } from './phrases';
import { SpeechError, type SpeechEngine, type SpokenLine, type SpokenPhrase } from './types';

/** Runs espeak-ng with an argument array (never a shell), bounded by the deadline. */
function runEspeak(binary: string, args: string[], deadline: Deadline): Promise<void> {
  const timeoutMs = deadline.remainingMs('espeak-ng');
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let killedFor: 'timeout' | 'aborted' | undefined;
    const kill = (why: 'timeout' | 'aborted') => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    const onAbort = () => kill('aborted');
    deadline.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (err?: SpeechError) => {
      clearTimeout(timer);
      deadline.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    child.on('error', (err) =>
      // Not installed, or not executable: the machine is wrong, which another try will not fix.
      done(new SpeechError(`could not run ${binary}: ${err.message}`, 'permanent', { cause: err })),
    );
    child.on('close', (code, signal) => {
      if (killedFor === 'timeout') done(new SpeechError(`espeak-ng timed out after ${timeoutMs} ms`, 'retryable'));
      else if (killedFor === 'aborted')
        done(new SpeechError('espeak-ng was aborted', 'retryable', { cause: deadline.signal?.reason }));
      else if (code !== 0) {
        const why = code === null ? `signal ${signal}` : `code ${code}`;
        done(new SpeechError(`espeak-ng exited with ${why}: ${stderr.trim().slice(0, 300)}`, 'permanent'));
      } else done();
    });
  });
}

/**
 * The offline engine: espeak-ng, a Debian package. Each phrase is synthesised on its own, its
 * silence trimmed, resampled to 48 kHz mono, and the phrases joined with PHRASE_GAP_SECONDS of
 * silence, so where every phrase starts and ends is known by construction (`timing: 'measured'`).
 */
export function espeakEngine(opts: { binary?: string; wordsPerMinute?: number } = {}): SpeechEngine {
  const binary = opts.binary ?? 'espeak-ng';
  // espeak-ng's own default is 175; a slower or faster voice is a deployment's choice.
  const speed = opts.wordsPerMinute ? ['-s', String(Math.round(opts.wordsPerMinute))] : [];
  return {
    name: 'espeak-ng',
    voiceFor: (language) => espeakVoiceFor(language),
    async speak(text, speakOpts): Promise<SpokenLine> {
      const phrases = splitPhrases(text);
      if (!phrases.length) throw new SpeechError('nothing to say: the text is empty', 'invalid');
      const checked = speechLanguage(speakOpts.language);
      const voice = espeakVoiceFor(speakOpts.language);
      if (!checked.ok || !voice) {
        throw new SpeechError(checked.ok ? `no espeak-ng voice for ${speakOpts.language}` : checked.why, 'invalid');
      }
      const deadline = new Deadline(speakOpts.timeoutMs, speakOpts.signal);
      const scratch = await mkdtemp(join(tmpdir(), 'aiprod-speech-'));
      try {
        const parts: Pcm[] = [];
        const spoken: SpokenPhrase[] = [];
        let offset = 0;
        for (const [i, phrase] of phrases.entries()) {
          const wav = join(scratch, `phrase-${i}.wav`);
          // `--`: a phrase starting with "-" is text, not an option.
          await runEspeak(binary, ['-v', voice, ...speed, '-w', wav, '--', phrase], deadline);
          const trimmed = trimSilence(await decodePcm(wav, join(scratch, `phrase-${i}.pcm`), deadline));
          if (!trimmed) {
            // espeak-ng says nothing for text it has no pronunciation for (symbols only).
            throw new SpeechError(`espeak-ng (${voice}) produced no sound for phrase ${i + 1}`, 'invalid');
          }
          if (i > 0) {
            parts.push(silence(PHRASE_GAP_SECONDS));
            offset += PHRASE_GAP_SECONDS;
          }
          const start = offset + trimmed.soundStart;
          const end = offset + trimmed.soundEnd;
          spoken.push({
            text: phrase,
            startSeconds: start,
            endSeconds: end,
            words: proportionalWords(phrase, start, end),
          });
          parts.push(trimmed.pcm);
          offset += trimmed.pcm.length / SAMPLE_RATE;
        }
        const durationSeconds = await writeWav(speakOpts.outFile, parts, deadline);
        return {
          file: speakOpts.outFile,
          durationSeconds,
          phrases: spoken,
          timing: 'measured',
          engine: 'espeak-ng',
          voice,
          language: speakOpts.language,
        };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}
