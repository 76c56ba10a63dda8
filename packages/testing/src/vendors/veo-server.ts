import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { runFfmpeg } from '@aiprod/media';
import { googleError, googleErrorBody, sendJson } from '../google-errors';
import { invalidVeoRequest, SIZES, unknownVeoModel } from './veo-models';
import { RECEIVED_PATH, ReceivedLog, serveReceived, type ReceivedRequest } from './common';
import { priceTask, promptSeedKey, totalUsd, VendorTally, type BilledTask, type VendorCounts } from './billing';

/**
 * A local stand-in for Veo on Vertex AI, speaking the protocol the way `@google/genai`
 * (vertexai: true, 3.x) calls it from `models.generateVideos` and `operations.getVideosOperation`:
 *
 *   POST {base}/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:predictLongRunning
 *        { instances: [{ prompt }], parameters: { durationSeconds, aspectRatio, resolution, ... } }
 *     → { name: 'projects/{p}/locations/{l}/publishers/google/models/{model}/operations/{uuid}' }
 *   POST {base}/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:fetchPredictOperation
 *        { operationName }
 *     → { name, done?, error?: { code, message }, response?: { '@type', raiMediaFilteredCount,
 *          raiMediaFilteredReasons?, videos?: [{ bytesBase64Encoded | gcsUri, mimeType }] } }
 *
 * The SDK maps `response.videos[]` to `generatedVideos[].video.{videoBytes | uri, mimeType}`.
 * The videos are real MP4s made by ffmpeg at the requested size, duration and audio setting.
 * Requests are validated as Vertex does for Veo 3.1 (400 INVALID_ARGUMENT): durations 4, 6 or 8 s,
 * 16:9 or 9:16, 720p or 1080p, a first frame (`image`) with an optional `lastFrame`, or up to 3
 * `asset` reference images (with a prompt, no frames, 8 s); retired models (veo-3.0, veo-2.0) and
 * unknown ones answer 404 NOT_FOUND. Each route takes the next scripted behaviour from its own
 * queue so a test can play Vertex's failures in order.
 *
 *   GET | DELETE /__received   → the record of predictLongRunning requests (loopback only), or clears it
 */

/** An HTTP-level answer that replaces the normal one for one request. */
export type VeoHttpBehaviour =
  /** A Google error `{ error: { code, status, message, details? } }`. A 429 with
   *  `retryAfterSeconds` carries a `Retry-After` header and a `google.rpc.RetryInfo` detail. */
  | { status: number; message?: string; retryAfterSeconds?: number }
  /** 200 with a JSON content type and a body that is not JSON (a truncated answer). */
  | { malformed: true }
  /** The connection is dropped without an answer (a reset): the client sees a network error. */
  | { resetConnection: true }
  /** Waits, then answers normally (or does `then`); a client that gives up first finds the socket closed. */
  | { delayMs: number; then?: VeoHttpBehaviour };

/** How an accepted operation ends. */
export type VeoOutcome =
  /** Done with the video(s) (the default). */
  | { kind: 'video' }
  /** Done, no video, `raiMediaFilteredCount` > 0 and the reasons: Veo's safety filter. */
  | { kind: 'filtered'; reasons?: string[]; count?: number }
  /** Done with `error: { code, message }` (google.rpc.Code numbers: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 13 INTERNAL...). */
  | { kind: 'error'; code: number; message: string }
  /** Done with an empty response: no video and no filter count. */
  | { kind: 'empty' };

export interface VeoOperationPlan {
  /** Polls answered `done: false` before the operation is done (default 0: done at the first poll). */
  pollsUntilDone?: number;
  outcome?: VeoOutcome;
}

/** What a predictLongRunning call gets: accepted with a plan (the default), or an HTTP failure. */
export type VeoCreateBehaviour = VeoHttpBehaviour | { operation: VeoOperationPlan };

export interface VeoRequest {
  method: string;
  path: string;
  route: 'predictLongRunning' | 'fetchPredictOperation' | 'unknown';
  headers: IncomingMessage['headers'];
  /** The JSON body, or undefined when it was not JSON. */
  body: unknown;
}

export interface VeoOperationRecord {
  name: string;
  model: string;
  prompt: string;
  /** `parameters` exactly as sent. */
  parameters: Record<string, unknown>;
  /** `parameters.storageUri` (the SDK's `outputGcsUri`), when given. */
  outputGcsUri?: string;
  plan: Required<VeoOperationPlan>;
  /** `labels` of the request, as sent (the client's billing labels). */
  labels: Record<string, string>;
  /** fetchPredictOperation calls answered for this operation. */
  polls: number;
  done: boolean;
}

export interface VeoServer {
  /** Base URL for `httpOptions.baseUrl`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Scripts the next predictLongRunning answers, in order; an empty queue accepts with the default plan. */
  enqueueCreate(behaviour: VeoCreateBehaviour): void;
  /** Scripts the next fetchPredictOperation answers, in order; an empty queue answers the operation's state. */
  enqueuePoll(behaviour: VeoHttpBehaviour): void;
  /** Every request to a route, whatever was answered (the "one create per attempt" assertion). */
  readonly counts: { predictLongRunning: number; fetchPredictOperation: number };
  readonly requests: VeoRequest[];
  /** Accepted operations, in creation order. */
  readonly operations: VeoOperationRecord[];
  /** Every predictLongRunning request received, images summarised, with its answer (also `GET /__received`). */
  received(): ReceivedRequest[];
  clearReceived(): void;
  /**
   * What Vertex would bill: every accepted operation (predictLongRunning answered with a name),
   * for its requested `durationSeconds` and sound, priced with the platform's price table,
   * whatever the client did later (Vertex cannot cancel a generation) — unless it ends done with
   * no video and `raiMediaFilteredCount` > 0 (a safety refusal) or done with an error: both free.
   * Refused creates (4xx/5xx) never made an operation and are free; a create answered 200 with a
   * cut body (`{ malformed: true }`) did make one, whose name the client never learns, and is billed.
   */
  readonly billedTasks: BilledTask[];
  readonly billedUsd: number;
  /** Creates per attempt key (the `aiprod_attempt` label the client sends; else prompt and seed),
   *  polls, and cancel calls (Vertex has none for Veo: any is counted and answered 404). */
  readonly calls: VendorCounts;
  close(): Promise<void>;
}

export interface VeoServerOptions {
  /** Requests without `Authorization: Bearer …` get 401 UNAUTHENTICATED (default true). */
  requireAuth?: boolean;
  /** The plan of operations created without a scripted one. */
  defaultPlan?: VeoOperationPlan;
  /**
   * There is no GCS emulator: a `storageUri` under `gs://bucket[/prefix]` is written to `dir`
   * (the rest of the path appended) and answered as `gcsUri`. A storageUri outside it is refused.
   */
  gcs?: { uriPrefix: string; dir: string };
  /** Bound on one ffmpeg render (default 120 s). */
  renderTimeoutMs?: number;
}

const ROUTE =
  /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):(predictLongRunning|fetchPredictOperation)$/;

const DEFAULT_MESSAGES: Record<number, string> = {
  403: "Permission 'aiplatform.endpoints.predict' denied on resource (or it may not exist).",
  429: 'Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: veo-3.1-fast-generate. Please submit a quota increase request.',
  500: 'Internal error encountered.',
  503: 'The service is currently unavailable.',
};

/** Veo frame rate. */
const FPS = 24;

/** Renders the clip Veo would have made: a test pattern of the requested size and length,
 *  with a tone when audio was asked for. */
async function renderClip(file: string, params: Record<string, unknown>, timeoutMs: number): Promise<void> {
  const aspect = typeof params.aspectRatio === 'string' ? params.aspectRatio : '16:9';
  const resolution = typeof params.resolution === 'string' ? params.resolution : '720p';
  const [width, height] = SIZES[aspect]?.[resolution] ?? [1280, 720];
  const duration = typeof params.durationSeconds === 'number' ? params.durationSeconds : 8;
  const audio = params.generateAudio === true;
  const inputs = ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${FPS}:duration=${duration}`];
  if (audio) inputs.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${duration}`);
  await runFfmpeg(
    [
      '-v',
      'error',
      ...inputs,
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      '-threads',
      '2',
      ...(audio ? ['-c:a', 'aac', '-b:a', '96k', '-ac', '2'] : []),
      '-t',
      String(duration),
      '-movflags',
      '+faststart',
      '-y',
      file,
    ],
    { timeoutMs },
  );
}

/** Starts the server on 127.0.0.1 on a free port. */
export async function startVeoServer(options: VeoServerOptions = {}): Promise<VeoServer> {
  const createQueue: VeoCreateBehaviour[] = [];
  const pollQueue: VeoHttpBehaviour[] = [];
  const requests: VeoRequest[] = [];
  const operations: VeoOperationRecord[] = [];
  const byName = new Map<string, VeoOperationRecord>();
  const counts = { predictLongRunning: 0, fetchPredictOperation: 0 };
  const tally = new VendorTally();
  const received = new ReceivedLog();
  /** The record entry of a create being answered, so a refusal is recorded with it. */
  const entries = new WeakMap<ServerResponse, ReceivedRequest>();
  const refuse = (res: ServerResponse, code: number, message: string, retryAfterSeconds?: number) => {
    const entry = entries.get(res);
    if (entry) entry.refusal = googleErrorBody(code, message, retryAfterSeconds);
    googleError(res, code, message, retryAfterSeconds);
  };
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const renders = new Map<string, Promise<unknown>>();
  const scratch = await mkdtemp(join(tmpdir(), 'aiprod-veo-server-'));
  const renderTimeoutMs = options.renderTimeoutMs ?? 120_000;
  const gcsPrefix = options.gcs?.uriPrefix.replace(/\/+$/, '');

  /** Where a gs:// URI lives on disk, or undefined when it is outside the mapped bucket. */
  const gcsPath = (uri: string): string | undefined => {
    if (!options.gcs || !gcsPrefix || !(uri === gcsPrefix || uri.startsWith(`${gcsPrefix}/`))) return undefined;
    const root = resolve(options.gcs.dir);
    const path = resolve(root, `.${uri.slice(gcsPrefix.length)}`);
    return path === root || path.startsWith(root + sep) ? path : undefined;
  };

  /** The done response of a video operation, rendered once and kept. */
  const videoResponse = (op: VeoOperationRecord) => {
    let pending = renders.get(op.name);
    if (!pending) {
      pending = (async () => {
        const count = typeof op.parameters.sampleCount === 'number' ? op.parameters.sampleCount : 1;
        const id = op.name.split('/').pop()!;
        const videos: Record<string, string>[] = [];
        for (let i = 0; i < count; i++) {
          if (op.outputGcsUri) {
            const gcsUri = `${op.outputGcsUri.replace(/\/+$/, '')}/${id}/sample_${i}.mp4`;
            const file = gcsPath(gcsUri)!;
            await mkdir(dirname(file), { recursive: true });
            await renderClip(file, op.parameters, renderTimeoutMs);
            videos.push({ gcsUri, mimeType: 'video/mp4' });
          } else {
            const file = join(scratch, `${id}-${i}.mp4`);
            await renderClip(file, op.parameters, renderTimeoutMs);
            videos.push({ bytesBase64Encoded: (await readFile(file)).toString('base64'), mimeType: 'video/mp4' });
            await rm(file, { force: true });
          }
        }
        return {
          '@type': 'type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse',
          raiMediaFilteredCount: 0,
          videos,
        };
      })();
      // A failed render is not cached: the next poll tries again.
      pending.catch(() => renders.delete(op.name));
      renders.set(op.name, pending);
    }
    return pending;
  };

  const answerOperation = async (res: ServerResponse, op: VeoOperationRecord) => {
    op.polls++;
    if (op.polls <= op.plan.pollsUntilDone) {
      sendJson(res, 200, { name: op.name });
      return;
    }
    op.done = true;
    const outcome = op.plan.outcome;
    if (outcome.kind === 'error') {
      sendJson(res, 200, { name: op.name, done: true, error: { code: outcome.code, message: outcome.message } });
    } else if (outcome.kind === 'filtered') {
      sendJson(res, 200, {
        name: op.name,
        done: true,
        response: {
          '@type': 'type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse',
          raiMediaFilteredCount: outcome.count ?? 1,
          raiMediaFilteredReasons: outcome.reasons ?? [
            'Your current safety settings for person generation prevented one or more videos from being generated. Support codes: 58061214',
          ],
        },
      });
    } else if (outcome.kind === 'empty') {
      sendJson(res, 200, {
        name: op.name,
        done: true,
        response: { '@type': 'type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse' },
      });
    } else {
      try {
        sendJson(res, 200, { name: op.name, done: true, response: await videoResponse(op) });
      } catch (err) {
        googleError(res, 500, `veo test server: render failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };

  const perform = (
    behaviour: VeoHttpBehaviour | undefined,
    res: ServerResponse,
    normal: () => void | Promise<void>,
    /** What a 2xx answer means was done, even when its body is cut (a create: the operation exists). */
    carriedOut: () => void = () => undefined,
  ): void => {
    if (!behaviour) {
      void normal();
    } else if ('delayMs' in behaviour) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        perform(behaviour.then, res, normal, carriedOut);
      }, behaviour.delayMs);
      timers.add(timer);
    } else if ('resetConnection' in behaviour) {
      res.socket?.destroy();
    } else if ('malformed' in behaviour) {
      carriedOut();
      const text = '{"name": "projects/';
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(text.length) });
      res.end(text);
    } else {
      const message = behaviour.message ?? DEFAULT_MESSAGES[behaviour.status] ?? `HTTP ${behaviour.status}`;
      refuse(res, behaviour.status, message, behaviour.retryAfterSeconds);
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (path === RECEIVED_PATH) {
      serveReceived(received, req, res);
      return;
    }
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const match = ROUTE.exec(path);
    const route = (match?.[5] as VeoRequest['route'] | undefined) ?? 'unknown';
    requests.push({ method: req.method ?? '', path, route, headers: req.headers, body });
    if (path.endsWith(':cancel')) tally.cancels++;
    if (route === 'fetchPredictOperation') tally.polls++;
    if (!match || req.method !== 'POST') {
      refuse(res, 404, `veo test server: no route for ${req.method} ${path}`);
      return;
    }
    const [, , project, location, model] = match as unknown as [string, string, string, string, string];
    counts[route as 'predictLongRunning' | 'fetchPredictOperation']++;
    if (route === 'predictLongRunning') {
      const entry = received.add({ method: req.method, path, body });
      entries.set(res, entry);
      res.once('close', () => {
        if (res.headersSent) entry.status = res.statusCode;
      });
    }
    // Protocol errors come before the script, as on Vertex; the scripted behaviour stays queued.
    if (options.requireAuth !== false && !/^Bearer \S+/.test(req.headers.authorization ?? '')) {
      refuse(res, 401, 'Request is missing required authentication credential.');
      return;
    }
    if (body === undefined || typeof body !== 'object' || body === null) {
      refuse(res, 400, 'Invalid JSON payload received.');
      return;
    }
    const notFound = unknownVeoModel(project, location, model);
    if (notFound) {
      refuse(res, 404, notFound);
      return;
    }

    if (route === 'predictLongRunning') {
      const invalid = invalidVeoRequest(body);
      if (invalid) {
        refuse(res, 400, invalid);
        return;
      }
      const parameters = ((body as { parameters?: Record<string, unknown> }).parameters ?? {}) as Record<
        string,
        unknown
      >;
      const storageUri = typeof parameters.storageUri === 'string' ? parameters.storageUri : undefined;
      if (storageUri && !gcsPath(storageUri)) {
        refuse(res, 400, `veo test server: storageUri ${storageUri} is outside the mapped bucket (options.gcs)`);
        return;
      }
      const behaviour = createQueue.shift();
      const plan = behaviour && 'operation' in behaviour ? behaviour.operation : options.defaultPlan;
      const accept = (): VeoOperationRecord => {
        const record: VeoOperationRecord = {
          name: `projects/${project}/locations/${location}/publishers/google/models/${model}/operations/${randomUUID()}`,
          model,
          prompt: String((body as { instances: { prompt?: unknown }[] }).instances[0]?.prompt ?? ''),
          parameters,
          ...(storageUri ? { outputGcsUri: storageUri } : {}),
          plan: { pollsUntilDone: plan?.pollsUntilDone ?? 0, outcome: plan?.outcome ?? { kind: 'video' } },
          labels: labelsOf(body),
          polls: 0,
          done: false,
        };
        operations.push(record);
        const entry = entries.get(res);
        if (entry) entry.taskId = record.name;
        tally.created(
          record.labels.aiprod_attempt ?? promptSeedKey(record.prompt, record.parameters.seed),
          record.name,
        );
        byName.set(record.name, record);
        return record;
      };
      perform(
        behaviour && 'operation' in behaviour ? undefined : behaviour,
        res,
        () => sendJson(res, 200, { name: accept().name }),
        // A 200 whose body is cut: Vertex accepted the request, and the operation runs and bills.
        () => void accept(),
      );
      return;
    }

    const operationName = (body as { operationName?: unknown }).operationName;
    const resource = `projects/${project}/locations/${location}/publishers/google/models/${model}`;
    if (typeof operationName !== 'string' || !operationName.startsWith(`${resource}/operations/`)) {
      refuse(res, 400, `operationName must be an operation of ${resource}.`);
      return;
    }
    perform(pollQueue.shift(), res, async () => {
      const op = byName.get(operationName);
      if (!op) refuse(res, 404, `Operation ${operationName} not found.`);
      else await answerOperation(res, op);
    });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolvePromise());
  });
  const { port } = server.address() as AddressInfo;

  const billed = (): BilledTask[] =>
    operations.flatMap((op) => {
      const outcome = op.plan.outcome;
      if (outcome.kind === 'error') return [];
      if (outcome.kind === 'filtered' && (outcome.count ?? 1) > 0) return [];
      const seconds = typeof op.parameters.durationSeconds === 'number' ? op.parameters.durationSeconds : 8;
      const resolution = op.parameters.resolution === '1080p' ? '1080p' : '720p';
      const usd = priceTask(
        'veo',
        op.model,
        { resolution },
        { outputSeconds: seconds, audio: op.parameters.generateAudio === true },
      );
      const why = !op.done
        ? 'accepted (billed whether or not it is polled)'
        : outcome.kind === 'video'
          ? 'done with video'
          : 'done without video, not filtered';
      return [{ taskId: op.name, seconds, usd, why }];
    });

  return {
    url: `http://127.0.0.1:${port}`,
    enqueueCreate: (behaviour) => {
      createQueue.push(behaviour);
    },
    enqueuePoll: (behaviour) => {
      pollQueue.push(behaviour);
    },
    counts,
    requests,
    operations,
    received: () => received.list(),
    clearReceived: () => received.clear(),
    get billedTasks() {
      return billed();
    },
    get billedUsd() {
      return totalUsd(billed());
    },
    get calls() {
      return tally.snapshot();
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
      await Promise.allSettled(renders.values());
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** The request's `labels` (Vertex billing labels), string values only. */
function labelsOf(body: unknown): Record<string, string> {
  const labels = (body as { labels?: unknown }).labels;
  if (!labels || typeof labels !== 'object') return {};
  return Object.fromEntries(
    Object.entries(labels as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

export { invalidVeoRequest, VEO_MODELS } from './veo-models';
