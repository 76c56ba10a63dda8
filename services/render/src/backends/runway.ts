import RunwayML, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@runwayml/sdk';
import { modelCapability, type DurationRule } from '@aiprod/vendor-catalogue';
import { dataUri, dataUriLength } from '../steps/references';
import {
  BackendFailure,
  type BackendError,
  type LoadedReference,
  type PollResult,
  type SentRequest,
  sentRequest,
  type VideoBackend,
} from './backend';
import { promptLimitsFor, translatePrompt, type DroppedPart } from './dialect';
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
 * Runway through `@runwayml/sdk`: image_to_video with the shot's first reference image as
 * `promptImage` (text_to_video when the shot has none and the model allows it), then
 * GET /v1/tasks/{id} until it ends, then the first output URL is streamed to disk at once
 * (Runway's URLs expire in 24–48 h). The prompt is the visual translator's, in Runway's dialect
 * (Veo's for Veo 3.1) and within the catalogue's limit for the model.
 *
 * The SDK's own retries are off (`maxRetries: 0`): the render pool's fallback policy owns
 * retries, backoff and circuit breaking, and a hidden retry of a create could pay twice.
 */

export interface RunwayBackendOptions {
  apiKey: string;
  /** The SDK's `baseURL` (a test server); default Runway's production API. */
  baseUrl?: string;
  /** `gen4.5` (the catalogue's default), `gen4_turbo` (needs an image), `veo3.1` or `veo3.1_fast`. */
  model?: string;
  /** Runway asks for no faster than every 5 s. */
  pollIntervalMs?: number;
  /** Budget for downloading the output file. Default 120 s. */
  fetchTimeoutMs?: number;
  /** Budget for one API call (create, poll, cancel). Default 30 s. */
  requestTimeoutMs?: number;
}

/**
 * What the catalogue does not say about a Runway model: its ratios per endpoint and how it takes
 * its first frame (from the SDK 4.20 request types). Durations, prompt limit, negative prompt and
 * whether an image is required come from the vendor catalogue.
 */
export interface RunwayModel {
  /** Ratios on text_to_video; absent when the model needs an image (image_to_video only). */
  textRatios?: readonly string[];
  /** Ratios on image_to_video: gen4 models frame an image in more shapes than they make from text. */
  imageRatios: readonly string[];
  /**
   * `uri`: `promptImage` is the image itself (gen4 models take a first frame only); `positioned`:
   * `{ uri, position }` items (Veo 3.1, which can also take a last frame).
   */
  promptImage: 'uri' | 'positioned';
}

const GEN4_IMAGE_RATIOS = ['1280:720', '720:1280', '1104:832', '832:1104', '960:960', '1584:672'];
const VEO_RATIOS = ['1280:720', '720:1280', '1080:1920', '1920:1080'];
const VEO: RunwayModel = { textRatios: VEO_RATIOS, imageRatios: VEO_RATIOS, promptImage: 'positioned' };

export const RUNWAY_MODELS: Record<string, RunwayModel> = {
  'gen4.5': { textRatios: ['1280:720', '720:1280'], imageRatios: GEN4_IMAGE_RATIOS, promptImage: 'uri' },
  gen4_turbo: { imageRatios: GEN4_IMAGE_RATIOS, promptImage: 'uri' },
  'veo3.1': VEO,
  'veo3.1_fast': VEO,
};

/** Runway takes an inline image as a data URI of at most 5 MB (larger ones must be uploaded first). */
export const RUNWAY_MAX_DATA_URI_CHARS = 5 * 1024 * 1024;

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
export function runwayDuration(seconds: number, rule: DurationRule): number {
  const wanted = Math.ceil(seconds - 1e-6);
  if (rule.kind === 'set') {
    const sorted = [...rule.values].sort((a, b) => a - b);
    return sorted.find((d) => d >= wanted) ?? sorted[sorted.length - 1]!;
  }
  return Math.min(Math.floor(rule.maxSeconds), Math.max(Math.ceil(rule.minSeconds), wanted));
}

/** Why the request does not carry a part the translator left out, in words for the provenance record. */
function droppedReason(part: DroppedPart, model: string, maxPromptChars: number): string {
  if (part.reason === 'length') {
    return part.part === 'subject'
      ? `its end was cut to fit ${model}'s ${maxPromptChars}-character prompt`
      : `no room within ${model}'s ${maxPromptChars}-character prompt`;
  }
  if (part.reason === 'negative-phrasing') return "Runway's guide says naming what to avoid draws it in";
  return part.part === 'negativePrompt' ? `${model} on Runway has no negative prompt field` : `${model} cannot take it`;
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
  // The catalogue refuses a model it does not list, so configuration never guesses its limits.
  const capability = modelCapability('runway', options.model);
  const modelName = capability.model;
  const model = RUNWAY_MODELS[modelName];
  if (!model) {
    throw new Error(
      `runway model ${modelName} is not supported by this adapter; use one of ${Object.keys(RUNWAY_MODELS).join(', ')}`,
    );
  }
  const limits = promptLimitsFor('runway', modelName);
  const imageField = capability.inputs.firstFrame ?? 'promptImage';
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

  /**
   * The image sent as the first frame: the most important reference (product, then brand, then
   * style) that Runway takes inline. Every other reference is recorded as not sent, with why.
   */
  const chooseFirstFrame = (refs: readonly LoadedReference[]) => {
    const dropped: NonNullable<SentRequest['dropped']> = [];
    let first: { ref: LoadedReference; uri: string } | undefined;
    for (const ref of refs) {
      if (capability.firstFrame === 'none') {
        dropped.push({ part: ref.id, reason: `${modelName} takes no image` });
      } else if (first) {
        dropped.push({ part: ref.id, reason: `${modelName} takes one image (its first frame)` });
      } else {
        // Runway would refuse the whole request. Uploading it first (a runway:// URI) is another
        // call with failures of its own, for an image this large, which is rare: it is left out
        // and the record says so. Measured before encoding, so an image left out is never copied.
        if (dataUriLength(ref) > RUNWAY_MAX_DATA_URI_CHARS)
          dropped.push({ part: ref.id, reason: 'larger than the 5 MB image Runway takes inline' });
        else first = { ref, uri: dataUri(ref) };
      }
    }
    return { first, dropped };
  };

  return {
    name: 'runway',
    model: modelName,
    pollIntervalMs: options.pollIntervalMs ?? 5000,

    async submit(spec, ctx) {
      const { first, dropped } = chooseFirstFrame(ctx.references ?? []);
      if (!first && (capability.firstFrame === 'required' || !model.textRatios)) {
        // Refused before any request: Runway would answer 400, and the fallback policy should move
        // on to a model that can render from text.
        throw new BackendFailure(
          error({
            class: 'invalid',
            code: 'runway.image_required',
            message: `runway: ${modelName} needs an image as its first frame, and the shot has no reference image it can send`,
            charged: false,
          }),
        );
      }
      const vendorPrompt = translatePrompt(spec, limits, first ? [{ id: first.ref.id, role: first.ref.role }] : []);
      const promptImage =
        first && (model.promptImage === 'positioned' ? [{ uri: first.uri, position: 'first' }] : first.uri);
      const duration = runwayDuration(spec.durationSeconds, capability.durations);
      const fields = {
        model: modelName,
        promptText: vendorPrompt.prompt,
        ratio: nearestRatio(spec.width, spec.height, first ? model.imageRatios : (model.textRatios ?? [])),
        duration,
        ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
        // Only where the catalogue gives the model the field; otherwise the translator dropped it.
        ...(vendorPrompt.negativePrompt ? { negativePrompt: vendorPrompt.negativePrompt } : {}),
        ...(promptImage ? { promptImage } : {}),
      };
      const promptDrops = vendorPrompt.dropped.map((d) => ({
        part: d.part,
        reason: droppedReason(d, modelName, limits.maxPromptChars),
      }));
      // Read back from the body itself, so the record cannot claim more than the request carried.
      const sent = sentRequest({
        model: fields.model,
        prompt: fields.promptText,
        negativePrompt: 'negativePrompt' in fields ? fields.negativePrompt : undefined,
        seed: fields.seed,
        references: first ? [first.ref.id] : undefined,
        firstFrame: first?.ref.id,
        fields: first ? { [imageField]: first.ref.id } : undefined,
        dropped: promptDrops.length + dropped.length ? [...promptDrops, ...dropped] : undefined,
      });
      const create = (s: AbortSignal) =>
        first
          ? client.imageToVideo.create(fields as unknown as Parameters<RunwayML['imageToVideo']['create']>[0], {
              signal: s,
            })
          : client.textToVideo.create(fields as unknown as Parameters<RunwayML['textToVideo']['create']>[0], {
              signal: s,
            });
      let created: unknown;
      try {
        created = await callWithTimeout(ctx.signal, requestTimeoutMs, create, {
          backend: 'runway',
          operation: 'create',
        });
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
