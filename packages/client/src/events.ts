import { createParser } from 'eventsource-parser';
import { ApiError, problemOf } from './problem';

/** One event of a job's timeline, as `GET /v1/jobs/{id}/events` sends it. */
export interface JobStreamEvent {
  /** The event id: pass it as `lastEventId` to resume after it. */
  id: string;
  /** e.g. job.status, job.planned, shot.passed, job.delivered. */
  type: string;
  at: string | null;
  data: Record<string, unknown>;
}

export interface JobEventsOptions {
  /** Resume after this event (sent as Last-Event-ID). */
  lastEventId?: string;
  signal?: AbortSignal;
  /** Connections in a row that may fail (network, 5xx, 429) before the error is thrown. Default 10. */
  maxReconnects?: number;
}

export interface StreamConnection {
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
}

const TERMINAL = ['DELIVERED', 'FAILED', 'CANCELED'];
/** A status change into DELIVERED, FAILED or CANCELED (the server ends the stream after one). */
export const isTerminalEvent = (e: JobStreamEvent) =>
  typeof e.data.from === 'string' && TERMINAL.includes(e.data.status as string);

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * A job's timeline, live: yields every event, reconnecting with Last-Event-ID when the
 * connection drops or the server rotates it (after SSE_MAX_SECONDS), so no event is lost or
 * repeated. Returns when the server ends the stream after the job's terminal status change, or
 * ends a resumed stream with nothing new (the job was already over). Throws ApiError on a 4xx.
 */
export async function* jobEvents(
  connection: StreamConnection,
  jobId: string,
  options: JobEventsOptions = {},
): AsyncGenerator<JobStreamEvent, void, undefined> {
  const doFetch = connection.fetch ?? fetch;
  const url = `${connection.baseUrl.replace(/\/+$/, '')}/v1/jobs/${encodeURIComponent(jobId)}/events`;
  let lastEventId = options.lastEventId;
  let retryMs = 3000;
  let failures = 0;
  for (;;) {
    let received = 0;
    let ended = false;
    try {
      const response = await doFetch(url, {
        headers: {
          Authorization: `Bearer ${connection.apiKey}`,
          Accept: 'text/event-stream',
          ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}),
        },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!response.ok || !response.body) {
        const error = new ApiError(response.status, await problemOf(response), response);
        if (response.status < 500 && response.status !== 429) throw error;
        throw Object.assign(error, { retryable: true });
      }
      const queue: JobStreamEvent[] = [];
      const parser = createParser({
        onEvent: (message) => {
          const view = JSON.parse(message.data) as Omit<JobStreamEvent, 'id'> & { id?: string };
          queue.push({ ...view, id: message.id ?? view.id ?? '', type: message.event ?? view.type });
        },
        onRetry: (ms) => (retryMs = ms),
      });
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        for (let event = queue.shift(); event; event = queue.shift()) {
          lastEventId = event.id;
          received += 1;
          failures = 0;
          ended = isTerminalEvent(event);
          yield event;
        }
      }
    } catch (error) {
      if (options.signal?.aborted) return;
      if (error instanceof ApiError && !(error as ApiError & { retryable?: boolean }).retryable) throw error;
      failures += 1;
      if (failures > (options.maxReconnects ?? 10)) throw error;
      await sleep(retryMs, options.signal);
      continue;
    }
    if (ended || (received === 0 && lastEventId !== undefined)) return;
  }
}
