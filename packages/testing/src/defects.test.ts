import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShotSpecSchema, validate } from '@aiprod/contracts';
import { MediaError, analyzeClip, probe, type ClipAnalysis } from '@aiprod/media';
import {
  CORPUS_TEXT,
  DEFECT_KINDS,
  MISSPELT_TEXT,
  makeDefectCorpus,
  type DefectClip,
  type DefectKind,
} from './defects';

describe('makeDefectCorpus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-defects-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let corpus: DefectClip[];
  const clip = (kind: DefectKind) => {
    const found = corpus.find((c) => c.kind === kind);
    if (!found) throw new Error(`no ${kind} clip`);
    return found;
  };
  const analyses = new Map<DefectKind, ClipAnalysis>();
  const analysis = async (kind: DefectKind) => {
    let a = analyses.get(kind);
    if (!a) {
      a = await analyzeClip(clip(kind).file, { timeoutMs: 30_000 });
      analyses.set(kind, a);
    }
    return a;
  };
  const sum = (intervals: { duration: number }[]) => intervals.reduce((t, i) => t + i.duration, 0);

  beforeAll(async () => {
    const started = Date.now();
    corpus = await makeDefectCorpus(join(dir, 'corpus'));
    console.log(`makeDefectCorpus 640x360 30 fps 5 s, ${corpus.length} clips: ${Date.now() - started} ms`);
  }, 60_000);

  it('writes one clip per kind, each with a valid spec, and nothing else', async () => {
    expect(corpus.map((c) => c.kind)).toEqual(DEFECT_KINDS);
    for (const c of corpus) {
      expect(existsSync(c.file)).toBe(true);
      expect(statSync(c.file).size).toBeGreaterThan(0);
      expect(validate(ShotSpecSchema, c.spec)).toMatchObject({ ok: true });
      expect(c.spec).toMatchObject({ width: 640, height: 360, fps: 30, durationSeconds: 5, onScreenText: CORPUS_TEXT });
      expect(c.withAudio).toBe(c.kind !== 'not_video');
    }
    expect(existsSync(join(dir, 'corpus', '.pictures'))).toBe(false);
  });

  it('makes clips ffprobe reads, except the one that is not a video', async () => {
    for (const c of corpus.filter((x) => x.kind !== 'not_video')) {
      const info = await probe(c.file);
      expect({ kind: c.kind, video: info.video?.codec, audio: info.audio?.codec }).toEqual({
        kind: c.kind,
        video: 'h264',
        audio: 'aac',
      });
    }
    await expect(probe(clip('not_video').file)).rejects.toBeInstanceOf(MediaError);
    await expect(analyzeClip(clip('not_video').file, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(MediaError);
  });

  it('has a good clip that passes every technical check', async () => {
    const a = await analysis('good');
    expect(a.decodedSeconds).toBeCloseTo(5, 2);
    expect(a.decodeErrors).toEqual([]);
    expect(a.black).toEqual([]);
    expect(a.frozen).toEqual([]);
    expect(a.audio?.silence).toEqual([]);
    expect(a.audio?.integratedLufs).toBeGreaterThan(-21.5);
    expect(a.audio?.integratedLufs).toBeLessThan(-18.5);
    expect(a.audio?.truePeakDbtp).toBeLessThan(-1);
    const info = await probe(clip('good').file);
    expect(info.video).toMatchObject({ width: 640, height: 360, fps: 30 });
  });

  it('has a black stretch of at least 1 s in the middle of the black clip', async () => {
    const a = await analysis('black');
    expect(a.black).toHaveLength(1);
    expect(a.black[0]?.duration).toBeGreaterThanOrEqual(1);
    expect(a.black[0]?.start).toBeGreaterThan(1);
    expect(a.black[0]?.end).toBeLessThan(4);
  });

  it('has at least 2 s of identical frames in the frozen clip', async () => {
    const a = await analysis('frozen');
    // One stretch, as long as QA's longest allowance (2 s).
    expect(Math.max(0, ...a.frozen.map((f) => f.duration))).toBeGreaterThanOrEqual(2);
    expect(a.black).toEqual([]);
  });

  it('has sound that is silent for most of the silent clip', async () => {
    const a = await analysis('silent');
    expect(a.audio).not.toBeNull();
    expect(sum(a.audio?.silence ?? [])).toBeGreaterThan(2.5);
  });

  it('is far too loud in the too_loud clip', async () => {
    const a = await analysis('too_loud');
    expect(a.audio?.integratedLufs).toBeGreaterThan(-8);
    expect(a.audio?.truePeakDbtp).toBeGreaterThan(-3);
  });

  it('runs 1 s short in the wrong_duration clip', async () => {
    const a = await analysis('wrong_duration');
    expect(a.decodedSeconds).toBeCloseTo(clip('wrong_duration').spec.durationSeconds - 1, 2);
  });

  it('has another shape in the wrong_aspect clip', async () => {
    const { spec, file } = clip('wrong_aspect');
    const info = await probe(file);
    expect(info.video).not.toBeNull();
    expect((info.video?.width ?? 0) / (info.video?.height ?? 1)).not.toBeCloseTo(spec.width / spec.height, 2);
  });

  it('cannot be decoded to the end in the truncated clip', async () => {
    const a = await analysis('truncated');
    expect(a.decodeErrors.length > 0 || a.decodedSeconds < 4).toBe(true);
  });

  it('differs only in its text for missing_text and misspelt_text', async () => {
    for (const kind of ['missing_text', 'misspelt_text'] as const) {
      const a = await analysis(kind);
      expect({ kind, black: a.black, frozen: a.frozen, errors: a.decodeErrors }).toEqual({
        kind,
        black: [],
        frozen: [],
        errors: [],
      });
      expect(a.decodedSeconds).toBeCloseTo(5, 2);
    }
    expect(clip('misspelt_text').spec.onScreenText).toBe(CORPUS_TEXT);
    expect(MISSPELT_TEXT).not.toBe(CORPUS_TEXT);
  });

  it('refuses a clip length the defects do not fit in', async () => {
    await expect(makeDefectCorpus(join(dir, 'short'), { durationSeconds: 2 })).rejects.toMatchObject({
      kind: 'invalid',
    });
  });
});
