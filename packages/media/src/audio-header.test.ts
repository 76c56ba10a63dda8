import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { audioFileInfo } from './audio-header';
import { runFfmpeg } from './process';

describe('audioFileInfo', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'audio-header-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['mp3', ['-c:a', 'libmp3lame'], 'audio/mpeg'],
    ['wav', ['-c:a', 'pcm_s16le'], 'audio/wav'],
    ['m4a', ['-c:a', 'aac'], 'audio/mp4'],
    ['ogg', ['-c:a', 'libvorbis'], 'audio/ogg'],
    ['flac', ['-c:a', 'flac'], 'audio/flac'],
  ])('knows a real %s file by its bytes', async (ext, codec, type) => {
    const file = join(dir, `tone.${ext}`);
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:d=0.5', ...codec, '-y', file], {
      timeoutMs: 20_000,
    });
    expect(audioFileInfo(await readFile(file))).toEqual({ contentType: type, extension: ext });
  });

  it('refuses what is not audio, and a cut-short header', () => {
    expect(audioFileInfo(Buffer.from('<html>not music</html>'))).toBeNull();
    expect(audioFileInfo(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBeNull();
    expect(audioFileInfo(Buffer.from('RIF'))).toBeNull();
    expect(audioFileInfo(Buffer.alloc(0))).toBeNull();
  });
});
