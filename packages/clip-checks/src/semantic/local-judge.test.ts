import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RetryableError, type QaCheck, type ShotSpec } from '@aiprod/contracts';
import { renderAnimatic } from '@aiprod/media';
import { createLocalJudge } from './local-judge';
import type { JudgeInput, SemanticJudge } from './judge';

const spec = (overrides: Partial<ShotSpec> = {}): ShotSpec => ({
  shotId: 's01',
  index: 0,
  purpose: 'hook',
  durationSeconds: 1.5,
  prompt: 'A runner at dawn on a coastal road',
  camera: 'static',
  palette: ['#1E3A8A', '#F59E0B'],
  width: 640,
  height: 360,
  fps: 24,
  ...overrides,
});

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
const check = (checks: QaCheck[], name: string) => {
  const found = checks.find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} check in ${JSON.stringify(checks)}`);
  return found;
};

describe('local judge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-local-judge-'));
  let judge: SemanticJudge;
  let n = 0;
  /** Renders `rendered` and judges it against `planned` (the same unless a test says not). */
  const judgeClip = async (rendered: ShotSpec, planned = rendered, backend: JudgeInput['backend'] = 'local') => {
    n += 1;
    const clipPath = join(dir, `clip-${n}.mp4`);
    await renderAnimatic(rendered, clipPath, { timeoutMs: 30_000 });
    const workDir = mkdtempSync(join(dir, `work-${n}-`));
    const result = await judge.judge({ clipPath, spec: planned, backend, workDir });
    return { result, workDir };
  };

  beforeAll(async () => {
    judge = await createLocalJudge();
  });
  afterAll(async () => {
    await judge?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each<[string, Partial<ShotSpec>]>([
    ['Run brighter', {}],
    // White text in a grey box on a white-to-yellow plate: the case plain thresholding misses.
    ['Meet Aurora', { palette: ['#FFFFFF', '#FFEE88'], camera: 'zoom_in' }],
    ['Lighter every mile', { palette: ['#0F766E', '#F0FDFA'], width: 360, height: 640, camera: 'pan_left' }],
    ['Lighter every mile', { palette: ['#C0C0C0', '#E0E0E0'], width: 1280, height: 720, camera: 'zoom_out' }],
    ['Only 49.99 — today!', { palette: ['#000000', '#222222'], width: 320, height: 180 }],
  ])('reads %j back from the animatic and passes it (%j)', async (text, overrides) => {
    const { result, workDir } = await judgeClip(spec({ ...overrides, onScreenText: text }));
    const ocr = check(result.checks, 'on_screen_text');
    expect(result.judge).toBe('local-ocr');
    expect(ocr).toMatchObject({ verdict: 'pass', measured: 1 });
    expect(ocr.detail).toContain(text.replace(/[^A-Za-z ]/g, '').split(' ')[0]);
    expect(check(result.checks, 'palette').verdict).toBe('pass');
    expect(result.evidenceFrames.length).toBeGreaterThanOrEqual(1);
    for (const frame of result.evidenceFrames) {
      expect(frame.startsWith(workDir)).toBe(true);
      expect(readFileSync(frame).subarray(0, 4)).toEqual(PNG);
    }
  });

  it('reads white text on any plate: ten palettes, three frame sizes', async () => {
    const palettes = [
      ['#1E3A8A', '#F59E0B'],
      ['#FFFFFF', '#FFEE88'],
      ['#FFFFFF', '#FFFFFF'],
      ['#808080', '#A0A0A0'],
      ['#000000', '#000000'],
      ['#FF00FF', '#00FF00'],
      ['#DC2626', '#1D4ED8'],
      ['#F0FDFA', '#0F766E'],
      ['#FDE68A', '#FDE68A'],
      ['#C0C0C0', '#E0E0E0'],
    ];
    const sizes = [
      [640, 360],
      [360, 640],
      [320, 180],
    ] as const;
    const cameras = ['static', 'zoom_in', 'pan_left', 'zoom_out', 'pan_right'] as const;
    const scores: string[] = [];
    for (const [i, palette] of palettes.entries()) {
      const [width, height] = sizes[i % sizes.length]!;
      const camera = cameras[i % cameras.length]!;
      const { result } = await judgeClip(spec({ palette, width, height, camera, onScreenText: 'Meet Aurora' }));
      const ocr = check(result.checks, 'on_screen_text');
      scores.push(`${palette.join('/')} ${width}x${height} ${camera}: ${ocr.measured}`);
    }
    expect(scores.filter((s) => !s.endsWith(': 1'))).toEqual([]);
  });

  it('fails a misspelt render: "Run brihgter" for "Run brighter" (similarity 0.83 < 0.9)', async () => {
    const { result } = await judgeClip(spec({ onScreenText: 'Run brihgter' }), spec({ onScreenText: 'Run brighter' }));
    const ocr = check(result.checks, 'on_screen_text');
    expect(ocr).toMatchObject({ verdict: 'fail', measured: 0.83 });
    expect(ocr.expected).toBe('similarity ≥ 0.9 to "Run brighter"');
    expect(ocr.detail).toBe('recognised: Run brihgter');
    // Every frame was read looking for a better reading, and all are evidence.
    expect(result.evidenceFrames).toHaveLength(3);
  });

  it('fails a clip that shows other text', async () => {
    const { result } = await judgeClip(spec({ onScreenText: 'Walk slower' }), spec({ onScreenText: 'Run brighter' }));
    const ocr = check(result.checks, 'on_screen_text');
    expect(ocr.verdict).toBe('fail');
    expect(ocr.measured).toBeLessThan(0.5);
  });

  it('skips the text check when no text is planned, and still checks the plate', async () => {
    const { result } = await judgeClip(spec({ onScreenText: undefined }));
    expect(check(result.checks, 'on_screen_text')).toEqual({
      name: 'on_screen_text',
      verdict: 'skipped',
      detail: 'no on-screen text planned for this shot',
    });
    expect(check(result.checks, 'palette').verdict).toBe('pass');
    // Only the middle frame was used (for the palette).
    expect(result.evidenceFrames).toEqual([expect.stringMatching(/frame-2\.png$/)]);
  });

  it('fails the palette when the plate is not the planned palette', async () => {
    const planned = spec({ palette: ['#1E3A8A', '#F59E0B'], onScreenText: 'Run brighter' });
    const { result } = await judgeClip({ ...planned, palette: ['#DC2626', '#16A34A'] }, planned);
    const palette = check(result.checks, 'palette');
    expect(palette.verdict).toBe('fail');
    expect(palette.measured).toBeGreaterThan(60);
    expect(palette.expected).toBe('top ≈ #1E3A8A, bottom ≈ #F59E0B (RGB distance ≤ 60)');
    expect(check(result.checks, 'on_screen_text').verdict).toBe('pass');
  });

  it('measures the palette close to the planned colours on a zooming plate', async () => {
    const { result } = await judgeClip(spec({ palette: ['#7C3AED', '#FDE68A'], camera: 'zoom_in' }));
    const palette = check(result.checks, 'palette');
    expect(palette.verdict).toBe('pass');
    expect(palette.measured).toBeLessThan(40);
  });

  it('skips the palette for vendor clips and skips everything when there is nothing to read', async () => {
    const withText = await judgeClip(spec({ onScreenText: 'Meet Aurora' }), undefined, 'runway');
    expect(check(withText.result.checks, 'palette')).toMatchObject({ verdict: 'skipped' });
    expect(check(withText.result.checks, 'palette').detail).toContain('a runway clip is not a palette plate');
    expect(check(withText.result.checks, 'on_screen_text').verdict).toBe('pass');

    const nothing = await judgeClip(spec({ onScreenText: undefined }), undefined, 'veo');
    expect(nothing.result.checks.map((c) => c.verdict)).toEqual(['skipped', 'skipped']);
    expect(nothing.result.evidenceFrames).toEqual([]);
  });

  it('fails, with the reason, a file it cannot read frames from', async () => {
    const clipPath = join(dir, 'not-a-video.mp4');
    writeFileSync(clipPath, 'this is not a video');
    const workDir = mkdtempSync(join(dir, 'work-bad-'));
    const result = await judge.judge({
      clipPath,
      spec: spec({ onScreenText: 'Run brighter' }),
      backend: 'local',
      workDir,
    });
    expect(result.checks.map((c) => [c.name, c.verdict])).toEqual([
      ['on_screen_text', 'fail'],
      ['palette', 'fail'],
    ]);
    expect(result.checks[0]?.detail).toMatch(/^could not read frames from the clip: /);
  });

  it('stops with RetryableError when the caller has aborted', async () => {
    const clipPath = join(dir, 'clip-1.mp4'); // rendered by the first test
    const workDir = mkdtempSync(join(dir, 'work-aborted-'));
    const err: unknown = await judge
      .judge({
        clipPath,
        spec: spec({ onScreenText: 'Run brighter' }),
        backend: 'local',
        workDir,
        signal: AbortSignal.abort(),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/^local-ocr: could not sample frames \(aborted\)/);
  });

  it('rejects bad options', async () => {
    await expect(createLocalJudge({ minTextSimilarity: 1.5 })).rejects.toThrow('minTextSimilarity must be within 0..1');
  });
});

describe('local judge OCR engine', () => {
  it('stops after the idle time and starts again for the next clip', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aiprod-local-judge-idle-'));
    const judge = await createLocalJudge({ idleMs: 300 });
    const engine = judge as unknown as { ocrRunning: boolean };
    try {
      const clipPath = join(dir, 'clip.mp4');
      const planned = spec({ onScreenText: 'Run brighter' });
      await renderAnimatic(planned, clipPath, { timeoutMs: 30_000 });
      const judgeOnce = async () => {
        const result = await judge.judge({
          clipPath,
          spec: planned,
          backend: 'local',
          workDir: mkdtempSync(join(dir, 'w-')),
        });
        return result.checks.find((c) => c.name === 'on_screen_text')?.verdict;
      };
      expect(await judgeOnce()).toBe('pass');
      const deadline = Date.now() + 10_000;
      while (engine.ocrRunning && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(engine.ocrRunning).toBe(false);
      expect(await judgeOnce()).toBe('pass');
      expect(engine.ocrRunning).toBe(true);
    } finally {
      await judge.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
