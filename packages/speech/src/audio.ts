import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { MediaError, probe, runFfmpeg } from '@aiprod/media';
import { SpeechError } from './types';

/** Every line we write: 48 kHz, mono, signed 16-bit little-endian PCM in a WAV file. */
export const SAMPLE_RATE = 48_000;
const BYTES_PER_SAMPLE = 2;

/** A sample above this is sound: −50 dBFS, below any speech and above resampling ripple. */
const SOUND_THRESHOLD = Math.round(32768 * 10 ** (-50 / 20));
/** Kept around the sound when trimming, so a soft attack or release is not cut. */
export const EDGE_PAD_SECONDS = 0.005;

/** Raw PCM samples at SAMPLE_RATE, mono. */
export type Pcm = Int16Array;

/** A time budget shared by the steps of one call. */
export class Deadline {
  private readonly end: number;
  constructor(
    readonly timeoutMs: number,
    readonly signal?: AbortSignal,
  ) {
    if (!(timeoutMs > 0)) throw new SpeechError(`timeoutMs must be positive, got ${timeoutMs}`, 'invalid');
    this.end = Date.now() + timeoutMs;
  }
  /** What is left, at least 1 ms, or a retryable SpeechError when nothing is. */
  remainingMs(what: string): number {
    if (this.signal?.aborted) throw new SpeechError(`${what}: aborted`, 'retryable', { cause: this.signal.reason });
    const left = this.end - Date.now();
    if (left <= 0) throw new SpeechError(`${what}: timed out after ${this.timeoutMs} ms`, 'retryable');
    return left;
  }
}

/** A MediaError as a SpeechError: a timeout or abort may pass; anything else is our bug or a bad file. */
export function fromMediaError(err: unknown, what: string): SpeechError {
  if (err instanceof SpeechError) return err;
  if (err instanceof MediaError) {
    const kind = err.kind === 'timeout' || err.kind === 'aborted' || err.kind === 'spawn' ? 'retryable' : 'permanent';
    return new SpeechError(`${what}: ${err.message}`, kind, { cause: err });
  }
  return new SpeechError(`${what}: ${err instanceof Error ? err.message : String(err)}`, 'retryable', {
    cause: err,
  });
}

/** Decodes any audio file ffmpeg reads to mono PCM at SAMPLE_RATE. */
export async function decodePcm(file: string, scratchFile: string, deadline: Deadline): Promise<Pcm> {
  try {
    await runFfmpeg(
      [
        '-v',
        'error',
        '-i',
        file,
        '-ac',
        '1',
        '-ar',
        String(SAMPLE_RATE),
        '-f',
        's16le',
        '-c:a',
        'pcm_s16le',
        '-y',
        scratchFile,
      ],
      { timeoutMs: deadline.remainingMs('decode audio'), signal: deadline.signal, operation: 'speech_decode' },
    );
    const bytes = await readFile(scratchFile);
    // A copy: the Buffer may sit at an odd offset of a shared pool, which Int16Array refuses.
    const aligned = new Uint8Array(bytes.length - (bytes.length % BYTES_PER_SAMPLE));
    aligned.set(bytes.subarray(0, aligned.length));
    return new Int16Array(aligned.buffer);
  } catch (err) {
    throw fromMediaError(err, 'decode audio');
  } finally {
    await rm(scratchFile, { force: true });
  }
}

/** The first and last samples that are sound, or undefined for silence. */
export function soundBounds(pcm: Pcm): { first: number; last: number } | undefined {
  let first = -1;
  for (let i = 0; i < pcm.length; i++) {
    if (Math.abs(pcm[i]!) > SOUND_THRESHOLD) {
      first = i;
      break;
    }
  }
  if (first < 0) return undefined;
  let last = first;
  for (let i = pcm.length - 1; i > first; i--) {
    if (Math.abs(pcm[i]!) > SOUND_THRESHOLD) {
      last = i;
      break;
    }
  }
  return { first, last };
}

/**
 * Cuts the silence before and after the sound, keeping EDGE_PAD_SECONDS either side. Returns the
 * kept samples, where the sound starts and ends in them (seconds), and how much was cut in front.
 */
export function trimSilence(
  pcm: Pcm,
): { pcm: Pcm; soundStart: number; soundEnd: number; cutSeconds: number } | undefined {
  const bounds = soundBounds(pcm);
  if (!bounds) return undefined;
  const pad = Math.round(EDGE_PAD_SECONDS * SAMPLE_RATE);
  const from = Math.max(0, bounds.first - pad);
  const to = Math.min(pcm.length, bounds.last + 1 + pad);
  return {
    pcm: pcm.subarray(from, to),
    soundStart: (bounds.first - from) / SAMPLE_RATE,
    soundEnd: (bounds.last + 1 - from) / SAMPLE_RATE,
    cutSeconds: from / SAMPLE_RATE,
  };
}

/** A 44-byte canonical WAV header for mono s16le at SAMPLE_RATE. */
function wavHeader(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(SAMPLE_RATE, 24);
  h.writeUInt32LE(SAMPLE_RATE * BYTES_PER_SAMPLE, 28);
  h.writeUInt16LE(BYTES_PER_SAMPLE, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/**
 * Writes the samples as a WAV file, whole or not at all (a reader never finds half a file), and
 * returns its duration as ffprobe measures it on the written file.
 */
export async function writeWav(outFile: string, parts: Pcm[], deadline: Deadline): Promise<number> {
  const dataBytes = parts.reduce((n, p) => n + p.byteLength, 0);
  const body = Buffer.concat([
    wavHeader(dataBytes),
    ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)),
  ]);
  const partial = `${outFile}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(partial, body);
    await rename(partial, outFile);
    const probed = await probe(outFile, { timeoutMs: deadline.remainingMs('measure audio'), signal: deadline.signal });
    if (!(probed.durationSeconds > 0) || probed.audio?.sampleRate !== SAMPLE_RATE) {
      throw new SpeechError(`the written line ${outFile} does not read back as ${SAMPLE_RATE} Hz audio`, 'permanent');
    }
    return probed.durationSeconds;
  } catch (err) {
    throw fromMediaError(err, 'write audio');
  } finally {
    await rm(partial, { force: true });
  }
}

/** Silence of a given length. */
export const silence = (seconds: number): Pcm => new Int16Array(Math.round(seconds * SAMPLE_RATE));

/**
 * Word times inside a phrase, proportional to each word's length (spaces shared out too).
 * Approximate: real words differ in pace, but a caption highlighting word by word is then
 * early or late by a fraction of a word, never by a phrase.
 */
export function proportionalWords(phrase: string, start: number, end: number) {
  const words = phrase.split(' ');
  const total = phrase.length;
  const span = end - start;
  let at = 0;
  return words.map((text) => {
    const wordStart = start + (span * at) / total;
    at += text.length;
    const wordEnd = start + (span * at) / total;
    at += 1;
    return { text, startSeconds: wordStart, endSeconds: wordEnd };
  });
}
