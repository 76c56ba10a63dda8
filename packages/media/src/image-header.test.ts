import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFfmpeg } from './process';
import { stillImageInfo } from './image-header';

// Real files, made by ffmpeg in the size a test can recognise (odd widths catch swapped fields).
const dir = mkdtempSync(join(tmpdir(), 'image-header-'));
const made: Record<string, Buffer> = {};

beforeAll(async () => {
  for (const [name, args] of [
    ['a.png', []],
    ['a.jpg', ['-q:v', '3']],
    ['a.webp', []],
    ['lossless.webp', ['-lossless', '1']],
  ] as const) {
    const file = join(dir, name);
    await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=322x180', '-frames:v', '1', ...args, '-y', file], {
      timeoutMs: 20_000,
    });
    made[name] = readFileSync(file);
  }
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stillImageInfo', () => {
  it.each([
    ['a.png', 'image/png', 'png'],
    ['a.jpg', 'image/jpeg', 'jpg'],
    ['a.webp', 'image/webp', 'webp'],
    ['lossless.webp', 'image/webp', 'webp'],
  ])('reads %s as %s, 322×180', (name, contentType, extension) => {
    expect(stillImageInfo(made[name]!)).toEqual({ contentType, extension, width: 322, height: 180 });
  });

  it('reads a PNG header alone, without the pixels', () => {
    expect(stillImageInfo(made['a.png']!.subarray(0, 24))).toMatchObject({ width: 322, height: 180 });
  });

  it.each([
    ['HTML', Buffer.from('<!doctype html><html><body>not an image</body></html>')],
    ['a PNG signature with nothing after it', () => made['a.png']!.subarray(0, 8)],
    ['a truncated PNG header', () => made['a.png']!.subarray(0, 20)],
    ['a JPEG cut before its frame header', () => made['a.jpg']!.subarray(0, 12)],
    ['a GIF', Buffer.from('GIF89a\x10\x00\x10\x00', 'latin1')],
    ['a RIFF that is not WebP', Buffer.concat([Buffer.from('RIFF\x00\x00\x00\x00WAVEfmt '), Buffer.alloc(20)])],
    ['an empty file', Buffer.alloc(0)],
  ])('refuses %s', (_what, bytes) => {
    const b = typeof bytes === 'function' ? bytes() : bytes;
    expect(stillImageInfo(b)).toBeNull();
  });

  it('refuses a PNG that claims a zero size', () => {
    const zero = Buffer.from(made['a.png']!);
    zero.writeUInt32BE(0, 16);
    expect(stillImageInfo(zero)).toBeNull();
  });
});
