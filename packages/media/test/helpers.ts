import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShotSpec } from '@aiprod/contracts';
import { runFfmpeg } from '../src';

export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-media-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

export function shot(overrides: Partial<ShotSpec> = {}): ShotSpec {
  return {
    shotId: 's01',
    index: 0,
    purpose: 'hook',
    durationSeconds: 1,
    prompt: 'A runner at dawn',
    camera: 'static',
    palette: ['#1E3A8A', '#F59E0B'],
    width: 320,
    height: 180,
    fps: 30,
    ...overrides,
  };
}

/** Frame `index` of `file` decoded to RGB, one byte per channel. */
export async function rgbFrame(file: string, index: number, dir: string): Promise<Buffer> {
  const out = join(dir, `frame-${index}-${Date.now()}.rgb`);
  await runFfmpeg(
    [
      '-v',
      'error',
      '-i',
      file,
      '-vf',
      `trim=start_frame=${index}`,
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-y',
      out,
    ],
    { timeoutMs: 20_000 },
  );
  return readFileSync(out);
}

export function pixel(frame: Buffer, width: number, x: number, y: number): [number, number, number] {
  const i = (y * width + x) * 3;
  return [frame[i] ?? -1, frame[i + 1] ?? -1, frame[i + 2] ?? -1];
}

export function hexRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Largest per-channel difference. */
export const colourDistance = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - (b[i] ?? 0))));

/** Integrated loudness (LUFS) of the audio in `file`, as measured by ffmpeg's ebur128 filter. */
export async function integratedLoudness(file: string): Promise<number> {
  const { stderr } = await runFfmpeg(['-nostats', '-i', file, '-map', '0:a', '-af', 'ebur128', '-f', 'null', '-'], {
    timeoutMs: 30_000,
  });
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const match = /I:\s+(-?[\d.]+) LUFS/.exec(summary);
  if (!match?.[1]) throw new Error(`no integrated loudness in ebur128 output:\n${summary}`);
  return Number(match[1]);
}
