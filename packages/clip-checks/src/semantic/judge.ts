import type { QaCheck, ShotSpec } from '@aiprod/contracts';

export interface JudgeInput {
  clipPath: string;
  spec: ShotSpec;
  backend: 'runway' | 'veo' | 'replicate' | 'local';
  /** A temporary directory the judge may write frames into; the caller removes it. */
  workDir: string;
  /** The job's preset threshold for the text match, overriding the judge's default. */
  minTextSimilarity?: number;
  signal?: AbortSignal;
}

export interface JudgeResult {
  /** Which judge gave the verdict (recorded with the QA report). */
  judge: string;
  checks: QaCheck[];
  /** PNG frames written under workDir that support the verdict. */
  evidenceFrames: string[];
}

/**
 * Looks at a clip and says whether it shows what the plan asked for. A judge throws
 * RetryableError when it could not judge (its service is down, slow or answered nonsense):
 * that is never the clip's fault. It returns failing checks only for what it saw.
 */
export interface SemanticJudge {
  readonly name: string;
  /**
   * Whether each verdict is billed (Gemini). A free judge (local OCR) looks at the clip while the
   * technical pass decodes it; a paid one only after that pass finds the file sound enough.
   */
  readonly paid: boolean;
  judge(input: JudgeInput): Promise<JudgeResult>;
  /** Releases the judge's resources (OCR worker, HTTP agents). Idempotent. */
  close(): Promise<void>;
}

/** Every check a semantic judge may report, in report order. */
export const SEMANTIC_CHECK_NAMES = [
  'prompt_adherence',
  'brand_safety',
  'on_screen_text',
  'visual_artefacts',
  'palette',
] as const;
export type SemanticCheckName = (typeof SEMANTIC_CHECK_NAMES)[number];

export const skippedCheck = (name: SemanticCheckName, reason: string): QaCheck => ({
  name,
  verdict: 'skipped',
  detail: reason,
});

/** The semantic checks when nothing judged the clip: skipped, with why — never a made-up score. */
export function skippedSemanticChecks(reason: string): QaCheck[] {
  return SEMANTIC_CHECK_NAMES.map((name) => skippedCheck(name, reason));
}

export const round2 = (n: number) => Math.round(n * 100) / 100;

/** Text for a check's detail: one line, bounded. */
export function clip(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
