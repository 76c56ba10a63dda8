import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFfmpeg } from '@aiprod/media';

/**
 * The shared core of the vendor protocol test servers (Runway, Replicate, and later Veo): one
 * node:http server on 127.0.0.1, a log of every request, queues of scripted HTTP faults per
 * operation, tasks that move through phases by polls or by time, real MP4 files made by ffmpeg
 * and served at URLs that can be made to expire.
 */

export interface VendorRequest {
  method: string;
  /** Without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The body as received (for malformed-body tests). */
  rawBody: string;
  /** The parsed JSON body; undefined when it was empty or not JSON. */
  body: unknown;
  /** What the vendor server made of it, e.g. `create`, `poll`, `cancel`, `file`, `unrouted`. */
  op: string;
  receivedAt: number;
}

/** A failure a test injects in front of one request. */
export type HttpFault =
  /** An error status with the vendor's error body (or `body` verbatim). A 429 with
   *  `retryAfterSeconds` also carries a `Retry-After` header. */
  | {
      status: number;
      message?: string;
      body?: unknown;
      retryAfterSeconds?: number;
      headers?: Record<string, string>;
    }
  /** A response that says it is JSON and is not (a proxy's truncated body). */
  | { malformedJson: true; status?: number }
  /** The connection is dropped without a response: the client sees a network error. */
  | { resetConnection: true }
  /** Waits, then does `then`, or answers the request normally. A client that gives up first
   *  just finds the connection closed. */
  | { delayMs: number; then?: HttpFault };

/** Scripted faults, one queue per operation (`create`, `poll`, …), taken one per request. */
export class FaultQueues<Op extends string> {
  private readonly queues = new Map<Op, HttpFault[]>();

  enqueue(op: Op, fault: HttpFault, times = 1): void {
    const queue = this.queues.get(op) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.queues.set(op, queue);
  }

  take(op: Op): HttpFault | undefined {
    return this.queues.get(op)?.shift();
  }

  pending(op: Op): number {
    return this.queues.get(op)?.length ?? 0;
  }
}

/** A queue of scripted values with a default for when it is empty. */
export class ScriptQueue<T> {
  private readonly queue: T[] = [];
  constructor(private fallback: T) {}

  enqueue(value: T): void {
    this.queue.push(value);
  }

  setDefault(value: T): void {
    this.fallback = value;
  }

  next(): T {
    return this.queue.shift() ?? this.fallback;
  }
}

/** One phase of a task: it lasts until it has been observed `polls` times AND `ms` have passed
 *  since it began, so a test can make a task slow by poll count, by wall time, or both. */
export interface Phase<S extends string> {
  status: S;
  polls?: number;
  ms?: number;
}

/**
 * Moves a task through its phases as it is observed (a poll, or a server-side wait). Phases
 * advance only when observed, like a vendor whose state is read, not pushed.
 */
export class PhaseClock<S extends string> {
  private index = 0;
  private pollsInPhase = 0;
  private enteredAt: number;

  constructor(
    private readonly phases: readonly Phase<S>[],
    now = Date.now(),
  ) {
    this.enteredAt = now;
  }

  /** Counts one observation; returns the phase seen and how far through it the task is
   *  (0..1), or undefined once every phase is over. */
  observe(now = Date.now()): { status: S; fraction: number } | undefined {
    while (this.index < this.phases.length) {
      const phase = this.phases[this.index]!;
      const polls = phase.polls ?? 0;
      const ms = phase.ms ?? 0;
      const elapsed = now - this.enteredAt;
      if (this.pollsInPhase < polls || elapsed < ms) {
        this.pollsInPhase++;
        const byPolls = polls > 0 ? this.pollsInPhase / (polls + 1) : 1;
        const byTime = ms > 0 ? Math.min(1, elapsed / ms) : 1;
        return { status: phase.status, fraction: Math.min(byPolls, byTime) };
      }
      this.index++;
      this.pollsInPhase = 0;
      this.enteredAt = now;
    }
    return undefined;
  }

  /** True once every phase is over (without counting an observation). */
  get finished(): boolean {
    return this.index >= this.phases.length;
  }
}

/** What a generated test clip looks like. */
export interface TestVideoSpec {
  durationSeconds: number;
  width: number;
  height: number;
  fps?: number;
}

export interface PublishOptions {
  /** The URL stops working this long after publishing. */
  expiresInMs?: number;
  /** Already expired when published (a URL fetched too late). */
  expired?: boolean;
  /** What an expired URL answers: 403 (signed CDN URL) or 404 (deleted file). Default 404. */
  expiredStatus?: number;
}

interface PublishedFile {
  path: string;
  expiresAt: number;
  expiredStatus: number;
}

export interface FileShelf {
  /** Makes `path` downloadable at a new URL on this server. */
  publish(path: string, options?: PublishOptions): string;
  /** Makes one URL (or every URL) answer as expired from now on. */
  expire(url?: string): void;
  /** Successful downloads so far. */
  readonly downloads: number;
}

export interface VendorHttp {
  url: string;
  requests: VendorRequest[];
  files: FileShelf;
  /** Answers with JSON unless the client already gave up. */
  sendJson(res: ServerResponse, status: number, payload: unknown, headers?: Record<string, string>): void;
  /** Applies a fault; `proceed` answers normally (after a delay fault without `then`). */
  perform(fault: HttpFault, res: ServerResponse, proceed: () => void): void;
  /** A timer cleared on close. */
  later(ms: number, fn: () => void): void;
  /** The record entry of the create request this response answers (to add what the server made of it). */
  receivedEntry(res: ServerResponse): ReceivedRequest | undefined;
  /** Makes (or reuses) an MP4 with a test pattern, a tone and exactly the asked duration and size. */
  makeVideo(spec: TestVideoSpec): Promise<string>;
  close(): Promise<void>;
}

export interface VendorHttpOptions {
  /** Names the operation of a request (`create`, `poll`, …); used for the log and fault queues. */
  operationOf(method: string, path: string): string;
  /** Routes one request (files are served before this is called). */
  handle(req: VendorRequest, res: ServerResponse): void | Promise<void>;
  /** The vendor's error body for a status; without a message, the vendor's usual wording. */
  errorBody(status: number, message?: string, retryAfterSeconds?: number): unknown;
  /** Whose server this is, for messages. */
  vendor: string;
  /** Where create requests are recorded (served at `/__received`); none when absent. */
  received?: ReceivedLog;
}

const FILE_PATH = /^\/files\/([a-f0-9]{32})\.mp4$/;

/** Starts a vendor server on 127.0.0.1 and a free port. */
export async function startVendorHttp(options: VendorHttpOptions): Promise<VendorHttp> {
  const requests: VendorRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const published = new Map<string, PublishedFile>();
  const videos = new Map<string, Promise<string>>();
  const scratch = await mkdtemp(join(tmpdir(), 'aiprod-vendor-'));
  let downloads = 0;
  let url = '';

  /** The record entry of a create being answered, so its answer is recorded with it. */
  const entries = new WeakMap<ServerResponse, ReceivedRequest>();

  const sendJson: VendorHttp['sendJson'] = (res, status, payload, headers = {}) => {
    if (res.destroyed || res.writableEnded) return;
    const entry = entries.get(res);
    if (entry) {
      entry.status = status;
      const id = (payload as { id?: unknown } | undefined)?.id;
      if (status < 300 && typeof id === 'string') entry.taskId = id;
      if (status >= 400) entry.refusal = payload;
    }
    const text = payload === undefined ? '' : JSON.stringify(payload);
    res.writeHead(status, {
      ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  };

  const later: VendorHttp['later'] = (ms, fn) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const perform: VendorHttp['perform'] = (fault, res, proceed) => {
    if ('delayMs' in fault) {
      later(fault.delayMs, () => (fault.then ? perform(fault.then, res, proceed) : proceed()));
    } else if ('resetConnection' in fault) {
      res.socket?.destroy();
    } else if ('malformedJson' in fault) {
      if (res.destroyed || res.writableEnded) return;
      const text = '{"id": "trunc';
      res.writeHead(fault.status ?? 200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(text.length),
      });
      res.end(text);
    } else {
      const headers: Record<string, string> = { ...fault.headers };
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.ceil(fault.retryAfterSeconds));
      const body = fault.body ?? options.errorBody(fault.status, fault.message, fault.retryAfterSeconds);
      sendJson(res, fault.status, body, headers);
    }
  };

  const serveFile = (id: string, res: ServerResponse): void => {
    const file = published.get(id);
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    if (Date.now() >= file.expiresAt) {
      // What a CDN answers for a signed URL past its expiry, or a storage bucket for a deleted file.
      const text = file.expiredStatus === 403 ? 'AccessDenied: Request has expired' : 'Not Found';
      res.writeHead(file.expiredStatus, { 'content-type': 'text/plain' }).end(text);
      return;
    }
    stat(file.path).then(
      (info) => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(info.size) });
        const stream = createReadStream(file.path);
        stream.on('error', () => res.destroy());
        res.on('close', () => stream.destroy());
        res.on('finish', () => {
          downloads++;
        });
        stream.pipe(res);
      },
      () => res.writeHead(500).end(),
    );
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const parsed = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (options.received && parsed.pathname === RECEIVED_PATH) {
        serveReceived(options.received, req, res);
        return;
      }
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = rawBody ? JSON.parse(rawBody) : undefined;
      } catch {
        body = undefined;
      }
      const method = req.method ?? '';
      const file = FILE_PATH.exec(parsed.pathname);
      const record: VendorRequest = {
        method,
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        rawBody,
        body,
        op: file ? 'file' : options.operationOf(method, parsed.pathname),
        receivedAt: Date.now(),
      };
      requests.push(record);
      if (options.received && record.op === 'create') {
        const entry = options.received.add({ method, path: record.path, body });
        entries.set(res, entry);
        // An answer not sent through sendJson (a fault, a dropped connection) still leaves its status.
        res.once('close', () => {
          if (entry.status === undefined && res.headersSent) entry.status = res.statusCode;
        });
      }
      if (file && method === 'GET') {
        serveFile(file[1]!, res);
        return;
      }
      Promise.resolve(options.handle(record, res)).catch((err: unknown) => {
        const message = `${options.vendor} test server failed: ${err instanceof Error ? err.message : String(err)}`;
        sendJson(res, 500, options.errorBody(500, message));
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const files: FileShelf = {
    publish(path, opts = {}) {
      const id = randomBytes(16).toString('hex');
      const expiresAt = opts.expired
        ? 0
        : opts.expiresInMs === undefined
          ? Number.POSITIVE_INFINITY
          : Date.now() + opts.expiresInMs;
      published.set(id, { path, expiresAt, expiredStatus: opts.expiredStatus ?? 404 });
      return `${url}/files/${id}.mp4`;
    },
    expire(which) {
      for (const [id, file] of published) {
        if (which === undefined || which.endsWith(`/files/${id}.mp4`)) file.expiresAt = 0;
      }
    },
    get downloads() {
      return downloads;
    },
  };

  const makeVideo = (spec: TestVideoSpec): Promise<string> => {
    const fps = spec.fps ?? 24;
    const key = `${spec.durationSeconds}s-${spec.width}x${spec.height}-${fps}`;
    const existing = videos.get(key);
    if (existing) return existing;
    const out = join(scratch, `${key}.mp4`);
    const d = String(spec.durationSeconds);
    // A moving test pattern and a tone: every QA detector (black, frozen, silent) passes it, and
    // ultrafast keeps a 10 s 1280x720 clip to about a second of encoding.
    const made = runFfmpeg(
      [
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=${spec.width}x${spec.height}:rate=${fps}`,
        '-f',
        'lavfi',
        '-i',
        `sine=frequency=440:sample_rate=48000:duration=${d}`,
        // Exactly round(duration × fps) frames: a lavfi `duration` rounds up a partial frame.
        '-frames:v',
        String(Math.max(1, Math.round(spec.durationSeconds * fps))),
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-pix_fmt',
        'yuv420p',
        '-threads',
        '2',
        '-c:a',
        'aac',
        '-b:a',
        '64k',
        '-movflags',
        '+faststart',
        '-y',
        out,
      ],
      { timeoutMs: 120_000 },
    ).then(() => out);
    // A failed render must not be cached as the answer for every later task.
    made.catch(() => videos.delete(key));
    videos.set(key, made);
    return made;
  };

  return {
    url,
    requests,
    files,
    sendJson,
    perform,
    later,
    receivedEntry: (res) => entries.get(res),
    makeVideo,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled(videos.values());
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** The bearer token of a request, or undefined. */
export function bearer(req: VendorRequest): string | undefined {
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** A UUID v4-shaped id, as Runway gives its tasks. */
export function uuidLike(): string {
  const hex = randomBytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

/** A lowercase base-32 id of `length` characters, as Replicate gives its predictions. */
export function base32Id(length = 26): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return Array.from(randomBytes(length), (b) => alphabet[b % 32]).join('');
}

/**
 * What a vendor server received, for tests and for anyone watching a local stack: every create
 * request with its body (images summarised, so the record stays small) and how it was answered.
 * Read it in-process with `received()` or over HTTP at `GET /__received`; `DELETE` clears it.
 */
export interface ReceivedRequest {
  /** 1, 2, 3… in arrival order; not reset by `clear`, so a reader can tell entries apart. */
  seq: number;
  receivedAt: string;
  method: string;
  path: string;
  /** The body as sent, with every image replaced by `{ bytes, sha256, mimeType }` (see `summariseImages`). */
  body: unknown;
  /** The HTTP status answered; undefined while unanswered or when the connection was dropped. */
  status?: number;
  /** The task, prediction or operation the request created. */
  taskId?: string;
  /** The error body of a refusal, as the client got it. */
  refusal?: unknown;
  /** Fields the vendor accepted but ignores (a Replicate input the model does not declare). */
  ignored?: string[];
}

/** An image the record holds by its digest rather than its bytes. */
export interface ImageSummary {
  bytes: number;
  sha256: string;
  mimeType: string;
}

export const RECEIVED_PATH = '/__received';

/** The record of received create requests, shared by the vendor servers. */
export class ReceivedLog {
  private readonly entries: ReceivedRequest[] = [];
  private seq = 0;

  add(request: { method: string; path: string; body: unknown }): ReceivedRequest {
    const entry: ReceivedRequest = {
      seq: ++this.seq,
      receivedAt: new Date().toISOString(),
      method: request.method,
      path: request.path,
      body: summariseImages(request.body),
    };
    this.entries.push(entry);
    return entry;
  }

  list(): ReceivedRequest[] {
    return this.entries.map((e) => ({ ...e }));
  }

  clear(): void {
    this.entries.length = 0;
  }
}

function summary(base64: string, mimeType: string): ImageSummary {
  const bytes = Buffer.from(base64, 'base64');
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), mimeType };
}

const DATA_URI = /^data:([\w.+-]+\/[\w.+-]+);base64,/;

/**
 * A copy of a JSON body with inline images replaced by `{ bytes, sha256, mimeType }`: a data URI
 * string (Runway, Replicate) or an object carrying `bytesBase64Encoded` (Vertex's image and
 * video objects). URLs and every other value are kept as sent, so the record shows which field
 * carried which image.
 */
export function summariseImages(value: unknown): unknown {
  if (typeof value === 'string') {
    const match = DATA_URI.exec(value);
    return match ? summary(value.slice(match[0].length), match[1]!) : value;
  }
  if (Array.isArray(value)) return value.map(summariseImages);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.bytesBase64Encoded === 'string') {
      const { bytesBase64Encoded, mimeType, ...rest } = o;
      return {
        ...summary(bytesBase64Encoded, typeof mimeType === 'string' ? mimeType : 'application/octet-stream'),
        ...(summariseImages(rest) as Record<string, unknown>),
      };
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, summariseImages(v)]));
  }
  return value;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Answers `GET /__received` (the record) and `DELETE /__received` (clears it), to loopback
 *  clients only: the record holds prompts and image digests, which are nobody else's business. */
export function serveReceived(log: ReceivedLog, req: IncomingMessage, res: ServerResponse): void {
  const send = (status: number, payload?: unknown) => {
    const text = payload === undefined ? '' : JSON.stringify(payload);
    res.writeHead(status, {
      ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      'content-length': String(Buffer.byteLength(text)),
    });
    res.end(text);
  };
  if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) send(403, { error: 'loopback only' });
  else if (req.method === 'GET') send(200, { received: log.list() });
  else if (req.method === 'DELETE') {
    log.clear();
    send(204);
  } else send(405, { error: `Method ${req.method ?? ''} not allowed` });
}
