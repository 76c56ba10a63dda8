import type { ServerResponse } from 'node:http';
import {
  bearer,
  FaultQueues,
  PhaseClock,
  ScriptQueue,
  startVendorHttp,
  uuidLike,
  type FileShelf,
  type HttpFault,
  type Phase,
  type PublishOptions,
  ReceivedLog,
  type ReceivedRequest,
  type VendorRequest,
} from './common';
import { RUNWAY_MODELS, validateRunwayCreate } from './runway-models';
import { priceTask, promptSeedKey, totalUsd, VendorTally, type BilledTask, type VendorCounts } from './billing';

/**
 * A local stand-in for the Runway API as `@runwayml/sdk` calls it (pass `url` as `baseURL`):
 *
 *   POST   /v1/text_to_video | /v1/image_to_video   → 200 { id, estimatedCost }
 *   GET    /v1/tasks/{id}                           → the task (PENDING | THROTTLED | RUNNING |
 *                                                     SUCCEEDED | FAILED | CANCELLED)
 *   DELETE /v1/tasks/{id}                           → 204 (cancels a live task, deletes a done one)
 *
 * Every request needs `Authorization: Bearer <key>` (401 otherwise, or for a wrong key when
 * `apiKey` is set) and `X-Runway-Version: 2024-11-06` (400 otherwise). Bodies are validated as
 * Runway does for the models below (model per endpoint, ratio and duration per model,
 * promptText ≤ 1000 UTF-16 units, promptImage as an https URL, upload or image data URI or as
 * `{ uri, position }` items, seed, no unknown fields) and refused with 400 `{ error, issues }`.
 * Tasks follow a script (phases, outcome, output expiry); HTTP faults are queued per operation.
 * With a per-model `concurrency` limit, a task created while that many of the model's tasks are
 * live waits THROTTLED until one ends, as Runway queues work above an organisation's tier.
 *
 *   GET | DELETE /__received   → the record of create requests (loopback only), or clears it
 */

export type RunwayOp = 'create' | 'poll' | 'cancel';
export type RunwayStatus = 'PENDING' | 'THROTTLED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

type Slow = Omit<Phase<string>, 'status'>;

export interface RunwayTaskScript {
  /** THROTTLED first (the organisation's concurrency limit), for this many polls / ms. */
  throttled?: Slow;
  /** Then PENDING; default one poll. */
  pending?: Slow;
  /** Then RUNNING with a rising `progress`; default one poll. */
  running?: Slow;
  /**
   * How the task ends: `succeed` (default) with one output URL, `succeed_without_output`
   * (SUCCEEDED with `output: []`), or FAILED with a failure code such as `SAFETY.INPUT.TEXT`
   * or `INTERNAL.BAD_OUTPUT.CODE01`. A failed task reports `cost.credits` (default 0: Runway
   * refunds failed generations).
   */
  outcome?: 'succeed' | 'succeed_without_output' | { failureCode: string; failure?: string; credits?: number };
  /** Output URLs handed out by polls; each poll of a SUCCEEDED task hands out fresh ones, as
   *  Runway does. */
  output?: PublishOptions;
}

export interface RunwayTaskView {
  id: string;
  endpoint: 'text_to_video' | 'image_to_video';
  body: Record<string, unknown>;
  status: RunwayStatus;
  /** DELETE was called while it was live. */
  cancelled: boolean;
  /** DELETE was called after it ended: it is gone (404). */
  deleted: boolean;
  polls: number;
}

export interface RunwayServer {
  /** The SDK's `baseURL`. */
  url: string;
  requests: VendorRequest[];
  files: FileShelf;
  /** Injects `fault` in front of the next `times` requests of `op`. */
  fail(op: RunwayOp, fault: HttpFault, times?: number): void;
  /** Every create request received, images summarised, with its answer (also `GET /__received`). */
  received(): ReceivedRequest[];
  clearReceived(): void;
  /** Sets (or, with undefined, lifts) a model's limit on tasks live at once. */
  setConcurrency(model: string, limit: number | undefined): void;
  /** The script of the next task created; later tasks take the default. */
  scriptTask(script: RunwayTaskScript): void;
  setDefaultTask(script: RunwayTaskScript): void;
  /** Every POST to a create endpoint that reached the server, answered or not. */
  readonly createRequests: number;
  /** Creates answered with a task id: what Runway would bill for. */
  readonly tasksCreated: number;
  task(id: string): RunwayTaskView | undefined;
  /**
   * What Runway would bill: each task that reached SUCCEEDED, for its requested duration, priced
   * with the platform's price table. FAILED tasks are refunded and a task deleted while it ran
   * (CANCELLED) is not charged; a task still running is not billed yet (see `settle`).
   */
  readonly billedTasks: BilledTask[];
  readonly billedUsd: number;
  /** Creates (per prompt and seed: Runway sees no attempt key), cancels and polls. */
  readonly calls: VendorCounts;
  /**
   * Runs every live task to its scripted end, as Runway's own clock would: a task the client
   * stopped polling without deleting it still finishes and is billed. Call at the end of a run,
   * before reading the bill.
   */
  settle(): void;
  close(): Promise<void>;
}

export interface RunwayServerOptions {
  /** When set, any other bearer token gets 401. */
  apiKey?: string;
  /** Credits per second of output in `estimatedCost` / `cost`; illustrative, not a price. */
  creditsPerSecond?: number;
  /** Frame rate of the generated clips (lower is faster to make). Default 24. */
  fps?: number;
  defaultTask?: RunwayTaskScript;
  /** Tasks a model may have live at once (PENDING, RUNNING or scripted THROTTLED); more wait
   *  THROTTLED until one ends. No limit for a model not named. */
  concurrency?: Record<string, number>;
}

export const RUNWAY_API_VERSION = '2024-11-06';

/** Runway's wording for the statuses a test is likely to inject. */
const RUNWAY_MESSAGES: Record<number, string> = {
  429: 'You have exceeded the rate limit for this API key. Please slow down.',
  500: 'An internal error occurred.',
  502: 'Bad gateway: Runway is shedding load. Please retry.',
  503: 'Service unavailable: Runway is shedding load. Please retry.',
  504: 'Gateway timeout: Runway is overloaded. Please retry.',
};

export { RUNWAY_MODELS, validateRunwayCreate, type RunwayIssue, type RunwayModelRule } from './runway-models';

interface Task extends RunwayTaskView {
  createdAt: string;
  model: string;
  /** Made when the task takes a slot of its model's concurrency, so its phases start then. */
  clock?: PhaseClock<'THROTTLED' | 'PENDING' | 'RUNNING'>;
  script: RunwayTaskScript;
  durationSeconds: number;
  width: number;
  height: number;
  credits: number;
  video?: Promise<string>;
  /** It ended in `settle`, not by a poll. */
  settled?: boolean;
}

const CREATE_PATH = /^\/v1\/(text_to_video|image_to_video)$/;
const TASK_PATH = /^\/v1\/tasks\/([^/]+)$/;

export async function startRunwayServer(options: RunwayServerOptions = {}): Promise<RunwayServer> {
  const faults = new FaultQueues<RunwayOp>();
  const scripts = new ScriptQueue<RunwayTaskScript>(options.defaultTask ?? {});
  const tasks = new Map<string, Task>();
  const creditsPerSecond = options.creditsPerSecond ?? 12;
  const tally = new VendorTally();
  const received = new ReceivedLog();
  const limits = new Map<string, number>(Object.entries(options.concurrency ?? {}));
  let createRequests = 0;

  const ended = (t: Task) => t.status === 'SUCCEEDED' || t.status === 'FAILED' || t.status === 'CANCELLED';

  /** Starts the task's phases if its model has a free slot; tasks take slots in creation order. */
  const takeSlot = (task: Task): boolean => {
    if (task.clock) return true;
    const limit = limits.get(task.model);
    if (limit !== undefined) {
      let live = 0;
      for (const t of tasks.values()) {
        if (t === task) break;
        if (t.model === task.model && !ended(t)) live++;
      }
      if (live >= limit) return false;
    }
    task.clock = new PhaseClock([
      { status: 'THROTTLED', ...task.script.throttled },
      { status: 'PENDING', ...(task.script.pending ?? { polls: 1 }) },
      { status: 'RUNNING', ...(task.script.running ?? { polls: 1 }) },
    ]);
    return true;
  };

  const error = (status: number, message?: string) => ({
    error: message ?? RUNWAY_MESSAGES[status] ?? `HTTP ${status}`,
  });

  const view = (task: Task) => {
    const common = { id: task.id, createdAt: task.createdAt };
    switch (task.status) {
      case 'SUCCEEDED':
        return { ...common, status: task.status, cost: { credits: task.credits }, output: [] as string[] };
      case 'FAILED':
      case 'CANCELLED':
        return { ...common, status: task.status, cost: { credits: task.status === 'FAILED' ? task.credits : 0 } };
      default:
        return { ...common, status: task.status, estimatedCost: { credits: task.credits } };
    }
  };

  const create = (endpoint: 'text_to_video' | 'image_to_video', req: VendorRequest, res: ServerResponse) => {
    const issues = validateRunwayCreate(endpoint, req.body);
    if (issues.length) {
      http.sendJson(res, 400, { error: 'Validation of body failed', issues });
      return;
    }
    const body = req.body as Record<string, unknown>;
    const rule = RUNWAY_MODELS[endpoint][body.model as string]!;
    const [width, height] = (body.ratio as string).split(':').map(Number) as [number, number];
    const durationSeconds = typeof body.duration === 'number' ? body.duration : rule.defaultDuration;
    const script = scripts.next();
    const outcome = script.outcome ?? 'succeed';
    const task: Task = {
      id: uuidLike(),
      endpoint,
      body,
      status: 'PENDING',
      cancelled: false,
      deleted: false,
      polls: 0,
      createdAt: new Date().toISOString(),
      model: body.model as string,
      script,
      durationSeconds,
      width,
      height,
      credits: typeof outcome === 'object' ? (outcome.credits ?? 0) : Math.round(durationSeconds * creditsPerSecond),
    };
    // Start encoding now so the first SUCCEEDED poll rarely waits for ffmpeg.
    if (outcome === 'succeed') {
      task.video = http.makeVideo({ durationSeconds, width, height, fps: options.fps });
      task.video.catch(() => undefined);
    }
    tasks.set(task.id, task);
    if (!takeSlot(task)) task.status = 'THROTTLED';
    tally.created(promptSeedKey(body.promptText, body.seed), task.id);
    http.sendJson(res, 200, {
      id: task.id,
      estimatedCost: { credits: Math.round(durationSeconds * creditsPerSecond) },
    });
  };

  const poll = async (task: Task, res: ServerResponse) => {
    task.polls++;
    if (!ended(task)) {
      if (!takeSlot(task)) {
        // Busy, not failed: the model is at its concurrency limit and this task waits its turn.
        task.status = 'THROTTLED';
        http.sendJson(res, 200, view(task));
        return;
      }
      const phase = task.clock!.observe();
      if (phase) {
        task.status = phase.status;
        const body: Record<string, unknown> = view(task);
        if (phase.status === 'RUNNING') body.progress = Math.round(phase.fraction * 100) / 100;
        http.sendJson(res, 200, body);
        return;
      }
      const outcome = task.script.outcome ?? 'succeed';
      task.status = typeof outcome === 'object' ? 'FAILED' : 'SUCCEEDED';
    }
    const body: Record<string, unknown> = view(task);
    const outcome = task.script.outcome ?? 'succeed';
    if (task.status === 'FAILED' && typeof outcome === 'object') {
      body.failure = outcome.failure ?? defaultFailure(outcome.failureCode);
      body.failureCode = outcome.failureCode;
    } else if (task.status === 'SUCCEEDED' && outcome === 'succeed') {
      const file = await (task.video ??= http.makeVideo({
        durationSeconds: task.durationSeconds,
        width: task.width,
        height: task.height,
        fps: options.fps,
      }));
      body.output = [http.files.publish(file, task.script.output)];
    }
    http.sendJson(res, 200, body);
  };

  const http = await startVendorHttp({
    vendor: 'runway',
    received,
    errorBody: error,
    operationOf: (method, path) => {
      if (CREATE_PATH.test(path)) return method === 'POST' ? 'create' : 'unrouted';
      if (TASK_PATH.test(path)) return method === 'GET' ? 'poll' : method === 'DELETE' ? 'cancel' : 'unrouted';
      return 'unrouted';
    },
    handle: async (req, res) => {
      const createMatch = CREATE_PATH.exec(req.path);
      const taskMatch = TASK_PATH.exec(req.path);
      if (!createMatch && !taskMatch) {
        http.sendJson(res, 404, error(404, 'Not found'));
        return;
      }
      if (req.op === 'unrouted') {
        http.sendJson(res, 405, error(405, `Method ${req.method} not allowed`));
        return;
      }
      if (req.op === 'create') createRequests++;
      const token = bearer(req);
      if (!token || (options.apiKey !== undefined && token !== options.apiKey)) {
        http.sendJson(res, 401, error(401, 'Invalid API key. Check that your key is correct and active.'));
        return;
      }
      const version = req.headers['x-runway-version'];
      if (version !== RUNWAY_API_VERSION) {
        http.sendJson(
          res,
          400,
          error(
            400,
            version ? `Unsupported API version: ${String(version)}` : 'The X-Runway-Version header is required',
          ),
        );
        return;
      }
      const op = req.op as RunwayOp;
      if (op === 'poll') tally.polls++;
      if (op === 'cancel') tally.cancels++;
      const proceed = () => {
        if (createMatch) {
          create(createMatch[1] as 'text_to_video' | 'image_to_video', req, res);
          return;
        }
        const task = tasks.get(taskMatch![1]!);
        if (!task || task.deleted) {
          http.sendJson(res, 404, error(404, 'Task not found'));
          return;
        }
        if (op === 'cancel') {
          if (task.status === 'SUCCEEDED' || task.status === 'FAILED' || task.status === 'CANCELLED') {
            task.deleted = true;
          } else {
            task.status = 'CANCELLED';
            task.cancelled = true;
          }
          res.writeHead(204).end();
          return;
        }
        poll(task, res).catch((err: unknown) => {
          http.sendJson(res, 500, error(500, `runway test server: ${(err as Error).message}`));
        });
      };
      const fault = faults.take(op);
      if (fault) http.perform(fault, res, proceed);
      else proceed();
    },
  });

  return {
    url: http.url,
    requests: http.requests,
    files: http.files,
    fail: (op, fault, times) => faults.enqueue(op, fault, times),
    received: () => received.list(),
    clearReceived: () => received.clear(),
    setConcurrency: (model, limit) => {
      if (limit === undefined) limits.delete(model);
      else limits.set(model, limit);
    },
    scriptTask: (script) => scripts.enqueue(script),
    setDefaultTask: (script) => scripts.setDefault(script),
    get createRequests() {
      return createRequests;
    },
    get tasksCreated() {
      return tasks.size;
    },
    task: (id) => {
      const t = tasks.get(id);
      return (
        t && {
          id: t.id,
          endpoint: t.endpoint,
          body: t.body,
          status: t.status,
          cancelled: t.cancelled,
          deleted: t.deleted,
          polls: t.polls,
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
    settle: () => {
      for (const task of tasks.values()) {
        if (ended(task)) continue;
        task.status = typeof (task.script.outcome ?? 'succeed') === 'object' ? 'FAILED' : 'SUCCEEDED';
        task.settled = true;
      }
    },
    close: () => http.close(),
  };

  function billed(): BilledTask[] {
    return [...tasks.values()]
      .filter((t) => t.status === 'SUCCEEDED')
      .map((t) => ({
        taskId: t.id,
        seconds: t.durationSeconds,
        usd: priceTask('runway', String(t.body.model), t, {
          outputSeconds: t.durationSeconds,
          audio: false,
        }),
        why: t.settled ? 'SUCCEEDED after its client stopped polling' : 'SUCCEEDED',
      }));
  }
}

function defaultFailure(code: string): string {
  if (code.startsWith('SAFETY.')) return 'The prompt or an input was flagged by content moderation.';
  if (code.startsWith('INTERNAL.BAD_OUTPUT')) return 'The generation did not meet quality standards. Please try again.';
  return 'An unexpected error occurred.';
}
