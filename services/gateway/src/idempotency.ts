import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Timestamp } from '@google-cloud/firestore';
import type { IdempotencyStore, StoredResponse } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { BackgroundWork } from './background';
import { HttpProblem } from './problem';

/** 1–255 printable ASCII characters (RFC 9110 would allow more; clients use UUIDs). */
export const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/** Set on `res.locals.idempotentRequest` for a request that holds its Idempotency-Key. */
export interface IdempotentRequest {
  key: string;
  /** requestHash(req): the same key with another request is another request. */
  hash: string;
  /** The claim's lease: a route that stores its answer in its own commit conditions it on this. */
  lease: Timestamp;
  /** An earlier attempt held this key and lost it: what it made may exist already. */
  takeover: boolean;
  /**
   * Set by a route that stored its answer on the key in the same commit as what it created
   * (POST /v1/jobs): that answer is what the client gets, now and on every retry, so nothing more
   * is written on the key.
   */
  recorded?: StoredResponse;
}

/** Bodies larger than this are not stored (the key is released): a Firestore document holds 1 MiB. */
const MAX_STORED_BODY = 256 * 1024;

/** JSON with object keys sorted at every depth: the same body always hashes the same. */
export function canonicalJson(value: unknown, depth = 0): string {
  // Recursion is bounded: a 64 KiB body can nest ~30,000 levels, which would overflow the stack
  // (a 500) before any route's validation could refuse it. No body of ours nests past 8.
  if (depth > MAX_CANONICAL_DEPTH) throw new BodyTooDeep();
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], depth + 1)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const MAX_CANONICAL_DEPTH = 64;
class BodyTooDeep extends Error {}

/** What makes two requests "the same": method, path (with query) and the canonical body. */
export const requestHash = (req: Request) =>
  createHash('sha256')
    .update(`${req.method}\n${req.originalUrl}\n${canonicalJson(req.body ?? null)}`)
    .digest('hex');

/**
 * Outcomes a retry must see again are stored; those a retry may change are not (the key is
 * released): 5xx, and 408/425/429 (timeouts, rate limits, quotas).
 */
const storable = (status: number) => status < 500 && ![408, 425, 429].includes(status);

/**
 * `Idempotency-Key` for unsafe routes (mount after authenticate, the JSON body parser and the
 * scope check; before quotas so a replay never counts twice). Without the header the request
 * runs normally. With it:
 * - first time: the handler runs; its response is stored before it is sent (so a client that
 *   saw the answer always gets the same answer on retry), or the key is released on 5xx/429;
 * - same key and same request: the stored response, with `Idempotent-Replayed: true`;
 * - same key, other request: 422 `idempotency_mismatch`;
 * - same key while the first is still running: 409 `idempotency_conflict` with Retry-After.
 */
export function idempotent(
  store: IdempotencyStore,
  options: { log?: Pick<Log, 'error'> } = {},
): RequestHandler & { close(): Promise<void> } {
  // Keys freed after a response that ended without send(); close() waits for them.
  const background = new BackgroundWork();
  const handler: RequestHandler = async (req: Request, res: Response, next: NextFunction) => {
    const key = req.get('idempotency-key');
    if (key === undefined) return next();
    if (!IDEMPOTENCY_KEY.test(key)) {
      return next(
        new HttpProblem('validation', 'Idempotency-Key must be 1 to 255 printable ASCII characters', {
          errors: [{ field: 'header:Idempotency-Key', rule: 'pattern', message: '1-255 printable ASCII characters' }],
        }),
      );
    }
    const tenantId = req.principal?.tenantId;
    if (!tenantId) return next(new Error('idempotent() runs after authenticate'));

    let hash: string;
    try {
      hash = requestHash(req);
    } catch (e) {
      if (!(e instanceof BodyTooDeep)) throw e;
      return next(
        new HttpProblem('validation', 'the body nests deeper than any request allows', {
          errors: [{ field: '', rule: 'maxDepth', message: 'is nested too deeply' }],
        }),
      );
    }
    const begun = await store.begin(tenantId, key, hash);
    if (begun.kind === 'replay') {
      const { status, headers, body } = begun.response;
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.setHeader('Idempotent-Replayed', 'true');
      res.status(status).send(body);
      return;
    }
    if (begun.kind === 'mismatch') {
      return next(
        new HttpProblem(
          'idempotency_mismatch',
          'this Idempotency-Key was used with a different request; use a new key',
        ),
      );
    }
    if (begun.kind === 'in_flight') {
      return next(
        new HttpProblem('idempotency_conflict', 'the first request with this Idempotency-Key is still running', {
          retryAfterSeconds: begun.retryAfterSeconds,
        }),
      );
    }

    const { lease, takeover } = begun;
    // A route that creates something derives its id from this, so that even a repeat whose first
    // attempt lost its record (a crash before complete(), a lease taken over) finds what it made.
    const request: IdempotentRequest = { key, hash, lease, takeover };
    res.locals.idempotentRequest = request;
    let settled = false;
    const send = res.send.bind(res);
    const settle = (body: string | undefined) => {
      // The route stored its answer with what it created; the record already says it.
      if (request.recorded) return Promise.resolve(true);
      const status = res.statusCode;
      const text = body ?? '';
      if (storable(status) && Buffer.byteLength(text) <= MAX_STORED_BODY) {
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'location']) {
          const v = res.getHeader(name);
          if (v !== undefined) headers[name] = String(v);
        }
        const response: StoredResponse = { status, body: text, headers };
        return store.complete(tenantId, key, lease, response, res.locals.jobId as string | undefined);
      }
      return store.release(tenantId, key, lease);
    };

    // Express's json() ends in send(string); wrapping send sees every body, problem responses
    // from the error handler included. The response waits for the record to be written.
    res.send = function sendAfterRecording(body?: unknown) {
      if (settled) return send(body);
      if (body !== undefined && typeof body === 'object' && !Buffer.isBuffer(body)) return res.json(body);
      settled = true;
      const text = Buffer.isBuffer(body) ? body.toString('utf8') : body === undefined ? undefined : String(body);
      settle(text)
        .then((held) => {
          if (!held) options.log?.error('idempotency record lost to a takeover', { requestId: req.requestId });
        })
        .catch((error: unknown) => {
          // The answer still goes out; the key stays "in flight" until its lock expires.
          options.log?.error('idempotency record not written', {
            requestId: req.requestId,
            error: (error as Error).message,
          });
        })
        .finally(() => send(body));
      return res;
    } as Response['send'];

    // A response ended without send() (res.end, a stream) cannot be replayed: free the key.
    res.on('finish', () => {
      if (settled) return;
      settled = true;
      background.start(() => store.release(tenantId, key, lease));
    });
    next();
  };
  return Object.assign(handler, { close: () => background.close() });
}
