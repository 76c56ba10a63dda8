import Replicate from 'replicate';
import type { ShotSpec } from '@aiprod/contracts';
import { resolutionFor, snapDuration } from '@aiprod/vendor-catalogue';
import {
  BackendFailure,
  type BackendError,
  type PollResult,
  type SentRequest,
  sentRequest,
  type VideoBackend,
} from './backend';
import {
  callWithTimeout,
  recordHttpStatus,
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

/**
 * Replicate through the `replicate` client: create a prediction on a model (`owner/name`, or
 * `owner/name:version`), read it until it ends, stream its output file to disk at once
 * (Replicate deletes outputs after an hour).
 *
 * Retries: the client retries on its own (up to 5 more times, back to back, on 429 for any call
 * and on 5xx for GETs) and has no option to turn that off. The `fetch` we hand it answers each
 * repeat of a request with the first answer, without touching the network, so every client
 * call costs exactly one HTTP request and the render pool's policy decides what happens next.
 */

export interface ReplicateBackendOptions {
  apiToken: string;
  /** The client's `baseUrl`, including `/v1`; default `https://api.replicate.com/v1`. */
  baseUrl?: string;
  /** `owner/name` (the model's latest version) or `owner/name:version`. */
  model?: string;
  pollIntervalMs?: number;
  /** Replicate's server-side deadline (`Cancel-After`): a prediction not finished by then is
   *  aborted (not started: free) or canceled (started: billed). Go duration syntax. */
  cancelAfter?: string;
  /** Budget for one API call. Default 30 s. */
  requestTimeoutMs?: number;
  /** Budget for downloading the output file. Default 120 s. */
  fetchTimeoutMs?: number;
  /** The model's input for a shot. Input schemas differ per model; the default fits the
   *  model (see `inputFor`). */
  input?: (spec: ShotSpec) => Record<string, unknown>;
}

export const DEFAULT_REPLICATE_MODEL = 'wan-video/wan-2.2-t2v-fast';

/** The prompt with the reason a previous take was rejected (the model has no other field for it). */
function promptWithRetake(spec: ShotSpec): string {
  const note = spec.retakeNote?.trim();
  return note ? `${spec.prompt.trim()} Unlike the previous take, avoid this: ${note}.` : spec.prompt.trim();
}

/**
 * Input for Wan 2.2 text-to-video on Replicate (the default model), and a reasonable shape for
 * other video models: `prompt`, `negative_prompt`, `seed`, `aspect_ratio` (16:9 or 9:16),
 * `resolution` (480p/720p), and the length as `num_frames` at `frames_per_second`.
 *
 * Assumption, from Wan's schema: num_frames 81–121 and 5–30 fps. The frame rate drops for long
 * shots so the clip is never shorter than the shot when the model can make it that long; short
 * shots get Wan's minimum of 81 frames (about 5 s) and are trimmed later.
 */
export function wanInput(spec: ShotSpec): Record<string, unknown> {
  const seconds = spec.durationSeconds;
  const fps = Math.max(5, Math.min(16, Math.floor(120 / seconds)));
  const frames = Math.max(81, Math.min(121, Math.ceil(seconds * fps) + 1));
  return {
    prompt: promptWithRetake(spec),
    ...(spec.negativePrompt?.trim() ? { negative_prompt: spec.negativePrompt.trim() } : {}),
    ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
    aspect_ratio: spec.width >= spec.height ? '16:9' : '9:16',
    resolution: Math.min(spec.width, spec.height) >= 720 ? '720p' : '480p',
    frames_per_second: fps,
    num_frames: frames,
  };
}

const SEEDANCE_LITE = 'bytedance/seedance-1-lite';

/**
 * Input for Seedance 1 lite on Replicate: whole `duration` seconds (2–12, from the vendor
 * catalogue), `resolution` 480p/720p/1080p, `aspect_ratio`, `fps` 24. The model has no negative
 * prompt field; first/last frame and reference images come with the visual translator.
 */
export function seedanceInput(spec: ShotSpec): Record<string, unknown> {
  const ratio = spec.width === spec.height ? '1:1' : spec.width > spec.height ? '16:9' : '9:16';
  return {
    prompt: promptWithRetake(spec),
    ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
    duration: snapDuration('replicate', Math.ceil(spec.durationSeconds - 1e-6), spec.fps, SEEDANCE_LITE),
    resolution: resolutionFor('replicate', spec.width, spec.height, SEEDANCE_LITE),
    aspect_ratio: ratio,
    fps: 24,
  };
}

/** The input builder for a model: Seedance's own, else Wan's (a reasonable shape for other models). */
export function inputFor(modelPath: string): (spec: ShotSpec) => Record<string, unknown> {
  return modelPath === SEEDANCE_LITE ? seedanceInput : wanInput;
}

/**
 * What a prediction's input carried, read from the input itself (a configured model's input
 * builder may name things its own way; the common names are read). Text only so far: no image.
 */
export function replicateSent(model: string, input: Record<string, unknown>): SentRequest {
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const seed = Number.isSafeInteger(input.seed) && (input.seed as number) >= 0 ? (input.seed as number) : undefined;
  return sentRequest({ model, prompt: text(input.prompt) ?? '', negativePrompt: text(input.negative_prompt), seed });
}

/** Seconds of video an input asks for, read back from the prediction (so a resumed worker
 *  knows it too): num_frames / frames_per_second, else `duration`. */
export function requestedSeconds(input: unknown): number | undefined {
  if (!input || typeof input !== 'object') return undefined;
  const i = input as Record<string, unknown>;
  if (typeof i.num_frames === 'number' && typeof i.frames_per_second === 'number' && i.frames_per_second > 0) {
    return i.num_frames / i.frames_per_second;
  }
  return typeof i.duration === 'number' ? i.duration : undefined;
}

/** Words models and Replicate's own checker use when they refuse content. */
const SAFETY_TEXT = /nsfw|safety|sensitive content|content policy|moderation|flagged|inappropriate/i;

/** When a 429 body says when the limit resets ("resets in ~30s", "Expected available in 1 second"). */
function retryAfterFromBody(text: string): number | undefined {
  const match =
    /(?:resets in|available in)\s*~?\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|second|seconds|m|min|minute|minutes)?\b/i.exec(text);
  if (!match) return undefined;
  const n = Number(match[1]);
  const unit = (match[2] ?? 's').toLowerCase();
  return Math.round(unit === 'ms' ? n : unit.startsWith('m') && unit !== 'ms' ? n * 60_000 : n * 1000);
}

function classifyStatus(status: number): BackendError['class'] {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  // 402: out of credit. Not this request's fault, and no retry here will fix it: the policy
  // treats it like a key that stopped working.
  if (status === 402) return 'auth';
  if (status === 408 || status === 409) return 'transient';
  if (status >= 500) return 'transient';
  return 'invalid';
}

/** The first URL-looking string in an output: a string, a list, or an object of them. */
function firstUrl(output: unknown): string | undefined {
  if (typeof output === 'string') return /^https?:\/\//.test(output) ? output : undefined;
  if (Array.isArray(output)) {
    for (const item of output) {
      const url = firstUrl(item);
      if (url) return url;
    }
  } else if (output && typeof output === 'object') {
    for (const value of Object.values(output)) {
      const url = firstUrl(value);
      if (url) return url;
    }
  }
  return undefined;
}

function progressFromLogs(logs: unknown): number | undefined {
  if (typeof logs !== 'string') return undefined;
  const all = [...logs.matchAll(/(\d{1,3})%\|/g)];
  const last = all[all.length - 1];
  return last ? Math.min(1, Number(last[1]) / 100) : undefined;
}

/**
 * A fetch for the client that sends each request once: the client repeats a request by calling
 * fetch again with the same `init` object, and gets the first answer (or error) back.
 */
function fetchOnce(): typeof fetch {
  const answered = new WeakMap<object, { response?: Response; error?: unknown }>();
  return async (input, init) => {
    const seen = init ? answered.get(init) : undefined;
    if (seen) {
      if (seen.response) return seen.response.clone();
      throw seen.error;
    }
    try {
      const response = await fetch(input, init);
      recordHttpStatus(response.status);
      if (init) answered.set(init, { response: response.clone() });
      return response;
    } catch (error) {
      if (init) answered.set(init, { error });
      throw error;
    }
  };
}

interface ApiErrorLike {
  message: string;
  response: { status: number; headers: Headers };
}

/** The client's ApiError, recognised by shape (it is not exported as a value). */
function isApiError(err: unknown): err is ApiErrorLike {
  const response = (err as { response?: { status?: unknown; headers?: unknown } } | null)?.response;
  return errorName(err) === 'ApiError' && typeof response?.status === 'number' && response.headers instanceof Headers;
}

export function replicateBackend(options: ReplicateBackendOptions): VideoBackend {
  const model = options.model ?? DEFAULT_REPLICATE_MODEL;
  if (!/^[\w.-]+\/[\w.-]+(:[\w]+)?$/.test(model)) {
    throw new Error(`replicate model must be owner/name or owner/name:version, got ${model}`);
  }
  const [modelPath, version] = model.split(':') as [string, string | undefined];
  const cancelAfter = options.cancelAfter ?? '15m';
  const buildInput = options.input ?? inputFor(modelPath);
  const secrets = [options.apiToken];
  const requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const client = new Replicate({
    auth: options.apiToken,
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    userAgent: 'aiprod-render',
    fetch: fetchOnce(),
  });

  const error = (detail: BackendError): BackendError => ({ ...detail, message: safeMessage(detail.message, secrets) });

  const malformed = (what: string) =>
    new BackendFailure(
      error({
        class: 'transient',
        code: 'replicate.malformed_response',
        message: `replicate: ${what}`,
        charged: false,
      }),
    );

  const classify = (err: unknown): BackendError => {
    if (err instanceof BackendFailure) return err.detail;
    if (isApiError(err)) {
      const status = err.response.status;
      const klass = classifyStatus(status);
      const wait = retryAfterMs(err.response.headers) ?? (status === 429 ? retryAfterFromBody(err.message) : undefined);
      return error({
        class: klass,
        code: `HTTP ${status}`,
        // The client's message is "Request to <url> failed with status N: <body>."; keep the body.
        message: `replicate: HTTP ${status}: ${err.message.replace(/^Request to \S+ failed with status \d+ ?[^:]*: ?/, '')}`,
        charged: false,
        ...(wait !== undefined && (klass === 'rate_limited' || klass === 'transient') ? { retryAfterMs: wait } : {}),
      });
    }
    if (err instanceof RequestAbortedError) {
      return error({
        class: 'canceled',
        code: 'replicate.aborted',
        message: 'replicate: request aborted',
        charged: false,
      });
    }
    if (err instanceof RequestTimeoutError) {
      return error({
        class: 'transient',
        code: 'replicate.request_timeout',
        message: `replicate: ${err.message}`,
        charged: false,
      });
    }
    // Names, not instanceof: these come from undici's realm.
    if (errorName(err) === 'SyntaxError') {
      return error({
        class: 'transient',
        code: 'replicate.malformed_response',
        message: `replicate: response was not valid JSON (${errorMessage(err)})`,
        charged: false,
      });
    }
    if (errorName(err) === 'TypeError') {
      // undici's "fetch failed": refused, reset or unreachable.
      const cause = (err as { cause?: unknown }).cause;
      return error({
        class: 'transient',
        code: 'replicate.network',
        message: `replicate: connection failed: ${cause ? errorMessage(cause) : errorMessage(err)}`,
        charged: false,
      });
    }
    return error({
      class: 'transient',
      code: 'replicate.unexpected',
      message: `replicate: ${errorMessage(err)}`,
      charged: false,
    });
  };

  const fail = (err: unknown): never => {
    throw err instanceof BackendFailure ? err : new BackendFailure(classify(err));
  };

  const readJson = async (response: Response): Promise<Record<string, unknown>> => {
    const body: unknown = await response.json();
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw malformed('prediction is not an object');
    return body as Record<string, unknown>;
  };

  return {
    name: 'replicate',
    model,
    pollIntervalMs: options.pollIntervalMs ?? 2000,

    async submit(spec, ctx) {
      const input = buildInput(spec);
      let prediction: Record<string, unknown>;
      try {
        // client.request rather than predictions.create: only it can send Cancel-After.
        prediction = await callWithTimeout(
          ctx.signal,
          requestTimeoutMs,
          async (s) =>
            readJson(
              await client.request(version ? '/predictions' : `/models/${modelPath}/predictions`, {
                method: 'POST',
                headers: { 'Cancel-After': cancelAfter },
                data: version ? { version, input } : { input },
                signal: s,
              }),
            ),
          { backend: 'replicate', operation: 'create' },
        );
      } catch (err) {
        return fail(err);
      }
      if (typeof prediction.id !== 'string' || prediction.id === '') {
        throw malformed('create answered without a prediction id');
      }
      return { taskId: prediction.id, sent: replicateSent(model, input) };
    },

    async poll(taskId, signal): Promise<PollResult> {
      let p: Record<string, unknown>;
      try {
        p = (await callWithTimeout(signal, requestTimeoutMs, (s) => client.predictions.get(taskId, { signal: s }), {
          backend: 'replicate',
          operation: 'poll',
        })) as unknown as Record<string, unknown>;
      } catch (err) {
        return fail(err);
      }
      if (!p || typeof p !== 'object') throw malformed('prediction is not an object');
      const metrics = p.metrics as { predict_time?: unknown } | undefined;
      const predictSeconds = typeof metrics?.predict_time === 'number' ? metrics.predict_time : undefined;
      const billed = (predictSeconds ?? 0) > 0;
      // What a billed failure is priced on: the same usage a success reports.
      const usage = billed ? { usage: { outputSeconds: requestedSeconds(p.input) ?? 0, predictSeconds } } : {};
      const endedAt = typeof p.completed_at === 'string' ? Date.parse(p.completed_at) : Date.now();
      const deadlinePassed = typeof p.deadline === 'string' && Date.parse(p.deadline) <= endedAt;
      switch (p.status) {
        case 'starting':
          return { state: 'pending', detail: 'starting' };
        case 'processing': {
          const progress = progressFromLogs(p.logs);
          return { state: 'pending', detail: 'processing', ...(progress !== undefined ? { progress } : {}) };
        }
        case 'succeeded': {
          const url = firstUrl(p.output);
          if (!url) {
            return {
              state: 'failed',
              error: error({
                class: 'no_output',
                code: 'replicate.no_output',
                message: 'replicate: prediction succeeded without an output file',
                // Replicate bills the predict time whatever the model returned.
                charged: true,
                ...usage,
              }),
            };
          }
          return {
            state: 'succeeded',
            output: { kind: 'url', url },
            usage: {
              outputSeconds: requestedSeconds(p.input) ?? 0,
              ...(predictSeconds !== undefined ? { predictSeconds } : {}),
            },
          };
        }
        case 'failed': {
          const text = typeof p.error === 'string' ? p.error : JSON.stringify(p.error ?? 'no error given');
          const safety = SAFETY_TEXT.test(text);
          return {
            state: 'failed',
            error: error({
              class: safety ? 'safety' : 'transient',
              code: safety ? 'replicate.safety' : 'replicate.failed',
              message: `replicate: prediction failed: ${text}`,
              charged: billed,
              ...usage,
            }),
          };
        }
        case 'canceled':
        case 'aborted': {
          // Our own Cancel-After deadline ending it is a timeout (the policy may fall back); a
          // cancel from elsewhere is a cancel. Aborted predictions never started: not billed.
          const aborted = p.status === 'aborted';
          return {
            state: 'failed',
            error: error({
              class: deadlinePassed ? 'timeout' : 'canceled',
              code: `replicate.${p.status}`,
              message: deadlinePassed
                ? `replicate: prediction ${p.status} at its Cancel-After deadline (${cancelAfter})`
                : `replicate: prediction ${p.status}`,
              charged: !aborted,
              ...(aborted ? {} : usage),
            }),
          };
        }
        default:
          throw malformed(`unknown prediction status ${JSON.stringify(p.status)}`);
      }
    },

    async fetchResult(output, outFile, signal) {
      await fetchUrlOutput('replicate', output, outFile, signal, {
        timeoutMs: options.fetchTimeoutMs ?? VENDOR_FETCH_TIMEOUT_MS,
        secrets,
      });
    },

    async cancel(taskId, spec) {
      // Replicate bills a prediction cancelled while processing for the compute time it used;
      // one cancelled while still starting is aborted, and free. The cancel answer says which.
      let p: Record<string, unknown> | undefined;
      try {
        p = (await callWithTimeout(
          undefined,
          Math.min(requestTimeoutMs, VENDOR_CANCEL_TIMEOUT_MS),
          (s) => client.predictions.cancel(taskId, { signal: s }),
          { backend: 'replicate', operation: 'cancel' },
        )) as unknown as Record<string, unknown>;
      } catch {
        // Never throws: Cancel-After still ends it server-side if this call was lost.
      }
      if (!p || typeof p !== 'object') {
        // Unknown: count it as billed for the shot's length, so a budget is never understated.
        return { charged: true, usage: { outputSeconds: spec.durationSeconds } };
      }
      const metrics = p.metrics as { predict_time?: unknown } | undefined;
      const predictSeconds = typeof metrics?.predict_time === 'number' ? metrics.predict_time : undefined;
      if (p.status === 'aborted' || !(predictSeconds && predictSeconds > 0)) return { charged: false };
      return {
        charged: true,
        usage: { outputSeconds: requestedSeconds(p.input) ?? spec.durationSeconds, predictSeconds },
      };
    },

    classify,
  };
}
