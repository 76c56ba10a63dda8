import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenerateVideosOperation, type HttpOptions } from '@google/genai';
import {
  causeNames,
  clipGoogleText,
  createGoogleAiClient,
  describeGoogleError,
  observedHttp,
  readGoogleError,
  type GoogleAuthOptions,
  type HttpExchange,
} from '@aiprod/google-ai';
import { probe } from '@aiprod/media';
import { DEFAULT_MODELS, modelCapability } from '@aiprod/vendor-catalogue';
import { BackendFailure, type BackendError, type BackendOutput, type PollResult, type VideoBackend } from './backend';
import { promptLimitsFor } from './dialect';
import { veoRequest, type VeoPersonGeneration } from './veo-request';
import { recordHttpStatus, vendorSpan } from './vendor-http';

export type { VeoPersonGeneration };

/** One Vertex AI call (submit, poll an operation): unless `requestTimeoutMs` says otherwise. */
const REQUEST_TIMEOUT_MS = 60_000;
/** How often a Veo operation is polled: renders take minutes, so a poll every few seconds is waste. */
const POLL_INTERVAL_MS = 10_000;

export interface VeoBackendOptions {
  project: string;
  location: string;
  /** Default `veo-3.1-fast-generate-001`; a model the vendor catalogue does not list is refused here. */
  model?: string;
  /** Points the SDK at a test server. */
  baseUrl?: string;
  /** A google-auth-library client; tests pass one holding a fixed token. Default: application-default credentials. */
  authClient?: GoogleAuthOptions['authClient'];
  /** `gs://bucket/prefix`: Vertex writes the clip into our bucket. Without it the bytes come inline in the operation. */
  outputGcsPrefix?: string;
  /** Copies a `gs://` object to a local file; required with `outputGcsPrefix`. */
  readGcs?: (uri: string, outFile: string) => Promise<void>;
  /** Veo 3 can generate a soundtrack; off by default because delivery lays its own music and voice-over. */
  generateAudio?: boolean;
  /** Default `allow_adult`, Vertex's default for Veo. */
  personGeneration?: VeoPersonGeneration;
  /** Default 10 s: Veo takes minutes, and every poll counts against the project's request quota. */
  pollIntervalMs?: number;
  /** Bound on one HTTP call to Vertex (default 60 s). Inline video bytes are read within it. */
  requestTimeoutMs?: number;
}

/** The catalogue's default Veo model (Veo 3.1 Fast); `veo-3.1-generate-001` by configuration. */
export const DEFAULT_VEO_MODEL = DEFAULT_MODELS.veo;

/** google.rpc.Code numbers, as operations report them in `error.code`. */
const RPC_CODES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};

/** Vertex refuses some prompts up front (HTTP 400 / operation code 3) with a Responsible-AI message
 *  rather than a filter count; that is a refusal of the prompt, not a malformed request. */
const SAFETY_MESSAGE = /responsible ai|usage guidelines|sensitive words|violate/i;

/** Where a Vertex call failed: a failed create bills nothing; once an operation exists it keeps
 *  running (and billing) whatever happens to our poll, since Veo cannot be cancelled. */
export type VeoStage = 'create' | 'poll';

const clip = (text: string) => clipGoogleText(text, 300);

/** A classification context the SDK's errors do not carry. */
class VeoCallError extends Error {
  constructor(
    readonly stage: VeoStage,
    readonly exchange: HttpExchange,
    readonly callerAborted: boolean,
    options: { cause: unknown },
  ) {
    super('veo call failed', options);
  }
}

/** Classifies a failed done operation (`error: { code, message }`); Vertex bills none of these. */
export function classifyVeoOperationError(error: Record<string, unknown>): BackendError {
  const num = typeof error.code === 'number' ? error.code : undefined;
  const code = (num !== undefined && RPC_CODES[num]) || (num !== undefined ? `RPC ${num}` : 'UNKNOWN');
  const text = typeof error.message === 'string' ? error.message : '';
  const message = `Veo operation failed (${code}): ${clip(text)}`;
  const make = (cls: BackendError['class']): BackendError => ({ class: cls, code, message, charged: false });
  switch (code) {
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
    case 'OUT_OF_RANGE':
      return make(SAFETY_MESSAGE.test(text) ? 'safety' : 'invalid');
    case 'NOT_FOUND':
      return make('invalid');
    case 'PERMISSION_DENIED':
    case 'UNAUTHENTICATED':
      return make('auth');
    case 'RESOURCE_EXHAUSTED':
      return make('rate_limited');
    case 'CANCELLED':
      return make('canceled');
    default:
      // INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED (Vertex's own), ABORTED, UNKNOWN: worth another go.
      return make('transient');
  }
}

/**
 * Classifies what a Vertex call threw. `stage` decides `charged`: a create that failed made no
 * operation (except a 2xx whose body we could not read: Vertex accepted it, an operation runs and
 * bills, and its name is lost); a failed poll leaves the operation running and billing.
 */
export function classifyVeoError(
  error: unknown,
  stage: VeoStage = 'create',
  exchange: HttpExchange = {},
): BackendError {
  if (error instanceof BackendFailure) return error.detail;
  let callerAborted = false;
  if (error instanceof VeoCallError) {
    stage = error.stage;
    exchange = error.exchange;
    callerAborted = error.callerAborted;
    error = error.cause;
  }
  const charged = stage === 'poll';
  if (callerAborted) {
    return { class: 'canceled', code: 'ABORTED', message: `Veo ${stage} aborted by the caller`, charged };
  }
  const google = readGoogleError(error, exchange);
  if (google) {
    const { httpStatus: http, status } = google;
    const code = status ?? `HTTP ${http}`;
    const text = google.message;
    const message = `Vertex ${stage === 'create' ? 'predictLongRunning' : 'fetchPredictOperation'} ${google.statusText}: ${clip(text)}`;
    const make = (cls: BackendError['class'], extra: Partial<BackendError> = {}): BackendError => ({
      class: cls,
      code,
      message,
      charged,
      ...extra,
    });
    if (http === 429 || status === 'RESOURCE_EXHAUSTED') {
      const wait = google.retryAfterMs;
      return make('rate_limited', wait === undefined ? {} : { retryAfterMs: wait });
    }
    if (http === 401 || http === 403 || status === 'UNAUTHENTICATED' || status === 'PERMISSION_DENIED')
      return make('auth');
    if (http === 408 || http === 409 || http >= 500) return make('transient');
    // 404 on a poll: the operation is gone (expired or never ours); on a create: the model does not
    // exist in this project/region, a configuration error.
    if (http === 404) return make(stage === 'poll' ? 'no_output' : 'invalid');
    return make(SAFETY_MESSAGE.test(text) ? 'safety' : 'invalid');
  }
  const names = causeNames(error);
  // By name: Response.json() throws from undici's realm, where `instanceof SyntaxError` fails.
  if (names.includes('SyntaxError')) {
    // A 2xx we could not parse: on a create, Vertex accepted the request and an operation runs.
    const accepted = exchange.status !== undefined && exchange.status >= 200 && exchange.status < 300;
    return {
      class: 'transient',
      code: 'MALFORMED_RESPONSE',
      message: `Vertex ${stage} answered ${exchange.status ?? '?'} with a body that is not JSON`,
      charged: charged || accepted,
    };
  }
  // Not the caller's signal (handled above), so the SDK's per-request timeout fired.
  if (names.includes('AbortError') || names.includes('TimeoutError')) {
    return { class: 'transient', code: 'DEADLINE_EXCEEDED', message: `Vertex ${stage} timed out`, charged };
  }
  // fetch's TypeError ("fetch failed", cause ECONNREFUSED/ECONNRESET...) and anything unforeseen:
  // a network failure is worth another go. A create that died mid-flight may have made an
  // operation we cannot see; Vertex has no idempotency key to find out.
  return {
    class: 'transient',
    code: 'NETWORK',
    message: `could not reach Vertex (${stage}): ${clip(describeGoogleError(error))}`,
    charged,
  };
}

/** Vertex labels: lowercase letters, digits, `_` and `-`, at most 63 characters. */
const label = (value: string) =>
  value
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .slice(0, 63);

/** A path segment of our own bucket for one attempt: stable, readable, nothing outside [\w.-]. */
const gcsSegment = (attemptKey: string) =>
  attemptKey
    .split('/')
    .map((part) => part.replace(/[^\w.-]+/g, '_'))
    .join('/');

/** Seconds of video in a file, as ffprobe reads its container. */
async function measure(file: string, signal: AbortSignal): Promise<number> {
  const result = await probe(file, { signal });
  // Vertex bills whole seconds of the duration asked for; the container runs a few ms over (AAC priming).
  return Math.round(result.durationSeconds);
}

/**
 * Veo on Vertex AI through `@google/genai` (`generateVideos`, then `getVideosOperation`). The task
 * id is the operation's full name, so a restarted worker resumes polling with nothing but the id.
 */
export function veoBackend(options: VeoBackendOptions): VideoBackend {
  const model = options.model ?? DEFAULT_VEO_MODEL;
  // Throws for a model the catalogue does not list: a misconfigured pool stops at start-up.
  const capability = modelCapability('veo', model);
  const limits = promptLimitsFor('veo', model);
  if (options.outputGcsPrefix !== undefined && !/^gs:\/\/[a-z0-9._-]+(\/.*)?$/.test(options.outputGcsPrefix))
    throw new Error(`veo: outputGcsPrefix must be a gs:// URI, got ${options.outputGcsPrefix}`);
  if (options.outputGcsPrefix && !options.readGcs) throw new Error('veo: outputGcsPrefix needs readGcs');
  const gcsPrefix = options.outputGcsPrefix?.replace(/\/+$/, '');
  const requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  // The client makes no retries of its own: they belong to the fallback policy, which sees every
  // failure and the vendor's Retry-After. The tests count requests, so an SDK that starts
  // retrying by default fails them.
  const ai = createGoogleAiClient({
    project: options.project,
    location: options.location,
    ...(options.authClient ? { googleAuthOptions: { authClient: options.authClient } } : {}),
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    requestTimeoutMs,
  });
  /** Seconds asked for per operation, for usage; a restarted worker measures the clip instead. */
  const requested = new Map<string, number>();
  const REQUESTED_MAX = 1000;

  /** Per-call HTTP options: our fetch sees the status and Retry-After and obeys `signal`
   *  (getVideosOperation takes no abortSignal). */
  const callOptions = (signal: AbortSignal | undefined, exchange: HttpExchange): HttpOptions =>
    observedHttp(exchange, { ...(signal ? { signal } : {}), onStatus: recordHttpStatus });

  const call = async <T>(stage: VeoStage, signal: AbortSignal | undefined, run: (http: HttpOptions) => Promise<T>) => {
    const exchange: HttpExchange = {};
    return vendorSpan({ backend: 'veo', operation: stage }, async () => {
      try {
        return await run(callOptions(signal, exchange));
      } catch (err) {
        const wrapped = new VeoCallError(stage, exchange, signal?.aborted ?? false, { cause: err });
        throw new BackendFailure(classifyVeoError(wrapped));
      }
    });
  };

  const usageSeconds = async (name: string, output: BackendOutput, signal: AbortSignal): Promise<number> => {
    const known = requested.get(name);
    if (known !== undefined) return known;
    // Resumed after a restart: Vertex's operation does not echo the request, so read the clip.
    const dir = await mkdtemp(join(tmpdir(), 'aiprod-veo-usage-'));
    try {
      const file = join(dir, 'clip.mp4');
      await backend.fetchResult(output, file, signal);
      return await measure(file, signal);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  const backend: VideoBackend = {
    name: 'veo',
    model,
    pollIntervalMs: options.pollIntervalMs ?? POLL_INTERVAL_MS,

    async submit(spec, ctx) {
      const { source, config, sent } = veoRequest(spec, ctx.references ?? [], {
        model,
        capability,
        limits,
        generateAudio: spec.audio ?? options.generateAudio ?? false,
        personGeneration: options.personGeneration ?? 'allow_adult',
      });
      const operation = await call('create', ctx.signal, (httpOptions) =>
        ai.models.generateVideos({
          model,
          source,
          config: {
            ...config,
            // One folder per attempt in our bucket, so a retake never overwrites an earlier clip.
            ...(gcsPrefix ? { outputGcsUri: `${gcsPrefix}/${gcsSegment(ctx.attemptKey)}/` } : {}),
            // Vertex has no idempotency key; the attempt key in the billing labels ties a charge to its attempt.
            labels: { aiprod_attempt: label(ctx.attemptKey) },
            abortSignal: ctx.signal,
            httpOptions,
          },
        }),
      );
      if (!operation.name) {
        throw new BackendFailure({
          class: 'transient',
          code: 'NO_OPERATION_NAME',
          message: 'Vertex accepted the request but returned no operation name',
          // Accepted: it may be running and billing, and we cannot follow it.
          charged: true,
        });
      }
      if (requested.size >= REQUESTED_MAX) requested.delete(requested.keys().next().value!);
      requested.set(operation.name, spec.durationSeconds);
      return { taskId: operation.name, sent };
    },

    async poll(taskId, signal): Promise<PollResult> {
      // Rebuilt from the name alone: all getVideosOperation needs, after a restart too.
      const handle = new GenerateVideosOperation();
      handle.name = taskId;
      const op = await call('poll', signal, (httpOptions) =>
        ai.operations.getVideosOperation({ operation: handle, config: { httpOptions } }),
      );
      if (!op.done) return { state: 'pending', detail: 'RUNNING' };
      const done = (result: PollResult): PollResult => {
        requested.delete(taskId);
        return result;
      };
      if (op.error) return done({ state: 'failed', error: classifyVeoOperationError(op.error) });
      const video = op.response?.generatedVideos?.find((g) => g.video?.videoBytes || g.video?.uri)?.video;
      if (!video) {
        const filtered = op.response?.raiMediaFilteredCount ?? 0;
        const reasons = (op.response?.raiMediaFilteredReasons ?? []).join('; ');
        return done({
          state: 'failed',
          error:
            filtered > 0
              ? {
                  class: 'safety',
                  code: 'RAI_MEDIA_FILTERED',
                  message: `Veo's safety filter removed ${filtered} video(s): ${clip(reasons || 'no reason given')}`,
                  // Vertex does not bill filtered videos.
                  charged: false,
                }
              : {
                  class: 'no_output',
                  code: 'NO_VIDEO',
                  message: 'Veo finished without a video and without a filter reason',
                  charged: false,
                },
        });
      }
      const output: BackendOutput = video.videoBytes
        ? { kind: 'bytes', base64: video.videoBytes, ...(video.mimeType ? { mimeType: video.mimeType } : {}) }
        : video.uri!.startsWith('gs://')
          ? { kind: 'gcs', uri: video.uri! }
          : { kind: 'url', url: video.uri! };
      let outputSeconds: number;
      try {
        outputSeconds = await usageSeconds(taskId, output, signal);
      } catch (err) {
        throw new BackendFailure(
          err instanceof BackendFailure
            ? err.detail
            : {
                ...classifyVeoError(err, 'poll'),
                code: 'MEASURE_FAILED',
                message: `could not measure the Veo clip: ${clip(describeGoogleError(err))}`,
              },
        );
      }
      return done({ state: 'succeeded', output, usage: { outputSeconds } });
    },

    async fetchResult(output, outFile, signal) {
      signal.throwIfAborted();
      if (output.kind === 'bytes') {
        const bytes = Buffer.from(output.base64, 'base64');
        if (bytes.length === 0)
          throw new BackendFailure({
            class: 'no_output',
            code: 'EMPTY_VIDEO',
            message: 'Veo returned an empty video',
            charged: true,
          });
        await writeFile(outFile, bytes, { signal });
        return;
      }
      if (output.kind === 'gcs') {
        if (!options.readGcs) {
          throw new BackendFailure({
            class: 'invalid',
            code: 'NO_GCS_READER',
            message: 'Veo wrote to GCS but this backend has no readGcs',
            charged: true,
          });
        }
        try {
          await options.readGcs(output.uri, outFile);
          const written = await stat(outFile);
          if (!written.size) throw new Error('the object is empty');
        } catch (err) {
          // The clip is paid for and sits in our bucket; reading it again is all a retry needs.
          throw new BackendFailure({
            class: 'transient',
            code: 'GCS_READ_FAILED',
            message: `could not read the Veo clip from our bucket: ${clip(describeGoogleError(err))}`,
            charged: true,
          });
        }
        return;
      }
      throw new BackendFailure({
        class: 'invalid',
        code: 'UNSUPPORTED_OUTPUT',
        message: `the veo backend cannot fetch a ${output.kind} output`,
        charged: true,
      });
    },

    async cancel(taskId, spec) {
      // Vertex has no cancel for Veo's predictLongRunning operations (the SDK's only `cancel`s are
      // for tuning and batch jobs), and stopping to poll does not stop the generation or its bill:
      // an abandoned operation is charged for the length it was asked for.
      requested.delete(taskId);
      return { charged: true, usage: { outputSeconds: spec.durationSeconds } };
    },

    classify(error) {
      return classifyVeoError(error);
    },
  };
  return backend;
}
