import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MediaError, decodeCheck, extractFrame, probe, renderAnimatic, runFfmpeg, runFfprobe } from './index';
import { scratchDir, shot } from '../test/helpers';

/** ffmpeg processes that are children of this jest worker. */
function ffmpegChildren(): string[] {
  const out = execFileSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,comm='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('ffmpeg'));
}

const endless = ['-f', 'lavfi', '-i', 'anullsrc', '-f', 'null', '-'];

describe('runFfmpeg / runFfprobe', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());

  it('kills ffmpeg with SIGKILL on timeout and rejects with a MediaError', async () => {
    const started = Date.now();
    const err = await runFfmpeg(endless, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaError);
    expect((err as MediaError).kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('kills ffmpeg when the signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('job canceled')), 200);
    const err = await runFfmpeg(endless, { timeoutMs: 30_000, signal: controller.signal }).catch((e: unknown) => e);
    expect((err as MediaError).kind).toBe('aborted');
    expect(((err as MediaError).cause as Error).message).toBe('job canceled');
    expect(ffmpegChildren()).toEqual([]);
  });

  it('rejects at once when the signal is already aborted', async () => {
    await expect(runFfmpeg(['-version'], { timeoutMs: 1000, signal: AbortSignal.abort() })).rejects.toMatchObject({
      kind: 'aborted',
    });
  });

  it('rejects on a non-zero exit, with the end of stderr', async () => {
    const err = await runFfmpeg(['-v', 'error', '-i', join(scratch.dir, 'missing.mp4'), '-f', 'null', '-'], {
      timeoutMs: 10_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaError);
    expect((err as MediaError).kind).toBe('exit');
    expect((err as MediaError).stderrTail).toMatch(/No such file or directory/);
    expect((err as MediaError).message).toMatch(/exited with code 1: .*No such file/);
  });

  it('keeps only the last ~64 KB of a long stderr', async () => {
    // showinfo logs one ~300-character line per frame: about 600 KB in all.
    const { stderr } = await runFfmpeg(
      ['-v', 'info', '-f', 'lavfi', '-i', 'color=s=16x16:r=100:d=20,showinfo', '-f', 'null', '-'],
      { timeoutMs: 20_000 },
    );
    expect(stderr.length).toBeLessThanOrEqual(64 * 1024);
    expect(stderr).toMatch(/n:1999 /);
  });

  it('returns what ffprobe printed', async () => {
    const { stdout } = await runFfprobe(
      ['-v', 'error', '-print_format', 'json', '-show_format', '-f', 'lavfi', '-i', 'color=d=1'],
      {
        timeoutMs: 10_000,
      },
    );
    expect(JSON.parse(stdout).format.format_name).toBe('lavfi');
  });
});

describe('probe / decodeCheck / extractFrame', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const clip = join(scratch.dir, 'clip.mp4');
  beforeAll(() => renderAnimatic(shot({ durationSeconds: 1 }), clip, { timeoutMs: 20_000 }));

  it('describes a clip', async () => {
    const info = await probe(clip);
    expect(info).toMatchObject({
      formatName: expect.stringContaining('mp4'),
      durationSeconds: 1,
      video: { codec: 'h264', width: 320, height: 180, fps: 30, pixFmt: 'yuv420p', frames: 30 },
      audio: null,
    });
    expect(info.sizeBytes).toBeGreaterThan(0);
  });

  it.each([
    ['JSON', '{"hello": "world"}\n'],
    ['text', 'just some words\n'],
    ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))],
  ])('throws MediaError for a %s file', async (_kind, content) => {
    const file = join(scratch.dir, 'not-media.mp4');
    writeFileSync(file, content);
    const err = await probe(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaError);
    expect((err as MediaError).stderrTail).toMatch(/Invalid data/);
  });

  it('reads a path that looks like an option or a protocol as a plain file', async () => {
    // Without the file: prefix ffmpeg would read this as stdin.
    await expect(probe('pipe:0')).rejects.toMatchObject({ stderrTail: expect.stringMatching(/No such file/) });
  });

  it('decodes a good clip cleanly and reports a truncated one', async () => {
    expect(await decodeCheck(clip, 20_000)).toEqual({ ok: true, errors: [] });
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(clip);
    const broken = join(scratch.dir, 'broken.mp4');
    writeFileSync(broken, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const result = await decodeCheck(broken, 20_000);
    expect(result.ok).toBe(false);
    expect(result.errors.length).toBeGreaterThan(0);
  });

  it('extracts one PNG frame, and refuses a time past the end', async () => {
    const png = join(scratch.dir, 'poster 100%.png');
    await extractFrame(clip, 0.5, png);
    const info = await probe(png);
    expect(info.video).toMatchObject({ codec: 'png', width: 320, height: 180 });
    await expect(extractFrame(clip, 5, png)).rejects.toBeInstanceOf(MediaError);
  });
});
