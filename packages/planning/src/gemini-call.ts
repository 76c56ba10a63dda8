import { setTimeout as delay } from 'node:timers/promises';
import type { Static, TSchema } from '@sinclair/typebox';
import { describeErrors, validate } from '@aiprod/contracts';
import {
  DEFAULT_GEMINI_MODEL,
  GeminiCallError,
  SAFETY_FINISH_REASONS,
  clipGoogleText,
  createGoogleAiClient,
  generateContentBounded,
  readGeminiJson,
  type GeminiOptions,
} from '@aiprod/google-ai';
import type { GenerateContentResponse, GoogleGenAI, Schema } from '@google/genai';
import { PlanningError } from './director/director';

/** Retries of a failed call: the first after a second, doubling, never more than ten seconds apart. */
const RETRY_BASE_MS = 1_000;
const MAX_RETRY_DELAY_MS = 10_000;

/** How a planning step (the director, the translator) calls Gemini on Vertex AI. */
export interface GeminiCallOptions extends GeminiOptions {
  /** Bound on one generateContent call. Default: the step's (45 s to plan, 30 s to translate). */
  timeoutMs?: number;
  /** Calls per answer, the first included, for retryable outcomes. Default 3. */
  maxAttempts?: number;
  /** First pause between calls; doubles each time. Default 1 s. */
  retryBaseMs?: number;
  /** Longest pause, also the cap on a server's Retry-After. Default 10 s. */
  maxRetryDelayMs?: number;
}

/** A recitation is refused like a safety block: the same request would recite again. */
const BLOCKING_FINISH: ReadonlySet<string> = new Set([...SAFETY_FINISH_REASONS, 'RECITATION']);

export type GeminiReading<A> =
  { kind: 'answer'; answer: A } | { kind: 'blocked'; reason: string } | { kind: 'unusable'; why: string };

/** What a step's own check makes of a well-formed answer: the value, or why to ask again. */
export type Accepted<V> = { ok: true; value: V } | { ok: false; why: string };

export const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** Reads a generateContent response without trusting any of it: `what` names the schema in errors. */
export function readGeminiAnswer<S extends TSchema>(
  response: GenerateContentResponse,
  schema: S,
  what: string,
): GeminiReading<Static<S>> {
  const answer = readGeminiJson(response, BLOCKING_FINISH);
  if (answer.kind !== 'json') return answer;
  const checked = validate(schema, answer.value);
  if (!checked.ok) {
    return { kind: 'unusable', why: `the answer does not match the ${what} schema: ${describeErrors(checked.errors)}` };
  }
  return { kind: 'answer', answer: checked.value };
}

/**
 * Gemini's failures, each with its reason: a safety refusal will refuse again and a malformed
 * request (400) or unknown model (404) is ours to fix, so those are permanent; rate limits,
 * server errors, timeouts, credential hiccups (401/403 while IAM propagates) and broken
 * connections may pass, so they are retried.
 */
export function classifyGeminiError(err: unknown, model: string): PlanningError {
  const who = `gemini:${model}`;
  const failure = err instanceof GeminiCallError ? err.failure : undefined;
  switch (failure?.kind) {
    case 'timeout':
      return new PlanningError('retryable', `${who}: no answer within the timeout`, undefined, { cause: err });
    case 'aborted':
      return new PlanningError('retryable', `${who}: aborted by the caller`, undefined, { cause: err });
    case 'google': {
      const { httpStatus, statusText, retryAfterMs } = failure.error;
      const message = clipGoogleText(failure.error.message, 200);
      if (httpStatus === 400 || httpStatus === 404) {
        const text = `${who}: Vertex rejected the request (${statusText}): ${message}`;
        return new PlanningError('permanent', text, undefined, { cause: err });
      }
      const what =
        httpStatus === 429
          ? 'rate limited by Vertex'
          : httpStatus >= 500
            ? 'Vertex failed'
            : 'Vertex refused the request';
      const wait = retryAfterMs === undefined ? undefined : retryAfterMs / 1000;
      return new PlanningError('retryable', `${who}: ${what} (${statusText}): ${message}`, wait, { cause: err });
    }
    default: {
      const description = failure?.kind === 'network' ? failure.description : String(err);
      const text = `${who}: could not reach Vertex: ${clipGoogleText(description, 200)}`;
      return new PlanningError('retryable', text, undefined, { cause: err });
    }
  }
}

/** What one kind of planning call asks of Gemini, fixed for the life of its caller. */
export interface GeminiStep<A> {
  /** Named in option errors: "the gemini director needs …". */
  who: string;
  defaultTimeoutMs: number;
  /** An empty model id is refused up front rather than sent. */
  requireModelId?: boolean;
  /** Thrown (retryable) when the caller aborts during a pause between calls. */
  abortedMessage: string;
  systemInstruction: string;
  responseSchema: Schema;
  temperature: number;
  read(response: GenerateContentResponse): GeminiReading<A>;
}

/** What one request adds: what a safety block stopped, and the step's check of the answer. */
export interface GeminiRequest<A, V> {
  text: string;
  /** "the brief", "the fr translation": in the permanent error of a safety block. */
  blocked: string;
  accept(answer: A): Accepted<V>;
  signal?: AbortSignal;
}

/**
 * One Vertex client, bounded attempts and one structured-output call, shared by the planning
 * steps: a permanent failure or a safety block ends at once, anything else is asked again after
 * a doubling pause that honours the server's Retry-After up to the cap.
 */
export class GeminiCaller<A> {
  readonly name: string;
  private readonly ai: GoogleGenAI;
  private readonly model: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(
    opts: GeminiCallOptions,
    private readonly step: GeminiStep<A>,
  ) {
    checkOptions(opts, step);
    this.model = opts.model ?? DEFAULT_GEMINI_MODEL;
    this.name = `gemini:${this.model}`;
    this.timeoutMs = opts.timeoutMs ?? step.defaultTimeoutMs;
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.retryBaseMs = opts.retryBaseMs ?? RETRY_BASE_MS;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? MAX_RETRY_DELAY_MS;
    this.ai = createGoogleAiClient({
      project: opts.project,
      location: opts.location,
      ...(opts.googleAuthOptions ? { googleAuthOptions: opts.googleAuthOptions } : {}),
      ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    });
  }

  async call<V>(request: GeminiRequest<A, V>): Promise<V> {
    let last: PlanningError | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) {
        const backoff = Math.min(this.maxRetryDelayMs, this.retryBaseMs * 2 ** (attempt - 2));
        const asked = last?.retryAfterSeconds !== undefined ? last.retryAfterSeconds * 1000 : 0;
        await this.pause(Math.min(this.maxRetryDelayMs, Math.max(backoff, asked)), request.signal);
      }
      let reading: GeminiReading<A>;
      try {
        reading = await this.ask(request.text, request.signal);
      } catch (err) {
        if (!(err instanceof PlanningError)) throw err;
        if (err.kind === 'permanent') throw err;
        last = err;
        continue;
      }
      if (reading.kind === 'blocked') {
        throw new PlanningError(
          'permanent',
          `${this.name}: the model's safety filter blocked ${request.blocked} (${clip(reading.reason, 200)})`,
        );
      }
      if (reading.kind === 'unusable') {
        last = new PlanningError('retryable', `${this.name}: unusable answer: ${clip(reading.why, 400)}`);
        continue;
      }
      const accepted = request.accept(reading.answer);
      if (accepted.ok) return accepted.value;
      last = new PlanningError('retryable', `${this.name}: ${accepted.why}`);
    }
    throw new PlanningError(
      'retryable',
      `${last?.message ?? `${this.name}: no answer`} (after ${this.maxAttempts} attempts)`,
      last?.retryAfterSeconds,
      { cause: last },
    );
  }

  /** One generateContent call, bounded in time. */
  private async ask(text: string, signal?: AbortSignal): Promise<GeminiReading<A>> {
    try {
      const response = await generateContentBounded(
        this.ai,
        {
          model: this.model,
          contents: [{ role: 'user', parts: [{ text }] }],
          config: {
            systemInstruction: this.step.systemInstruction,
            responseMimeType: 'application/json',
            responseSchema: this.step.responseSchema,
            temperature: this.step.temperature,
          },
        },
        { timeoutMs: this.timeoutMs, signal },
      );
      return this.step.read(response);
    } catch (err) {
      throw classifyGeminiError(err, this.model);
    }
  }

  private async pause(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      await delay(ms, undefined, signal ? { signal } : {});
    } catch {
      throw new PlanningError('retryable', this.step.abortedMessage);
    }
  }
}

function checkOptions(options: GeminiCallOptions, step: GeminiStep<unknown>): void {
  if (!options.project) throw new Error(`the ${step.who} needs a Google Cloud project`);
  if (!options.location) throw new Error(`the ${step.who} needs a Vertex AI location`);
  if (step.requireModelId && options.model !== undefined && !options.model) {
    throw new Error(`the ${step.who} needs a model id`);
  }
  if (options.maxAttempts !== undefined && !(options.maxAttempts >= 1 && options.maxAttempts <= 10)) {
    throw new Error(`maxAttempts must be 1..10, got ${options.maxAttempts}`);
  }
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new Error('timeoutMs must be positive');
}
