import Replicate from 'replicate';
import type { ShotSpec } from '@aiprod/contracts';
import { DEFAULT_MODELS } from '@aiprod/vendor-catalogue';
import { BackendFailure, type BackendError, type LoadedReference, type PollResult, type VideoBackend } from './backend';
import {
  genericInput,
  isCatalogued,
  type ReplicateRequest,
  replicateRequest,
  replicateSent,
  requestedSeconds,
} from './replicate-input';
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
  /** Replaces the model's input for a shot (text only: no reference image is sent). Default:
   *  built from the vendor catalogue's entry for the model (see `replicateRequest`). */
  input?: (spec: ShotSpec) => Record<string, unknown>;
}

export const DEFAULT_REPLICATE_MODEL = DEFAULT_MODELS.replicate;

export { replicateRequest, requestedSeconds, wanFrames, type ReplicateRequest } from './replicate-input';

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
  // A model the catalogue lists gets its own input and images; any other (the pool refuses those
  // at start-up) a text-only input of the common shape.
  const buildRequest = (spec: ShotSpec, refs: readonly LoadedReference[]): ReplicateRequest => {
    if (!options.input && isCatalogued(modelPath)) return replicateRequest(model, spec, refs);
    const input = (options.input ?? genericInput)(spec);
    return { input, sent: replicateSent(model, input) };
  };
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
      const { input, sent } = buildRequest(spec, ctx.references ?? []);
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
      return { taskId: prediction.id, sent };
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
