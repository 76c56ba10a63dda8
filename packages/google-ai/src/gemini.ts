import type { GenerateContentParameters, GenerateContentResponse, GoogleGenAI } from '@google/genai';
import { observedHttp, type GoogleAuthOptions, type HttpExchange } from './client';
import { clipGoogleText, describeGoogleError, readGoogleError, type GoogleErrorInfo } from './errors';

/** What the Gemini director and the judge are configured with. */
export interface GeminiOptions {
  project: string;
  location: string;
  /** Default: DEFAULT_GEMINI_MODEL. */
  model?: string;
  /** The Vertex endpoint; tests point it at a local server. Default: the SDK's regional endpoint. */
  baseUrl?: string;
  /**
   * Passed to google-auth-library. Omitted: application-default credentials (the service
   * account on Cloud Run). Tests pass `accessTokenAuth(token)`, which keeps the SDK from looking
   * for Google credentials at all.
   */
  googleAuthOptions?: GoogleAuthOptions;
}

/** Finish reasons that mean the model's safety filters stopped the answer. */
export const SAFETY_FINISH_REASONS: ReadonlySet<string> = new Set([
  'SAFETY',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
]);

export type GeminiJsonAnswer =
  { kind: 'json'; value: unknown } | { kind: 'blocked'; reason: string } | { kind: 'unusable'; why: string };

/**
 * Reads a structured-output generateContent response without trusting any of it: a safety block
 * (of the prompt, or of the answer by `safetyFinishReasons`), or the first candidate's text parsed
 * as JSON, for the caller to check against its own schema.
 */
export function readGeminiJson(
  response: GenerateContentResponse,
  safetyFinishReasons: ReadonlySet<string> = SAFETY_FINISH_REASONS,
): GeminiJsonAnswer {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    const message = response.promptFeedback?.blockReasonMessage;
    return { kind: 'blocked', reason: `${blockReason}${message ? `: ${message}` : ''}` };
  }
  const candidate = response.candidates?.[0];
  if (!candidate) return { kind: 'unusable', why: 'the answer has no candidates' };
  const finish = candidate.finishReason ?? 'FINISH_REASON_UNSPECIFIED';
  if (safetyFinishReasons.has(finish)) {
    return { kind: 'blocked', reason: `${finish}${candidate.finishMessage ? `: ${candidate.finishMessage}` : ''}` };
  }
  // Thought parts are the model's scratchpad, not its answer.
  const text = (candidate.content?.parts ?? [])
    .filter((p) => typeof p.text === 'string' && !p.thought)
    .map((p) => p.text)
    .join('');
  if (!text.trim()) return { kind: 'unusable', why: `the answer has no text (finishReason ${finish})` };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch (err) {
    return {
      kind: 'unusable',
      why: `the answer is not JSON (${(err as Error).message}; finishReason ${finish}): ${clipGoogleText(text, 120)}`,
    };
  }
}

/** Why a bounded Gemini call failed, for the caller's own classification. */
export type GeminiCallFailure =
  /** Our time bound fired. */
  | { kind: 'timeout'; timeoutMs: number }
  /** The caller's signal fired. */
  | { kind: 'aborted' }
  /** Google answered with an error. */
  | { kind: 'google'; error: GoogleErrorInfo }
  /** No answer: connection refused or reset, DNS, a body that broke off. */
  | { kind: 'network'; description: string };

export class GeminiCallError extends Error {
  constructor(
    readonly failure: GeminiCallFailure,
    options: { cause: unknown },
  ) {
    super(`gemini call failed: ${failure.kind}`, options);
    this.name = 'GeminiCallError';
  }
}

/**
 * One generateContent call bounded by `timeoutMs` and the caller's `signal`, through our fetch
 * (which keeps the Retry-After header the SDK's ApiError drops). Failures are GeminiCallError.
 */
export async function generateContentBounded(
  ai: GoogleGenAI,
  params: GenerateContentParameters,
  bounds: { timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<GenerateContentResponse> {
  const timeout = AbortSignal.timeout(bounds.timeoutMs);
  const abortSignal = bounds.signal ? AbortSignal.any([bounds.signal, timeout]) : timeout;
  const exchange: HttpExchange = {};
  try {
    return await ai.models.generateContent({
      ...params,
      config: { ...params.config, abortSignal, httpOptions: observedHttp(exchange) },
    });
  } catch (err) {
    const failure = failureOf(err, exchange, timeout.aborted ? bounds.timeoutMs : undefined, !!bounds.signal?.aborted);
    throw new GeminiCallError(failure, { cause: err });
  }
}

function failureOf(
  err: unknown,
  exchange: HttpExchange,
  timedOutAfterMs: number | undefined,
  callerAborted: boolean,
): GeminiCallFailure {
  // Our bound first: when both fired, the caller's signal may itself be a deadline further up.
  if (timedOutAfterMs !== undefined) return { kind: 'timeout', timeoutMs: timedOutAfterMs };
  if (callerAborted) return { kind: 'aborted' };
  const google = readGoogleError(err, exchange);
  return google ? { kind: 'google', error: google } : { kind: 'network', description: describeGoogleError(err) };
}
