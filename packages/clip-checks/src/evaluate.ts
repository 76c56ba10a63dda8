import { join } from 'node:path';
import type { BackendName, QaThresholds, ShotSpec } from '@aiprod/contracts';
import { extractFrame } from '@aiprod/media';
import { skippedSemanticChecks, type SemanticJudge } from './semantic/judge';
import { technicalChecks, type ClipExpectation } from './technical';
import type { QaEvaluation } from './types';

/** Grabbing one evidence frame at a defect's time: a single seek and decode. */
const EVIDENCE_FRAME_TIMEOUT_MS = 30_000;

export interface EvaluateInput {
  file: string;
  expectation: ClipExpectation;
  thresholds: QaThresholds;
  /** The planned shot, for the semantic judge; absent for an arbitrary file. */
  spec?: ShotSpec;
  backend?: BackendName;
  /** null: no judge configured, and the semantic checks say so instead of inventing a score. */
  judge: SemanticJudge | null;
  workDir: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Every check on one clip, with its evidence: the technical pass, and the semantic judge's
 * verdict only when the file is sound enough to look at (judging a file that does not decode
 * tells nothing). A paid judge is asked after the technical pass; a free one alongside it.
 */
export async function evaluateClip(input: EvaluateInput): Promise<QaEvaluation> {
  const started = Date.now();
  const signalOpt = input.signal ? { signal: input.signal } : {};
  const judgeInput = input.spec && {
    clipPath: input.file,
    spec: input.spec,
    backend: input.backend ?? 'local',
    workDir: input.workDir,
    minTextSimilarity: input.thresholds.minTextSimilarity,
    ...signalOpt,
  };
  // A free judge starts now, beside the technical pass (the two decodes share the CPUs); its
  // verdict is dropped if the file turns out unreadable. Settled either way, never left running.
  const early =
    judgeInput && input.judge && !input.judge.paid
      ? input.judge.judge(judgeInput).then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        )
      : undefined;
  let technical: Awaited<ReturnType<typeof technicalChecks>>;
  try {
    technical = await technicalChecks(input.file, input.expectation, input.thresholds, {
      timeoutMs: input.timeoutMs,
      ...signalOpt,
    });
  } finally {
    await early;
  }
  const technicalMs = Date.now() - started;
  const unreadable = technical.checks.some(
    (c) => c.verdict === 'fail' && ['container', 'video_stream', 'decodes'].includes(c.name),
  );

  const semanticStarted = Date.now();
  let semantic = skippedSemanticChecks(
    unreadable
      ? 'the clip failed the technical checks it needs to be looked at'
      : !input.spec
        ? 'no plan to compare with'
        : 'no semantic judge is configured',
  );
  const evidenceFrames: string[] = [];
  if (!unreadable && judgeInput && input.judge) {
    const outcome = early ? await early : { result: await input.judge.judge(judgeInput) };
    if ('error' in outcome) throw outcome.error;
    semantic = outcome.result.checks;
    evidenceFrames.push(...outcome.result.evidenceFrames);
  }
  const semanticMs = Date.now() - semanticStarted;

  for (const [i, at] of technical.evidenceTimes.entries()) {
    const png = join(input.workDir, `defect-${i + 1}.png`);
    await extractFrame(input.file, at, png, { timeoutMs: EVIDENCE_FRAME_TIMEOUT_MS });
    evidenceFrames.push(png);
  }
  const checks = [...technical.checks, ...semantic];
  return {
    verdict: checks.some((c) => c.verdict === 'fail') ? 'reject' : 'pass',
    checks,
    evidenceFrames,
    timings: { technicalMs, semanticMs },
  };
}
