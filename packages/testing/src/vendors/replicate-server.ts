import type { ServerResponse } from 'node:http';
import {
  base32Id,
  bearer,
  FaultQueues,
  PhaseClock,
  ScriptQueue,
  startVendorHttp,
  type FileShelf,
  type HttpFault,
  type Phase,
  type PublishOptions,
  ReceivedLog,
  type ReceivedRequest,
  type TestVideoSpec,
  type VendorRequest,
} from './common';
import { ignoredInputs, REPLICATE_MODELS, validateModelInput } from './replicate-models';
import { priceTask, promptSeedKey, totalUsd, VendorTally, type BilledTask, type VendorCounts } from './billing';

/**
 * A local stand-in for the Replicate HTTP API as the `replicate` npm client calls it (pass
 * `baseUrl` — the server's url + `/v1` — to the client):
 *
 *   POST /v1/models/{owner}/{name}/predictions  { input }            → 201 prediction
 *   POST /v1/predictions                        { version, input }   → 201 prediction
 *   GET  /v1/predictions/{id}                                        → prediction
 *   POST /v1/predictions/{id}/cancel                                 → prediction
 *
 * `Prefer: wait[=N]` holds a create up to N seconds (at most 60) for the prediction to finish;
 * `Cancel-After: 1h30m` sets a deadline past which a prediction still `starting` becomes
 * `aborted` (free) and one `processing` becomes `canceled` (billed). Errors are
 * `{ title, detail, status }`; a 429 says when the limit resets, in the body and `Retry-After`.
 * The models in `REPLICATE_MODELS` are validated against their own input schemas (422 with
 * `invalid_fields`); any other `owner/name` is 404 unless `models` names it (then it gets a
 * generic video-model check).
 *
 *   GET | DELETE /__received   → the record of create requests (loopback only), or clears it
 */

export type ReplicateOp = 'create' | 'poll' | 'cancel';
export type ReplicateStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled' | 'aborted';

type Slow = Omit<Phase<string>, 'status'>;

export interface ReplicatePredictionScript {
  /** `starting` (cold boot) for this many polls / ms; default one poll. */
  starting?: Slow;
  /** Then `processing` with progress lines in `logs`; default one poll. */
  processing?: Slow;
  /**
   * How it ends: `succeed` (default), `succeed_null_output` (succeeded, `output: null`: done but
   * no video, billed), or failed with `error` (e.g. an NSFW refusal), with `predictTime`
   * seconds billed (default 0: refused before running).
   */
  outcome?: 'succeed' | 'succeed_null_output' | { error: string; predictTime?: number };
  /** `output` as one URL (default, like most video models) or a list of URLs. */
  outputAs?: 'string' | 'array';
  /** Expiry of the output URL (Replicate deletes outputs after an hour). */
  output?: PublishOptions;
  /** `metrics.predict_time` of a success; default 1.5 s per second of video. */
  predictTime?: number;
}

export interface ReplicatePredictionView {
  id: string;
  model: string;
  version?: string;
  input: Record<string, unknown>;
  status: ReplicateStatus;
  /** The `Cancel-After` header it was created with. */
  cancelAfter?: string;
  /** The `Prefer` header it was created with. */
  prefer?: string;
  polls: number;
}

export interface ReplicateServer {
  /** The server root; the client's `baseUrl` is `url + '/v1'`. */
  url: string;
  baseUrl: string;
  requests: VendorRequest[];
  files: FileShelf;
  fail(op: ReplicateOp, fault: HttpFault, times?: number): void;
  scriptPrediction(script: ReplicatePredictionScript): void;
  setDefaultPrediction(script: ReplicatePredictionScript): void;
  /** Every create POST that reached the server, answered or not. */
  readonly createRequests: number;
  /** Creates answered with a prediction: what Replicate would run. */
  readonly predictionsCreated: number;
  prediction(id: string): ReplicatePredictionView | undefined;
  /** Every create request received, images summarised, with its answer (also `GET /__received`). */
  received(): ReceivedRequest[];
  clearReceived(): void;
  /**
   * What Replicate would bill: the predict time (`metrics.predict_time`, as reported to the
   * client) of every prediction that succeeded, failed after it began processing, or was
   * canceled while processing, priced with the platform's price table for the model. Canceled
   * or aborted while still `starting` is free; a prediction still running is not billed yet
   * (see `settle`).
   */
  readonly billedTasks: BilledTask[];
  readonly billedUsd: number;
  /** Creates (per prompt and seed: Replicate sees no attempt key), cancels and polls. */
  readonly calls: VendorCounts;
  /**
   * Runs every live prediction to its scripted end, as Replicate's GPUs would: one the client
   * stopped polling without cancelling still runs and is billed. Call at the end of a run.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface ReplicateServerOptions {
  /** When set, any other token gets 401. */
  apiToken?: string;
  /** The `owner/name` models served; others get 404. Default: those in `REPLICATE_MODELS`. A
   *  model named here that the catalogue lacks gets the generic check of `validateReplicateInput`. */
  models?: string[];
  /** Frame rate of the generated clips when the input names none. Default 16 (Wan's). */
  fps?: number;
  defaultPrediction?: ReplicatePredictionScript;
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthenticated',
  402: 'Insufficient credit',
  404: 'Not found',
  422: 'Input validation failed',
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
};

function replicateError(status: number, message?: string, retryAfterSeconds?: number) {
  const detail =
    message ??
    (status === 429
      ? `Request was throttled. Your rate limit resets in ~${Math.ceil(retryAfterSeconds ?? 1)}s.`
      : status === 401
        ? 'You did not pass a valid authentication token'
        : status >= 500
          ? 'An unexpected error occurred. Please try again.'
          : `HTTP ${status}`);
  return { title: TITLES[status] ?? 'Error', detail, status };
}

/** `Cancel-After` values: Go-style durations such as `90s`, `5m`, `1h30m`, `1500ms`. */
export function parseCancelAfter(value: string): number | undefined {
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(value.trim());
  if (!match || value.trim() === '') return undefined;
  const [, h = '0', m = '0', s = '0', ms = '0'] = match;
  const total = ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(ms);
  return total > 0 ? total : undefined;
}

/**
 * The clip a video model would make for an input, read the way most Replicate video models
 * name things: `num_frames` / `frames_per_second`, or `duration` (s); `aspect_ratio` ("16:9")
 * and `resolution` ("480p"). Sizes are computed, not any one model's exact ones.
 */
export function replicateClipFor(
  input: Record<string, unknown>,
  defaultFps = 16,
  /** What a known model's schema says of the frame rate, short side or length. */
  hints: Partial<TestVideoSpec> & { short?: number } = {},
): TestVideoSpec {
  const fps = typeof input.frames_per_second === 'number' ? input.frames_per_second : (hints.fps ?? defaultFps);
  const durationSeconds =
    typeof input.num_frames === 'number'
      ? Math.round((input.num_frames / fps) * 1000) / 1000
      : typeof input.duration === 'number'
        ? input.duration
        : (hints.durationSeconds ?? 5);
  const [a, b] =
    typeof input.aspect_ratio === 'string' && /^\d+:\d+$/.test(input.aspect_ratio)
      ? (input.aspect_ratio.split(':').map(Number) as [number, number])
      : [16, 9];
  const short = hints.short ?? (typeof input.resolution === 'string' ? parseInt(input.resolution, 10) || 480 : 480);
  const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);
  const [width, height] = a >= b ? [even((short * a) / b), even(short)] : [even(short), even((short * b) / a)];
  return { durationSeconds, width, height, fps };
}

interface Prediction extends ReplicatePredictionView {
  clock: PhaseClock<'starting' | 'processing'>;
  script: ReplicatePredictionScript;
  clip: TestVideoSpec;
  createdAt: Date;
  startedAt?: Date;
  completedAt?: Date;
  deadline?: number;
  progressLogs: string[];
  output: unknown;
  error: string | null;
  predictTime?: number;
  video?: Promise<string>;
  /** It ended in `settle`, not by a poll. */
  settled?: boolean;
}

const MODEL_CREATE = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/;
const VERSION_CREATE = /^\/v1\/predictions$/;
const PREDICTION = /^\/v1\/predictions\/([^/]+)$/;
const CANCEL = /^\/v1\/predictions\/([^/]+)\/cancel$/;

const DAY_MS = 24 * 3600_000;

const TERMINAL: ReadonlySet<ReplicateStatus> = new Set(['succeeded', 'failed', 'canceled', 'aborted']);

export async function startReplicateServer(options: ReplicateServerOptions = {}): Promise<ReplicateServer> {
  const faults = new FaultQueues<ReplicateOp>();
  const scripts = new ScriptQueue<ReplicatePredictionScript>(options.defaultPrediction ?? {});
  const predictions = new Map<string, Prediction>();
  const tally = new VendorTally();
  const received = new ReceivedLog();
  const served = new Set(options.models ?? Object.keys(REPLICATE_MODELS));
  let createRequests = 0;

  const json = (p: Prediction) => ({
    id: p.id,
    model: p.model,
    version: p.version ?? 'hidden',
    input: p.input,
    logs: p.progressLogs.join('\n'),
    output: p.output,
    data_removed: false,
    error: p.error,
    status: p.status,
    source: 'api',
    created_at: p.createdAt.toISOString(),
    ...(p.startedAt ? { started_at: p.startedAt.toISOString() } : {}),
    ...(p.completedAt ? { completed_at: p.completedAt.toISOString() } : {}),
    ...(p.deadline !== undefined ? { deadline: new Date(p.deadline).toISOString() } : {}),
    urls: {
      get: `${http.url}/v1/predictions/${p.id}`,
      cancel: `${http.url}/v1/predictions/${p.id}/cancel`,
      web: `https://replicate.com/p/${p.id}`,
    },
    ...(p.predictTime !== undefined
      ? { metrics: { predict_time: p.predictTime, total_time: Math.round((p.predictTime + 0.4) * 1000) / 1000 } }
      : {}),
  });

  const finish = (p: Prediction, status: ReplicateStatus) => {
    p.status = status;
    p.completedAt = new Date();
  };

  /** Advances a prediction by one observation; resolves once its state is ready to show.
   *  `clockAt` lets `settle` read the phases as if their wall time had passed. */
  const advance = async (p: Prediction, clockAt = Date.now()): Promise<void> => {
    if (TERMINAL.has(p.status)) return;
    if (p.deadline !== undefined && Date.now() >= p.deadline) {
      // Replicate: aborted if the deadline passes before it runs (free), canceled while running.
      if (p.status === 'starting') finish(p, 'aborted');
      else {
        p.predictTime = Math.max(0.001, (Date.now() - (p.startedAt?.getTime() ?? Date.now())) / 1000);
        finish(p, 'canceled');
      }
      return;
    }
    const phase = p.clock.observe(clockAt);
    if (phase) {
      if (phase.status === 'processing') {
        p.startedAt ??= new Date();
        const pct = Math.round(phase.fraction * 100);
        p.progressLogs.push(`${String(pct).padStart(3)}%|${'#'.repeat(Math.round(pct / 10)).padEnd(10)}|`);
      }
      p.status = phase.status;
      return;
    }
    p.startedAt ??= new Date();
    const outcome = p.script.outcome ?? 'succeed';
    if (typeof outcome === 'object') {
      p.error = outcome.error;
      if (outcome.predictTime !== undefined) p.predictTime = outcome.predictTime;
      finish(p, 'failed');
      return;
    }
    p.predictTime = p.script.predictTime ?? Math.round(p.clip.durationSeconds * 1.5 * 1000) / 1000;
    if (outcome === 'succeed') {
      const file = await (p.video ??= http.makeVideo(p.clip));
      const url = http.files.publish(file, p.script.output);
      p.output = p.script.outputAs === 'array' ? [url] : url;
    } else {
      p.output = null;
    }
    p.progressLogs.push('100%|##########|');
    finish(p, 'succeeded');
  };

  const create = async (
    model: string,
    version: string | undefined,
    req: VendorRequest,
    res: ServerResponse,
  ): Promise<void> => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') {
      http.sendJson(res, 400, replicateError(400, 'The request body must be a JSON object'));
      return;
    }
    const issues = validateModelInput(model, body.input);
    if (issues.length) {
      http.sendJson(res, 422, {
        ...replicateError(422, issues.map((i) => `- ${i.field}: ${i.description}`).join('\n')),
        invalid_fields: issues.map((i) => ({ type: 'invalid', ...i })),
      });
      return;
    }
    const cancelAfter = req.headers['cancel-after'];
    let deadline: number | undefined;
    if (typeof cancelAfter === 'string') {
      const ms = parseCancelAfter(cancelAfter);
      if (ms === undefined) {
        http.sendJson(res, 400, replicateError(400, `Invalid Cancel-After header: ${cancelAfter}`));
        return;
      }
      deadline = Date.now() + ms;
    }
    const script = scripts.next();
    const input = body.input as Record<string, unknown>;
    const ignored = ignoredInputs(model, input);
    const entry = http.receivedEntry(res);
    if (entry && ignored.length) entry.ignored = ignored;
    const p: Prediction = {
      id: base32Id(),
      model,
      ...(version ? { version } : {}),
      input,
      status: 'starting',
      ...(typeof cancelAfter === 'string' ? { cancelAfter } : {}),
      ...(typeof req.headers.prefer === 'string' ? { prefer: req.headers.prefer } : {}),
      polls: 0,
      clock: new PhaseClock([
        { status: 'starting', ...(script.starting ?? { polls: 1 }) },
        { status: 'processing', ...(script.processing ?? { polls: 1 }) },
      ]),
      script,
      clip: replicateClipFor(input, options.fps, REPLICATE_MODELS[model]?.clip?.(input)),
      createdAt: new Date(),
      ...(deadline !== undefined ? { deadline } : {}),
      progressLogs: [],
      output: null,
      error: null,
    };
    if ((script.outcome ?? 'succeed') === 'succeed') {
      p.video = http.makeVideo(p.clip);
      p.video.catch(() => undefined);
    }
    predictions.set(p.id, p);
    tally.created(promptSeedKey(input.prompt, input.seed), p.id);
    const wait = /^wait(?:=(\d+))?$/.exec(String(req.headers.prefer ?? '').trim());
    if (wait) {
      // Sync mode: observe the prediction as it runs until it ends or the wait is over.
      const until = Date.now() + Math.min(60, Number(wait[1] ?? 60)) * 1000;
      for (let i = 0; i < 10_000 && !TERMINAL.has(p.status) && Date.now() < until; i++) {
        await advance(p);
        if (!TERMINAL.has(p.status)) await new Promise((r) => setTimeout(r, 50));
      }
    }
    http.sendJson(res, 201, json(p));
  };

  const http = await startVendorHttp({
    vendor: 'replicate',
    received,
    errorBody: replicateError,
    operationOf: (method, path) => {
      if (method === 'POST' && (MODEL_CREATE.test(path) || VERSION_CREATE.test(path))) return 'create';
      if (method === 'GET' && PREDICTION.test(path)) return 'poll';
      if (method === 'POST' && CANCEL.test(path)) return 'cancel';
      return 'unrouted';
    },
    handle: async (req, res) => {
      if (req.op === 'unrouted') {
        http.sendJson(res, 404, replicateError(404, 'The requested resource could not be found.'));
        return;
      }
      if (req.op === 'create') createRequests++;
      const token = bearer(req);
      if (!token || (options.apiToken !== undefined && token !== options.apiToken)) {
        http.sendJson(res, 401, replicateError(401));
        return;
      }
      const op = req.op as ReplicateOp;
      if (op === 'poll') tally.polls++;
      if (op === 'cancel') tally.cancels++;
      const proceed = () => {
        void route(op, req, res).catch((err: unknown) => {
          http.sendJson(res, 500, replicateError(500, `replicate test server: ${(err as Error).message}`));
        });
      };
      const fault = faults.take(op);
      if (fault) http.perform(fault, res, proceed);
      else proceed();
    },
  });

  const route = async (op: ReplicateOp, req: VendorRequest, res: ServerResponse): Promise<void> => {
    if (op === 'create') {
      const byModel = MODEL_CREATE.exec(req.path);
      if (byModel) {
        const model = `${byModel[1]}/${byModel[2]}`;
        if (!served.has(model)) {
          http.sendJson(res, 404, replicateError(404, 'The requested resource could not be found.'));
          return;
        }
        await create(model, undefined, req, res);
        return;
      }
      const version = (req.body as { version?: unknown } | undefined)?.version;
      if (typeof version !== 'string' || version === '') {
        http.sendJson(res, 422, replicateError(422, '- version: Field required'));
        return;
      }
      await create(version.includes(':') ? version.split(':')[0]! : 'unknown/unknown', version, req, res);
      return;
    }
    const id = (op === 'poll' ? PREDICTION : CANCEL).exec(req.path)![1]!;
    const p = predictions.get(id);
    if (!p) {
      http.sendJson(res, 404, replicateError(404, 'The requested resource could not be found.'));
      return;
    }
    if (op === 'cancel') {
      if (!TERMINAL.has(p.status)) {
        if (p.status === 'processing') {
          p.predictTime = Math.max(0.001, (Date.now() - (p.startedAt?.getTime() ?? Date.now())) / 1000);
        }
        finish(p, 'canceled');
      }
      http.sendJson(res, 200, json(p));
      return;
    }
    p.polls++;
    await advance(p);
    http.sendJson(res, 200, json(p));
  };

  return {
    url: http.url,
    baseUrl: `${http.url}/v1`,
    requests: http.requests,
    files: http.files,
    fail: (op, fault, times) => faults.enqueue(op, fault, times),
    received: () => received.list(),
    clearReceived: () => received.clear(),
    scriptPrediction: (script) => scripts.enqueue(script),
    setDefaultPrediction: (script) => scripts.setDefault(script),
    get createRequests() {
      return createRequests;
    },
    get predictionsCreated() {
      return predictions.size;
    },
    prediction: (id) => {
      const p = predictions.get(id);
      return (
        p && {
          id: p.id,
          model: p.model,
          ...(p.version ? { version: p.version } : {}),
          input: p.input,
          status: p.status,
          ...(p.cancelAfter ? { cancelAfter: p.cancelAfter } : {}),
          ...(p.prefer ? { prefer: p.prefer } : {}),
          polls: p.polls,
        }
      );
    },
    get billedTasks() {
      return billed();
    },
    get billedUsd() {
      return totalUsd(billed());
    },
    get calls() {
      return tally.snapshot();
    },
    settle: async () => {
      for (const p of predictions.values()) {
        // Bounded: each observation counts one poll and is read a day after the last, so a
        // phase that waits for wall time ends too.
        for (let i = 0; i < 1000 && !TERMINAL.has(p.status); i++) {
          p.settled = true;
          await advance(p, Date.now() + (i + 1) * DAY_MS);
        }
      }
    },
    close: () => http.close(),
  };

  function billed(): BilledTask[] {
    const lines: BilledTask[] = [];
    for (const p of predictions.values()) {
      const seconds = p.predictTime ?? 0;
      const why =
        p.status === 'succeeded'
          ? 'succeeded'
          : p.status === 'failed' && seconds > 0
            ? 'failed after processing began'
            : p.status === 'canceled' && seconds > 0
              ? 'canceled while processing'
              : undefined;
      if (!why) continue;
      const resolution = typeof p.input.resolution === 'string' ? p.input.resolution : undefined;
      lines.push({
        taskId: p.id,
        seconds,
        usd: priceTask(
          'replicate',
          p.model,
          resolution === '480p' || resolution === '720p' || resolution === '1080p' ? { resolution } : p.clip,
          { outputSeconds: p.clip.durationSeconds, audio: false, predictSeconds: seconds },
        ),
        why: p.settled ? `${why} after its client stopped polling` : why,
      });
    }
    return lines;
  }
}

export {
  ignoredInputs,
  REPLICATE_MODELS,
  validateModelInput,
  validateReplicateInput,
  type ReplicateModelSchema,
} from './replicate-models';
