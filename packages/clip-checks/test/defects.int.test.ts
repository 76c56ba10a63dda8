import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRESETS } from '@aiprod/contracts';
import { makeDefectCorpus, type DefectClip, type DefectKind } from '@aiprod/testing';
import { createLocalJudge, evaluateClip, expectationFromSpec, type QaEvaluation, type SemanticJudge } from '../src';

/** Which check must catch each defect. */
const CAUGHT_BY: Record<Exclude<DefectKind, 'good'>, string[]> = {
  black: ['black_frames'],
  frozen: ['frozen_frames'],
  silent: ['silence'],
  too_loud: ['loudness'],
  wrong_duration: ['duration'],
  wrong_aspect: ['resolution', 'aspect_ratio'],
  truncated: ['decodes', 'duration'],
  missing_text: ['on_screen_text'],
  misspelt_text: ['on_screen_text'],
  not_video: ['container'],
};

const dir = mkdtempSync(join(tmpdir(), 'aiprod-defects-'));
let corpus: DefectClip[];
let judge: SemanticJudge;
const results = new Map<DefectKind, QaEvaluation>();

beforeAll(async () => {
  [corpus, judge] = await Promise.all([makeDefectCorpus(join(dir, 'corpus')), createLocalJudge()]);
  for (const clip of corpus) {
    const workDir = mkdtempSync(join(dir, `${clip.kind}-`));
    results.set(
      clip.kind,
      await evaluateClip({
        file: clip.file,
        expectation: expectationFromSpec(clip.spec, clip.withAudio),
        thresholds: PRESETS.social_quick.qa,
        spec: clip.spec,
        backend: 'local',
        judge,
        workDir,
        timeoutMs: 60_000,
      }),
    );
  }
}, 180_000);
afterAll(async () => {
  await judge?.close();
  rmSync(dir, { recursive: true, force: true });
});

const failed = (kind: DefectKind) =>
  results
    .get(kind)!
    .checks.filter((c) => c.verdict === 'fail')
    .map((c) => c.name);

describe('QA on the defect corpus', () => {
  it('passes the good clip on every check, with no skipped semantic check', () => {
    const good = results.get('good')!;
    expect(failed('good')).toEqual([]);
    expect(good.verdict).toBe('pass');
    expect(good.checks.find((c) => c.name === 'on_screen_text')?.verdict).toBe('pass');
    expect(good.checks.find((c) => c.name === 'loudness')?.verdict).toBe('pass');
  });

  it.each(Object.entries(CAUGHT_BY))('catches %s with the right check', (kind, checks) => {
    const evaluation = results.get(kind as DefectKind)!;
    expect(evaluation.verdict).toBe('reject');
    expect(failed(kind as DefectKind)).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`^(${checks.join('|')})$`))]),
    );
  });

  it('keeps evidence frames for the defects it can show', () => {
    expect(results.get('black')!.evidenceFrames.length).toBeGreaterThan(0);
    expect(results.get('frozen')!.evidenceFrames.length).toBeGreaterThan(0);
  });

  it('reports the semantic checks as skipped, not invented, when no judge is configured', async () => {
    const good = corpus.find((c) => c.kind === 'good')!;
    const evaluation = await evaluateClip({
      file: good.file,
      expectation: expectationFromSpec(good.spec, true),
      thresholds: PRESETS.social_quick.qa,
      spec: good.spec,
      judge: null,
      workDir: mkdtempSync(join(dir, 'nojudge-')),
      timeoutMs: 60_000,
    });
    const semantic = evaluation.checks.filter(
      (c) =>
        ![
          'container',
          'codec',
          'pixel_format',
          'resolution',
          'aspect_ratio',
          'frame_rate',
          'decodes',
          'duration',
          'black_frames',
          'frozen_frames',
          'scene_cuts',
          'audio_present',
          'silence',
          'loudness',
          'true_peak',
        ].includes(c.name),
    );
    expect(semantic.length).toBeGreaterThan(0);
    expect(semantic.every((c) => c.verdict === 'skipped' && /no semantic judge/.test(c.detail ?? ''))).toBe(true);
    expect(semantic.some((c) => 'measured' in c)).toBe(false);
  }, 60_000);

  describe('when the judge runs', () => {
    /** A judge that records when it was asked, around the local judge's real verdict. */
    const watching = (paid: boolean) => {
      const calls: number[] = [];
      const watched: SemanticJudge = {
        name: `watching-${paid ? 'paid' : 'free'}`,
        paid,
        judge: async (input) => {
          calls.push(Date.now());
          return judge.judge(input);
        },
        close: async () => undefined,
      };
      return { watched, calls };
    };
    const evaluate = (kind: DefectKind, with_: SemanticJudge) => {
      const clip = corpus.find((c) => c.kind === kind)!;
      return evaluateClip({
        file: clip.file,
        expectation: expectationFromSpec(clip.spec, clip.withAudio),
        thresholds: PRESETS.social_quick.qa,
        spec: clip.spec,
        judge: with_,
        workDir: mkdtempSync(join(dir, `${kind}-watch-`)),
        timeoutMs: 60_000,
      });
    };

    it('a free judge (local OCR) looks at the clip while the technical pass decodes it', async () => {
      const { watched, calls } = watching(false);
      const started = Date.now();
      const evaluation = await evaluate('good', watched);
      expect(calls).toHaveLength(1);
      // Asked before the technical pass could have finished: concurrently, not after it.
      expect(calls[0]! - started).toBeLessThan(evaluation.timings.technicalMs);
      expect(evaluation.verdict).toBe('pass');
      expect(evaluation.checks.find((c) => c.name === 'on_screen_text')?.verdict).toBe('pass');
    }, 60_000);

    it('a free judge’s verdict on a file that does not decode is discarded, as if never asked', async () => {
      const { watched } = watching(false);
      const evaluation = await evaluate('not_video', watched);
      const text = evaluation.checks.find((c) => c.name === 'on_screen_text')!;
      expect(text.verdict).toBe('skipped');
      expect(text.detail).toMatch(/failed the technical checks/);
    }, 60_000);

    it('a paid judge (Gemini) is asked only after the technical pass, and never about a file that does not decode', async () => {
      const { watched, calls } = watching(true);
      const started = Date.now();
      const good = await evaluate('good', watched);
      expect(calls).toHaveLength(1);
      expect(calls[0]! - started).toBeGreaterThanOrEqual(good.timings.technicalMs);
      await evaluate('not_video', watched);
      expect(calls).toHaveLength(1);
    }, 60_000);
  });
});
