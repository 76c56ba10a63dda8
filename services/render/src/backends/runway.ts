import RunwayML, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@runwayml/sdk';
import type { ShotSpec } from '@aiprod/contracts';
import { BackendFailure, type BackendError, type PollResult, sentRequest, type VideoBackend } from './backend';
import {
  callWithTimeout,
  statusRecordingFetch,
  fetchUrlOutput,
  VENDOR_CANCEL_TIMEOUT_MS,
  VENDOR_FETCH_TIMEOUT_MS,
  errorMessage,
  errorName,
  RequestAbortedError,
  RequestTimeoutError,
  retryAfterMs,
  safeMessage,
} from './vendor-http';

/** One API call (submit, poll): the API answers in well under a second when healthy. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How much longer the SDK's own timeout waits than ours, so ours always fires first. */
const SDK_BACKSTOP_SLACK_MS = 5_000;

/**
 * Runway through `@runwayml/sdk`: text_to_video, then GET /v1/tasks/{id} until it ends, then the
 * first output URL is streamed to disk at once (Runway's URLs expire in 24–48 h).
 *
 * The SDK's own retries are off (`maxRetries: 0`): the render pool's fallback policy owns
 * retries, backoff and circuit breaking, and a hidden retry of a create could pay twice.
 */

export interface RunwayBackendOptions {
  apiKey: string;
  /** The SDK's `baseURL` (a test server); default Runway's production API. */
  baseUrl?: string;
  /** A text-to-video model: `gen4.5` (default), `veo3.1` or `veo3.1_fast`. */
  model?: string;
  /** Runway asks for no faster than every 5 s. */
  pollIntervalMs?: number;
  /** Budget for downloading the output file. Default 120 s. */
  fetchTimeoutMs?: number;
  /** Budget for one API call (create, poll, cancel). Default 30 s. */
  requestTimeoutMs?: number;
}

interface RunwayModel {
  ratios: readonly string[];
  durations: { min: number; max: number } | { oneOf: readonly number[] };
  /** Veo via Runway takes a negative prompt; gen4.5 has none, so it is folded into the text. */
  negativePrompt: boolean;
}

const VEO: RunwayModel = {
  ratios: ['1280:720', '720:1280', '1080:1920', '1920:1080'],
  durations: { oneOf: [4, 6, 8] },
  negativePrompt: true,
};

/** Text-to-video models and what they accept (from the SDK 4.20 request types). */
export const RUNWAY_TEXT_TO_VIDEO_MODELS: Record<string, RunwayModel> = {
  'gen4.5': { ratios: ['1280:720', '720:1280'], durations: { min: 2, max: 10 }, negativePrompt: false },
  'veo3.1': VEO,
  'veo3.1_fast': VEO,
};

/** Runway's limit on `promptText`, in UTF-16 code units (JavaScript string length). */
export const RUNWAY_PROMPT_LIMIT = 1000;

/** The allowed ratio whose shape is closest to width:height (compared on a log scale, so
 *  2:1 and 1:2 are equally far from 1:1). */
export function nearestRatio(width: number, height: number, ratios: readonly string[]): string {
  const target = Math.log(width / height);
  let best = ratios[0]!;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const ratio of ratios) {
    const [w, h] = ratio.split(':').map(Number) as [number, number];
    const distance = Math.abs(Math.log(w / h) - target);
    if (distance < bestDistance) {
      best = ratio;
      bestDistance = distance;
    }
  }
  return best;
}

/** Whole seconds the model accepts, never shorter than the shot when the model allows it
 *  (a longer clip is trimmed later; a shorter one leaves a hole in the cut). */
export function runwayDuration(seconds: number, durations: RunwayModel['durations']): number {
  const wanted = Math.ceil(seconds - 1e-6);
  if ('oneOf' in durations) {
    const sorted = [...durations.oneOf].sort((a, b) => a - b);
    return sorted.find((d) => d >= wanted) ?? sorted[sorted.length - 1]!;
  }
  return Math.min(durations.max, Math.max(durations.min, wanted));
}

/** Cuts `text` to `limit` UTF-16 units without leaving half of a surrogate pair. */
function cut(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let out = text.slice(0, Math.max(0, limit));
  const last = out.charCodeAt(out.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  return out;
}

/**
 * The prompt text: the shot's prompt, then what to fix from a rejected take, then (for models
 * without a negative prompt) what to avoid. The shot's prompt is kept whole; the additions are
 * cut to fit Runway's 1000-unit limit.
 */
export function runwayPromptText(spec: ShotSpec, foldNegative = true): string {
  const prompt = cut(spec.prompt.trim(), RUNWAY_PROMPT_LIMIT);
  const extras: string[] = [];
  if (spec.retakeNote?.trim()) extras.push(`Unlike the previous take, avoid this: ${spec.retakeNote.trim()}.`);
  if (foldNegative && spec.negativePrompt?.trim()) extras.push(`Avoid: ${spec.negativePrompt.trim()}.`);
  if (!extras.length) return prompt;
  const room = RUNWAY_PROMPT_LIMIT - prompt.length - 1;
  return room > 0 ? `${prompt} ${cut(extras.join(' '), room)}`.trim() : prompt;
}

/** Why a task failed, from Runway's failure code (docs: errors/task-failures). */
function classifyFailureCode(code: string): BackendError['class'] {
  // SAFETY.INPUT.* / SAFETY.OUTPUT.* (and INPUT_PREPROCESSING.SAFETY.*): moderation; Runway
  // says never retry the same generation.
  if (code.includes('SAFETY')) return 'safety';
  // INTERNAL.BAD_OUTPUT.*: the generation was rejected for quality; a new task may succeed.
  if (code.startsWith('INTERNAL.BAD_OUTPUT')) return 'no_output';
  // ASSET.INVALID*: an input we sent is unusable; retrying the same input cannot help.
  if (code.startsWith('ASSET.INVALID')) return 'invalid';
  // INTERNAL and anything new: Runway's side, worth another try.
  return 'transient';
}

/** HTTP statuses as Runway documents them (docs: errors/errors). */
function classifyStatus(status: number): BackendError['class'] {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  // 408/409: the request or a lock timed out on the way; nothing was decided.
  if (status === 408 || status === 409) return 'transient';
  if (status >= 500) return 'transient';
  // 400, 404, 405, 422 and the rest of 4xx: the request itself is wrong.
  return 'invalid';
}

export function runwayBackend(options: RunwayBackendOptions): VideoBackend {
  const modelName = options.model ?? 'gen4.5';
  const model = RUNWAY_TEXT_TO_VIDEO_MODELS[modelName];
  if (!model) {
    throw new Error(
      `runway model ${modelName} is not supported for text_to_video; use one of ${Object.keys(RUNWAY_TEXT_TO_VIDEO_MODELS).join(', ')}`,
    );
  }
  const secrets = [options.apiKey];
  const requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const client = new RunwayML({
    apiKey: options.apiKey,
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    maxRetries: 0,
    // A backstop only: callWithTimeout below enforces requestTimeoutMs and can tell a timeout
    // from the caller's abort.
    timeout: requestTimeoutMs + SDK_BACKSTOP_SLACK_MS,
    // The SDK would log failed requests itself; our caller logs the classified error instead.
    logLevel: 'off',
    fetch: statusRecordingFetch(),
  });
  /**
   * Seconds asked of each task this process created. Runway's task view does not echo the
   * request, so a worker that resumes another's task after a restart cannot know them.
   */
  const requestedSeconds = new Map<string, number>();

  const error = (detail: Omit<BackendError, 'message'> & { message: string }): BackendError => ({
    ...detail,
    message: safeMessage(detail.message, secrets),
  });

  const malformed = (what: string) =>
    new BackendFailure(
      error({
        class: 'transient',
        code: 'runway.malformed_response',
        message: `runway: ${what}`,
        charged: false,
      }),
    );

  const classify = (err: unknown): BackendError => {
    if (err instanceof BackendFailure) return err.detail;
    if (err instanceof RequestAbortedError || err instanceof APIUserAbortError) {
      return error({ class: 'canceled', code: 'runway.aborted', message: 'runway: request aborted', charged: false });
    }
    if (err instanceof RequestTimeoutError || err instanceof APIConnectionTimeoutError) {
      return error({
        class: 'transient',
        code: 'runway.request_timeout',
        message: `runway: ${err.message}`,
        charged: false,
      });
    }
    if (err instanceof APIConnectionError) {
      const cause = (err as { cause?: unknown }).cause;
      return error({
        class: 'transient',
        code: 'runway.network',
        message: `runway: connection failed: ${cause ? errorMessage(cause) : err.message}`,
        charged: false,
      });
    }
    if (err instanceof APIError && typeof err.status === 'number') {
      const klass = classifyStatus(err.status);
      const wait = retryAfterMs(err.headers);
      return error({
        class: klass,
        code: `HTTP ${err.status}`,
        message: `runway: ${err.message}`,
        charged: false,
        ...(wait !== undefined && (klass === 'rate_limited' || klass === 'transient') ? { retryAfterMs: wait } : {}),
      });
    }
    if (errorName(err) === 'SyntaxError') {
      // The SDK parses a JSON content type with response.json(): a truncated body lands here.
      return error({
        class: 'transient',
        code: 'runway.malformed_response',
        message: `runway: response was not valid JSON (${errorMessage(err)})`,
        charged: false,
      });
    }
    return error({
      class: 'transient',
      code: 'runway.unexpected',
      message: `runway: ${errorMessage(err)}`,
      charged: false,
    });
  };

  const fail = (err: unknown): never => {
    throw err instanceof BackendFailure ? err : new BackendFailure(classify(err));
  };

  return {
    name: 'runway',
    model: modelName,
    pollIntervalMs: options.pollIntervalMs ?? 5000,

    async submit(spec, ctx) {
      const duration = runwayDuration(spec.durationSeconds, model.durations);
      const fields = {
        model: modelName,
        promptText: runwayPromptText(spec, !model.negativePrompt),
        ratio: nearestRatio(spec.width, spec.height, model.ratios),
        duration,
        ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
        ...(model.negativePrompt && spec.negativePrompt?.trim() ? { negativePrompt: spec.negativePrompt.trim() } : {}),
      };
      const body = fields as unknown as Parameters<RunwayML['textToVideo']['create']>[0];
      // Read back from the body itself; text_to_video carries no image yet, so no references.
      const sent = sentRequest({
        model: fields.model,
        prompt: fields.promptText,
        negativePrompt: 'negativePrompt' in fields ? fields.negativePrompt : undefined,
        seed: fields.seed,
      });
      let created: unknown;
      try {
        created = await callWithTimeout(
          ctx.signal,
          requestTimeoutMs,
          (s) => client.textToVideo.create(body, { signal: s }),
          { backend: 'runway', operation: 'create' },
        );
      } catch (err) {
        return fail(err);
      }
      const id = (created as { id?: unknown } | null)?.id;
      if (typeof id !== 'string' || id === '') throw malformed('create answered without a task id');
      requestedSeconds.set(id, duration);
      return { taskId: id, sent };
    },

    async poll(taskId, signal): Promise<PollResult> {
      let task: unknown;
      try {
        task = await callWithTimeout(signal, requestTimeoutMs, (s) => client.tasks.retrieve(taskId, { signal: s }), {
          backend: 'runway',
          operation: 'poll',
        });
      } catch (err) {
        return fail(err);
      }
      if (!task || typeof task !== 'object') throw malformed('task view is not an object');
      const t = task as {
        status?: unknown;
        progress?: unknown;
        output?: unknown;
        failure?: unknown;
        failureCode?: unknown;
        cost?: { credits?: unknown };
      };
      const credits = typeof t.cost?.credits === 'number' ? t.cost.credits : undefined;
      switch (t.status) {
        case 'PENDING':
          return { state: 'pending', detail: t.status };
        case 'THROTTLED':
          // Queued behind the organisation's concurrency limit: not started, not billed, not a failure.
          return { state: 'pending', detail: t.status, busy: true };
        case 'RUNNING': {
          const progress = typeof t.progress === 'number' ? Math.min(1, Math.max(0, t.progress)) : undefined;
          return { state: 'pending', detail: 'RUNNING', ...(progress !== undefined ? { progress } : {}) };
        }
        case 'SUCCEEDED': {
          const url = Array.isArray(t.output) ? t.output.find((o): o is string => typeof o === 'string') : undefined;
          if (!url) {
            return {
              state: 'failed',
              error: error({
                class: 'no_output',
                code: 'runway.empty_output',
                message: 'runway: task SUCCEEDED without an output URL',
                charged: credits === undefined ? true : credits > 0,
              }),
            };
          }
          const seconds = requestedSeconds.get(taskId);
          requestedSeconds.delete(taskId);
          // After a restart the requested length is unknown here (see requestedSeconds); 0 says
          // "not measured" and the pool should price from the probed clip instead.
          return { state: 'succeeded', output: { kind: 'url', url }, usage: { outputSeconds: seconds ?? 0 } };
        }
        case 'FAILED': {
          requestedSeconds.delete(taskId);
          const code = typeof t.failureCode === 'string' && t.failureCode ? t.failureCode : 'runway.failed';
          const klass = classifyFailureCode(code);
          const failure = typeof t.failure === 'string' ? t.failure : 'no reason given';
          return {
            state: 'failed',
            error: error({
              class: klass,
              code,
              message: `runway: task failed (${code}): ${failure}`,
              // Runway reports what it kept; moderation refusals are never billed.
              charged: klass === 'safety' ? false : (credits ?? 0) > 0,
            }),
          };
        }
        case 'CANCELLED':
          requestedSeconds.delete(taskId);
          return {
            state: 'failed',
            error: error({
              class: 'canceled',
              code: 'runway.cancelled',
              message: 'runway: task was cancelled or deleted',
              charged: (credits ?? 0) > 0,
            }),
          };
        default:
          throw malformed(`unknown task status ${JSON.stringify(t.status)}`);
      }
    },

    async fetchResult(output, outFile, signal) {
      await fetchUrlOutput('runway', output, outFile, signal, {
        timeoutMs: options.fetchTimeoutMs ?? VENDOR_FETCH_TIMEOUT_MS,
        secrets,
      });
    },

    async cancel(taskId) {
      requestedSeconds.delete(taskId);
      try {
        // DELETE cancels a live task and deletes a finished one; either way we are done with it.
        await callWithTimeout(
          undefined,
          Math.min(requestTimeoutMs, VENDOR_CANCEL_TIMEOUT_MS),
          (s) => client.tasks.delete(taskId, { signal: s }),
          { backend: 'runway', operation: 'cancel' },
        );
      } catch {
        // Never throws: the attempt deadline or job cancel path must go on regardless.
      }
      // Runway bills succeeded tasks only: a cancelled one costs nothing.
      return { charged: false };
    },

    classify,
  };
}
