import { Router, type RequestHandler } from 'express';
import { TERMINAL_JOB_STATUSES, type JobStatus } from '@aiprod/contracts';
import type { ApiKeyScope, JobEvent, JobStore } from '@aiprod/job-store';
import { HttpProblem } from '../problem';
import { jobOfCaller } from '../request';
import { eventView } from '../views';

/** Comment lines every 15 s: under the 30-60 s idle timeouts common in proxies and load balancers. */
export const SSE_HEARTBEAT_MS = 15_000;

export interface EventStreamOptions {
  /** Concurrent streams this process serves; each holds one Firestore listener. */
  maxStreams: number;
  /** A stream is closed after this long; EventSource clients reconnect with Last-Event-ID. */
  maxSeconds: number;
  /** Comment lines that keep proxies from timing the connection out. */
  heartbeatMs: number;
}

/**
 * The open Server-Sent Event streams of this process, so that they are bounded in number and
 * closed on shutdown (a stream never ends by itself while its job runs, and would hold
 * `server.close()` open).
 */
export class EventStreams {
  private readonly closers = new Set<() => void>();
  constructor(readonly options: EventStreamOptions) {}
  get size(): number {
    return this.closers.size;
  }
  add(close: () => void): void {
    this.closers.add(close);
  }
  delete(close: () => void): void {
    this.closers.delete(close);
  }
  /** Ends every stream; clients reconnect (to another instance) with Last-Event-ID. */
  closeAll(): void {
    for (const close of [...this.closers]) close();
  }
}

const LAST_EVENT_ID = /^[A-Za-z0-9_.:-]{1,200}$/;
const isTerminalTransition = (e: JobEvent) =>
  typeof e.data?.from === 'string' && TERMINAL_JOB_STATUSES.includes(e.data?.status as JobStatus);

export function eventRoutes(deps: {
  jobs: JobStore;
  streams: EventStreams;
  requireScope: (scope: ApiKeyScope) => RequestHandler;
}): Router {
  const router = Router();
  const { streams } = deps;

  router.get('/v1/jobs/:id/events', deps.requireScope('jobs:read'), async (req, res) => {
    const job = await jobOfCaller(req, res, deps.jobs);
    const lastEventId = req.get('last-event-id');
    if (lastEventId !== undefined && !LAST_EVENT_ID.test(lastEventId)) {
      throw new HttpProblem('validation', 'Last-Event-ID is not an event id this API sent', {
        errors: [{ field: '/headers/last-event-id', rule: 'pattern', message: 'is not an event id' }],
      });
    }
    if (streams.size >= streams.options.maxStreams) {
      throw new HttpProblem('unavailable', 'too many event streams are open on this instance', {
        retryAfterSeconds: 5,
      });
    }

    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write('retry: 3000\n\n');

    let closed = false;
    let unsubscribe: (() => void) | undefined;
    const sent = new Set<string>();
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), streams.options.heartbeatMs);
    const maxAge = setTimeout(() => close(), streams.options.maxSeconds * 1000);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      clearTimeout(maxAge);
      unsubscribe?.();
      streams.delete(close);
      if (!res.writableEnded) res.end();
    };
    streams.add(close);
    res.on('close', close);

    // A job already over when the stream opens gets its remaining timeline, then the stream ends.
    const terminalAtStart = TERMINAL_JOB_STATUSES.includes(job.status);
    let first = true;
    const onEvents = (events: JobEvent[]) => {
      if (closed) return;
      let lastTransition: JobEvent | undefined;
      for (const event of events) {
        if (sent.has(event.id)) continue;
        sent.add(event.id);
        res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(eventView(event))}\n\n`);
        if (typeof event.data?.from === 'string') lastTransition = event;
      }
      // Judged on the batch's last status change: a FAILED job an operator replayed has a
      // terminal event followed by newer ones, and its stream must stay open.
      const ended =
        (first && terminalAtStart) || (lastTransition !== undefined && isTerminalTransition(lastTransition));
      first = false;
      if (ended) close();
    };
    try {
      const stop = await deps.jobs.watchEvents(job.jobId, lastEventId, onEvents, () => close());
      if (closed) stop();
      else unsubscribe = stop;
    } catch {
      // The stream is already open (200 sent): end it; the client resumes with Last-Event-ID.
      close();
    }
  });

  return router;
}
