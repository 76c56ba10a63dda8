import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaError, runFfmpeg } from '../process';
import { probe } from '../probe';
import { MAX_VOICE_TEMPO, quickenVoiceLine } from './tempo';
import type { FinishVoiceLine } from './types';

// A "line" of two tone bursts with silence around them: 0.2–0.8 s and 1.0–1.6 s of a 1.8 s file,
// so where each burst starts after the tempo change can be measured, not just computed.
let dir = '';
let line: FinishVoiceLine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tempo-test-'));
  const file = join(dir, 'line.wav');
  await runFfmpeg(
    [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      "aevalsrc='0.5*sin(2*PI*440*t)*(between(t,0.2,0.8)+between(t,1.0,1.6))':s=48000:d=1.8",
      '-ac',
      '1',
      '-c:a',
      'pcm_s16le',
      '-y',
      file,
    ],
    { timeoutMs: 20_000 },
  );
  line = {
    shotIndex: 1,
    file,
    durationSeconds: 1.8,
    phrases: [
      {
        text: 'One two',
        startSeconds: 0.2,
        endSeconds: 0.8,
        words: [{ text: 'One', startSeconds: 0.2, endSeconds: 0.5 }],
      },
      { text: 'Three', startSeconds: 1.0, endSeconds: 1.6, words: [] },
    ],
  };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Where each stretch of sound in a mono s16le 48 kHz WAV starts, in seconds. */
async function onsets(file: string): Promise<number[]> {
  const bytes = await readFile(file);
  const data = bytes.indexOf('data') + 8;
  const pcm = bytes.subarray(data, data + 2 * Math.floor((bytes.byteLength - data) / 2));
  const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
  const found: number[] = [];
  let quiet = 0;
  for (let i = 0; i < samples.length; i += 1) {
    if (Math.abs(samples[i]!) > 3000) {
      if (quiet > 4800 || !found.length) found.push(i / 48_000);
      quiet = 0;
    } else quiet += 1;
  }
  return found;
}

describe('quickenVoiceLine', () => {
  it('speeds a line up to fit, scaling its phrase and word times with the sound itself', async () => {
    const out = join(dir, 'quick.wav');
    const fitted = await quickenVoiceLine(line, 1.7, out, { timeoutMs: 20_000 });
    expect(fitted.tempo).toBeGreaterThan(1.05);
    expect(fitted.tempo).toBeLessThanOrEqual(MAX_VOICE_TEMPO / 0.99);
    expect(fitted.durationSeconds).toBeLessThanOrEqual(1.7);
    expect(fitted.durationSeconds).toBeGreaterThan(1.6);
    expect((await probe(out)).audio?.sampleRate).toBe(48_000);
    const measured = await onsets(out);
    expect(measured).toHaveLength(2);
    // Each phrase starts where its sound now starts, within atempo's overlap window (~20 ms), far
    // inside the 150 ms a caption may lead or trail its speech.
    expect(Math.abs(measured[0]! - fitted.phrases[0]!.startSeconds)).toBeLessThan(0.03);
    expect(Math.abs(measured[1]! - fitted.phrases[1]!.startSeconds)).toBeLessThan(0.03);
    expect(fitted.phrases[1]!.startSeconds).toBeCloseTo(1.0 / fitted.tempo, 6);
    expect(fitted.phrases[0]!.words[0]!.endSeconds).toBeCloseTo(0.5 / fitted.tempo, 6);
    expect(fitted.file).toBe(out);
  });

  it('leaves a line that fits as it is', async () => {
    const same = await quickenVoiceLine(line, 1.8, join(dir, 'same.wav'), { timeoutMs: 20_000 });
    expect(same).toEqual({ ...line, tempo: 1 });
  });

  it('speeds up a line needing exactly MAX_VOICE_TEMPO, as delivery lets through', async () => {
    const fitted = await quickenVoiceLine(line, 1.8 / MAX_VOICE_TEMPO, join(dir, 'edge.wav'), { timeoutMs: 20_000 });
    expect(fitted.durationSeconds).toBeLessThanOrEqual(1.8 / MAX_VOICE_TEMPO);
  });

  it('refuses to rush a line more than MAX_VOICE_TEMPO, as invalid input', async () => {
    const refused = await quickenVoiceLine(line, 1.6, join(dir, 'rushed.wav'), { timeoutMs: 20_000 }).catch(
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(MediaError);
    expect((refused as MediaError).kind).toBe('invalid');
    expect((refused as Error).message).toMatch(
      /shot 1 lasts 1\.800s; fitting it into 1\.600s would speed it up 12\.5%/,
    );
  });
});
