export { DEFAULT_GEMINI_MODEL } from './models';
export {
  accessTokenAuth,
  createGoogleAiClient,
  observedHttp,
  type ApiKeyClientOptions,
  type GoogleAiClientOptions,
  type GoogleAuthOptions,
  type HttpExchange,
  type VertexClientOptions,
} from './client';
export {
  causeNames,
  clipGoogleText,
  describeGoogleError,
  protobufDurationMs,
  readGoogleError,
  redactGoogleText,
  retryAfterMs,
  retryInfoMs,
  type GoogleErrorInfo,
} from './errors';
export {
  GeminiCallError,
  SAFETY_FINISH_REASONS,
  generateContentBounded,
  readGeminiJson,
  type GeminiCallFailure,
  type GeminiJsonAnswer,
  type GeminiOptions,
} from './gemini';
