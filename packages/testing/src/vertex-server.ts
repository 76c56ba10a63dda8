import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { googleError, sendJson } from './google-errors';

/**
 * A local stand-in for Vertex AI's Gemini `generateContent`, speaking the protocol the way
 * `@google/genai` (vertexai: true) calls it:
 *
 *   POST {baseUrl}/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent
 *   Authorization: Bearer <token>, Content-Type: application/json
 *
 * Each request takes the next scripted behaviour (or the default one), so a test can play
 * the vendor's answers and failures in order, and every request is recorded for assertions.
 */

/** What the server does with one request. */
export type VertexBehaviour =
  /** A well-formed answer whose text is `JSON.stringify(json)`. */
  | { json: unknown; finishReason?: string }
  /** A well-formed answer whose text is exactly `text` (broken JSON, prose, ''). */
  | { text: string; finishReason?: string }
  /** A Google error: `{ error: { code, status, message, details? } }`. A 429 with
   *  `retryAfterSeconds` carries both a `Retry-After` header and a `google.rpc.RetryInfo`
   *  detail, which is where Google's clients read the delay from. */
  | { status: number; message?: string; retryAfterSeconds?: number }
  /** Waits `delayMs` (to force a client timeout), then does `then` (default: the default
   *  behaviour). A client that gives up first simply finds the connection closed. */
  | { delayMs: number; then?: VertexBehaviour }
  /** The model's safety filter. `stage: 'prompt'` (default) answers like Vertex does for a
   *  blocked input: `promptFeedback.blockReason`, no candidates. `stage: 'response'` answers
   *  with one candidate whose `finishReason` is the reason, with safety ratings and no text. */
  | { safetyBlock: string; stage?: 'prompt' | 'response' }
  /** Answers a translation request (the planner's Gemini translator) in protocol: see
   *  `translationAnswer`. A request that is not one gets a loud 500. */
  | { translate: TranslationQuirks };

/**
 * A stand-in translation, not a translator: each line of the request prefixed with its target
 * language (`[fr] …`), clipped to the limits the request states, and the glossary's call to action
 * when it has one (as a model told to use the client's words would). The quirks make the odd
 * answers a real model gives.
 */
export interface TranslationQuirks {
  /** Leaves out the last shot. */
  dropShot?: boolean;
  /** Makes the first on-screen text (or line) twice as long as its limit. */
  overlong?: boolean;
  /** Leaves out the call to action. */
  dropCallToAction?: boolean;
  /** Numbers the shots backwards, in the source's order. */
  renumber?: boolean;
}

/** The line before the request's JSON in the Gemini translator's prompt (packages/planning). */
export const TRANSLATION_REQUEST_HEADING = 'The translation request (JSON):';

interface TranslationRequest {
  to: string;
  limits?: { onScreenText?: number; voiceOver?: number; callToAction?: number };
  shots: { shot: number; voiceOver?: string; onScreenText?: string }[];
  callToAction?: string;
  glossary?: { callToAction?: string };
}

/** The translation request in a generateContent body, or undefined when it carries none. */
export function readTranslationRequest(body: unknown): TranslationRequest | undefined {
  const contents = (body as { contents?: { parts?: { text?: unknown }[] }[] } | undefined)?.contents;
  const text = (contents ?? [])
    .flatMap((c) => c.parts ?? [])
    .map((p) => (typeof p.text === 'string' ? p.text : ''))
    .join('\n');
  const lines = text.split('\n');
  const at = lines.indexOf(TRANSLATION_REQUEST_HEADING);
  if (at < 0) return undefined;
  try {
    const request = JSON.parse(lines[at + 1] ?? '') as TranslationRequest;
    return typeof request.to === 'string' && Array.isArray(request.shots) ? request : undefined;
  } catch {
    return undefined;
  }
}

/** What the stand-in translator answers to `request`. */
export function translationAnswer(request: TranslationRequest, quirks: TranslationQuirks = {}): unknown {
  const tag = (text: string, limit: number | undefined) => {
    const tagged = `[${request.to}] ${text}`;
    return limit !== undefined && tagged.length > limit ? tagged.slice(0, limit) : tagged;
  };
  const limits = request.limits ?? {};
  let shots = request.shots.map((s, i) => ({
    shot: quirks.renumber ? request.shots.length - i : s.shot,
    ...(s.voiceOver !== undefined ? { voiceOver: tag(s.voiceOver, limits.voiceOver) } : {}),
    ...(s.onScreenText !== undefined ? { onScreenText: tag(s.onScreenText, limits.onScreenText) } : {}),
  }));
  if (quirks.overlong) {
    const i = shots.findIndex((s) => s.onScreenText !== undefined || s.voiceOver !== undefined);
    const shot = shots[i];
    if (shot) {
      const field = shot.onScreenText !== undefined ? 'onScreenText' : 'voiceOver';
      const limit = limits[field] ?? 40;
      shots[i] = { ...shot, [field]: `[${request.to}] ${'x'.repeat(limit * 2)}` };
    }
  }
  if (quirks.dropShot) shots = shots.slice(0, -1);
  const callToAction =
    request.callToAction === undefined || quirks.dropCallToAction
      ? undefined
      : (request.glossary?.callToAction ?? tag(request.callToAction, limits.callToAction));
  return { shots, ...(callToAction !== undefined ? { callToAction } : {}) };
}

export interface VertexRequest {
  method: string;
  /** The request path without the query string, e.g. `/v1beta1/projects/p/...:generateContent`. */
  path: string;
  query: string;
  headers: IncomingMessage['headers'];
  /** The JSON body, or undefined when it was not JSON. */
  body: unknown;
  /** Parsed from the path when it is a generateContent call. */
  project?: string;
  location?: string;
  model?: string;
}

export interface VertexServer {
  /** Base URL for `httpOptions.baseUrl`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  enqueue(behaviour: VertexBehaviour): void;
  /** Drops what is still queued (a case's unused answers must not answer the next case); returns how many. */
  clearQueue(): number;
  /** What to do when the queue is empty. */
  setDefault(behaviour: VertexBehaviour): void;
  readonly requests: VertexRequest[];
  close(): Promise<void>;
}

export interface VertexServerOptions {
  /** When the queue is empty. Without one, the server answers a loud 500 that says nothing
   *  was scripted, so a missing `enqueue` never looks like a plausible answer. */
  defaultBehaviour?: VertexBehaviour;
  /** Requests without `Authorization: Bearer …` get 401 UNAUTHENTICATED, as on Vertex. */
  requireAuth?: boolean;
  /** The model ids served; any other (a retired or misspelled one) is a 404 NOT_FOUND, as on
   *  Vertex. Default SERVED_GEMINI_MODELS. */
  models?: readonly string[];
}

/**
 * Gemini models Vertex AI serves as of late 2026 (its "Latest available models" page). Not here,
 * so refused like any unknown id: gemini-2.5-flash, -pro and -flash-lite (retired 2026-10-20) and
 * everything older.
 */
export const SERVED_GEMINI_MODELS: readonly string[] = [
  'gemini-3.8-flash',
  'gemini-3.5-flash',
  'gemini-3.5-flash-lite',
  'gemini-3.1-flash-lite',
  'gemini-3.1-pro-preview',
  'gemini-4-argon',
];

const GENERATE_CONTENT =
  /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):generateContent$/;

/** google.rpc.Code names for the HTTP statuses a test is likely to script. */
const DEFAULT_MESSAGES: Record<number, string> = {
  429: 'Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.',
  500: 'Internal error encountered.',
  503: 'The service is currently unavailable.',
};

/** Usage numbers shaped like Vertex's; the values only need to be plausible. */
function usage(body: unknown, outputText: string) {
  const promptTokenCount = Math.max(1, Math.round(JSON.stringify(body ?? {}).length / 4));
  const candidatesTokenCount = Math.round(outputText.length / 4);
  return {
    promptTokenCount,
    candidatesTokenCount,
    totalTokenCount: promptTokenCount + candidatesTokenCount,
    trafficType: 'ON_DEMAND',
  };
}

function answer(res: ServerResponse, req: VertexRequest, text: string, finishReason = 'STOP') {
  sendJson(res, 200, {
    candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason, avgLogprobs: -0.05 }],
    usageMetadata: usage(req.body, text),
    modelVersion: req.model ?? 'unknown',
    createTime: new Date().toISOString(),
    responseId: randomUUID().replace(/-/g, '').slice(0, 22),
  });
}

function safety(res: ServerResponse, req: VertexRequest, reason: string, stage: 'prompt' | 'response') {
  const ratings = [
    { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
    { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
  ];
  const common = { usageMetadata: usage(req.body, ''), modelVersion: req.model ?? 'unknown' };
  if (stage === 'prompt') {
    sendJson(res, 200, {
      promptFeedback: {
        blockReason: reason,
        safetyRatings: ratings,
        blockReasonMessage: `The prompt was blocked due to ${reason.toLowerCase()}.`,
      },
      ...common,
    });
  } else {
    sendJson(res, 200, { candidates: [{ finishReason: reason, safetyRatings: ratings }], ...common });
  }
}

/** Starts the server on 127.0.0.1 on a free port. */
export async function startVertexServer(options: VertexServerOptions = {}): Promise<VertexServer> {
  const queue: VertexBehaviour[] = [];
  const requests: VertexRequest[] = [];
  let fallback: VertexBehaviour | undefined = options.defaultBehaviour;
  const served = new Set(options.models ?? SERVED_GEMINI_MODELS);
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const perform = (behaviour: VertexBehaviour | undefined, req: VertexRequest, res: ServerResponse): void => {
    if (!behaviour) {
      googleError(res, 500, 'vertex test server: no behaviour queued and no default set');
    } else if ('delayMs' in behaviour) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        perform(behaviour.then ?? fallback, req, res);
      }, behaviour.delayMs);
      timers.add(timer);
    } else if ('translate' in behaviour) {
      const request = readTranslationRequest(req.body);
      if (!request)
        googleError(res, 500, 'vertex test server: a translation was scripted but this is not a translation request');
      else answer(res, req, JSON.stringify(translationAnswer(request, behaviour.translate)));
    } else if ('safetyBlock' in behaviour) {
      safety(res, req, behaviour.safetyBlock, behaviour.stage ?? 'prompt');
    } else if ('status' in behaviour) {
      const message = behaviour.message ?? DEFAULT_MESSAGES[behaviour.status] ?? `HTTP ${behaviour.status}`;
      googleError(res, behaviour.status, message, behaviour.retryAfterSeconds);
    } else if ('json' in behaviour) {
      answer(res, req, JSON.stringify(behaviour.json), behaviour.finishReason);
    } else {
      answer(res, req, behaviour.text, behaviour.finishReason);
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      const match = GENERATE_CONTENT.exec(path);
      const record: VertexRequest = {
        method: req.method ?? '',
        path,
        query,
        headers: req.headers,
        body,
        ...(match ? { project: match[2], location: match[3], model: match[4] } : {}),
      };
      requests.push(record);
      // Protocol errors are answered before the script is consulted, so a test that sends
      // the wrong request sees what Vertex would say, and its queued behaviour stays queued.
      if (!match || req.method !== 'POST') {
        googleError(res, 404, `vertex test server: no route for ${req.method} ${path}`);
        return;
      }
      if (options.requireAuth !== false && !/^Bearer \S+/.test(req.headers.authorization ?? '')) {
        googleError(res, 401, 'Request is missing required authentication credential.');
        return;
      }
      if (!served.has(record.model ?? '')) {
        // Vertex's own wording for a model that is retired, misspelled or not in this region.
        googleError(
          res,
          404,
          `Publisher Model \`projects/${record.project}/locations/${record.location}/publishers/google/models/${record.model}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`,
        );
        return;
      }
      if (body === undefined || typeof body !== 'object') {
        googleError(res, 400, 'Invalid JSON payload received.');
        return;
      }
      perform(queue.shift() ?? fallback, record, res);
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
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    enqueue: (behaviour) => {
      queue.push(behaviour);
    },
    clearQueue: () => queue.splice(0).length,
    setDefault: (behaviour) => {
      fallback = behaviour;
    },
    requests,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // Keep-alive and delayed requests would otherwise hold close() open.
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
