import type { QaCheck } from '@aiprod/contracts';

export type { QaCheck };

export interface QaEvaluation {
  verdict: 'pass' | 'reject';
  checks: QaCheck[];
  /** Local paths of frames that show what the checks saw (stored beside the clip by the service). */
  evidenceFrames: string[];
  timings: { technicalMs: number; semanticMs: number };
}
