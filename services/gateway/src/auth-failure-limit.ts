import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { MemoryStore } from 'express-rate-limit';
import { HttpProblem } from './problem';

export interface AuthFailureLimitOptions {
  /** Failed authentications one client address may cause per window before it is refused. */
  limit: number;
  windowMs?: number;
  /** How long a credential that authenticated stays exempt on this instance. Default 10 min. */
  knownCredentialMs?: number;
}

export interface AuthFailureLimiter {
  /** Mount before `authenticate`: refuses over-limit addresses without touching the database. */
  before: RequestHandler;
  /** Mount right after `authenticate`: a success gives its reservation back. */
  after: RequestHandler;
}

interface Reservation {
  key: string;
  credential: string | undefined;
  /** Counted up front, so that concurrent bad requests cannot all slip past the check. */
  reserved: boolean;
  released: boolean;
}

const MAX_KNOWN_CREDENTIALS = 10_000;

/** Failed authentications are counted per address over this window. */
const FAILURE_WINDOW_MS = 60_000;
/** A credential that authenticated here stays exempt from the address limit this long. */
const KNOWN_CREDENTIAL_MS = 10 * 60_000;

/**
 * Limits failed authentications per client address, in process (each instance counts its own;
 * see docs/security.md). Every credential check that can fail reads Firestore (the key document,
 * the tenant), so a well-formed unknown key must be stopped before that read: each /v1 request
 * reserves one unit of its address's budget, a successful authentication hands it back, a 401
 * keeps it. An address over the limit gets 429 with Retry-After and no database read.
 *
 * So that an attacker sharing an address (a NAT, a proxy) cannot lock out clients whose keys
 * work, a credential that authenticated on this instance recently skips the check (it is still
 * verified against the database as usual; a 401 on it counts and forgets it).
 */
export function authFailureLimit(options: AuthFailureLimitOptions): AuthFailureLimiter {
  const windowMs = options.windowMs ?? FAILURE_WINDOW_MS;
  const knownMs = options.knownCredentialMs ?? KNOWN_CREDENTIAL_MS;
  const store = new MemoryStore();
  store.init({ windowMs } as Parameters<MemoryStore['init']>[0]);
  // Hash of the Authorization header → until when it is exempt.
  const known = new Map<string, number>();
  const isKnown = (credential: string | undefined) => {
    if (!credential) return false;
    const until = known.get(credential);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    known.delete(credential);
    return false;
  };

  const before = async (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    const credential = header ? createHash('sha256').update(header).digest('hex') : undefined;
    const reservation: Reservation = {
      key: req.ip ?? req.socket.remoteAddress ?? 'unknown',
      credential,
      reserved: false,
      released: false,
    };
    if (!isKnown(credential)) {
      const counted = await store.increment(reservation.key);
      if (counted.totalHits > options.limit) {
        await store.decrement(reservation.key);
        const retryAfterSeconds = Math.max(1, Math.ceil(((counted.resetTime?.getTime() ?? 0) - Date.now()) / 1000));
        return next(
          new HttpProblem(
            'rate_limited',
            `too many failed authentications from this address; retry in ${retryAfterSeconds} s`,
            { retryAfterSeconds },
          ),
        );
      }
      reservation.reserved = true;
    }
    res.locals.authFailureReservation = reservation;
    res.once('finish', () => {
      if (res.statusCode === 401) {
        if (credential) known.delete(credential);
        if (!reservation.reserved) void store.increment(reservation.key);
      } else if (reservation.reserved && !reservation.released) {
        // Not an authentication failure (a 503 from an unreachable key set, say): not counted.
        reservation.released = true;
        void store.decrement(reservation.key);
      }
    });
    next();
  };

  const after = (req: Request, res: Response, next: NextFunction) => {
    const reservation = res.locals.authFailureReservation as Reservation | undefined;
    if (req.principal && reservation) {
      if (reservation.credential) {
        if (known.size >= MAX_KNOWN_CREDENTIALS) known.clear();
        known.set(reservation.credential, Date.now() + knownMs);
      }
      // Given back now, not when the response ends: an event stream can stay open for an hour.
      if (reservation.reserved && !reservation.released) {
        reservation.released = true;
        void store.decrement(reservation.key);
      }
    }
    next();
  };

  return { before: before as RequestHandler, after };
}
