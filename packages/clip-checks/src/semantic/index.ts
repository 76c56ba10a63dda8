export {
  SEMANTIC_CHECK_NAMES,
  skippedSemanticChecks,
  type JudgeInput,
  type JudgeResult,
  type SemanticCheckName,
  type SemanticJudge,
} from './judge';
export { createLocalJudge, LOCAL_JUDGE_DEFAULTS, type LocalJudgeOptions } from './local-judge';
export {
  createGeminiJudge,
  DEFAULT_GEMINI_THRESHOLDS,
  GEMINI_RESPONSE_SCHEMA,
  GeminiVerdictSchema,
  type GeminiJudgeOptions,
  type GeminiThresholds,
  type GeminiVerdict,
} from './gemini-judge';
