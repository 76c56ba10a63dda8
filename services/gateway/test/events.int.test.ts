import { get, type IncomingMessage } from 'node:http';
import type { Brief } from '@aiprod/contracts';
import { JobStore } from '@aiprod/job-store';
import { waitFor } from '@aiprod/testing';
import { EventStreams } from '../src/routes/events';
import { BRIEF, serve, startHarness, type Harness } from './harness';

/** Counts the Firestore listeners the gateway opens and closes, to prove none is leaked. */
class CountingJobStore extends JobStore {
  open = 0;
  override async watchEvents(...args: Parameters<JobStore['watchEvents']>) {
    const stop = await super.watchEvents(...args);
    this.open++;
    return () => {
      this.open--;
      stop();
    };
  }
}

let h: Harness;
let served: Awaited<ReturnType<typeof serve>> | undefined;
let base: string;
let counting: CountingJobStore;
const streams = new EventStreams({ maxStreams: 3, maxSeconds: 5, heartbeatMs: 300 });

beforeAll(async () => {
  h = await startHarness('gateway-sse', {
    streams,
    wrapJobs: (jobs) => (counting = new CountingJobStore(jobs.db)),
  });
  served = await serve(h.app);
  base = served.base;
}, 30_000);
afterAll(async () => {
  await served?.close();
  await h?.close();
});

interface Sse {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** An EventSource-like client: parses frames as they arrive; `ended` when the server closes. */
function openStream(jobId: string, headers: Record<string, string> = {}) {
  const frames: Sse[] = [];
  let res: IncomingMessage | undefined;
  let ended = false;
  let buffer = '';
  const req = get(
    `${base}/v1/jobs/${jobId}/events`,
    { headers: { Authorization: `Bearer ${h.keys.read}`, Accept: 'text/event-stream', ...headers } },
    (r) => {
      res = r;
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame: Sse = {};
          for (const line of buffer.slice(0, cut).split('\n')) {
            if (line.startsWith(':')) frame.comment = line.slice(1).trim();
            else {
              const i = line.indexOf(': ');
              const field = line.slice(0, i) as keyof Sse;
              if (['id', 'event', 'data'].includes(field)) frame[field] = line.slice(i + 2);
            }
          }
          frames.push(frame);
          buffer = buffer.slice(cut + 2);
        }
      });
      r.on('end', () => (ended = true));
      r.on('close', () => (ended = true));
    },
  );
  req.on('error', () => (ended = true));
  return {
    frames,
    events: () => frames.filter((f) => f.id),
    status: () => res?.statusCode,
    ended: () => ended,
    close: () => req.destroy(),
  };
}

async function newJob(): Promise<string> {
  const jobId = `job_sse_${Math.random().toString(36).slice(2, 10)}`;
  await h.jobs.createJob({ jobId, tenantId: h.tenantA, brief: BRIEF as Brief, preset: 'social_quick' });
  return jobId;
}

describe('GET /v1/jobs/{id}/events', () => {
  it('streams the timeline live, with heartbeats, and ends after the final event', async () => {
    const jobId = await newJob();
    const stream = openStream(jobId);
    await waitFor(() => (stream.events().length === 1 ? true : undefined), { timeoutMs: 5000, what: 'job.created' });
    expect(stream.status()).toBe(200);
    expect(stream.events()[0]).toEqual(expect.objectContaining({ id: 'v1-QUEUED', event: 'job.created' }));
    await h.jobs.transition(jobId, 'QUEUED', 'PLANNING');
    await h.jobs.appendEvent(jobId, { key: 'note-1', type: 'job.note', data: { n: 1 } });
    await waitFor(() => (stream.events().length === 3 ? true : undefined), { timeoutMs: 5000, what: 'live events' });
    await waitFor(() => (stream.frames.some((f) => f.comment === 'heartbeat') ? true : undefined), {
      timeoutMs: 3000,
      what: 'a heartbeat',
    });
    expect(stream.ended()).toBe(false);
    await h.jobs.transition(jobId, 'PLANNING', 'CANCELED');
    await waitFor(() => (stream.ended() ? true : undefined), { timeoutMs: 5000, what: 'the stream to end' });
    const stored = await h.jobs.listEvents(jobId);
    expect(stream.events().map((e) => e.id)).toEqual(stored.map((e) => e.id));
    const last = JSON.parse(stream.events().at(-1)!.data!) as { data: { status: string } };
    expect(last.data.status).toBe('CANCELED');
    await waitFor(() => (streams.size === 0 && counting.open === 0 ? true : undefined), {
      timeoutMs: 3000,
      what: 'the stream to be released',
    });
  });

  it('resumes after Last-Event-ID without repeating or losing an event', async () => {
    const jobId = await newJob();
    await h.jobs.transition(jobId, 'QUEUED', 'PLANNING');
    const first = openStream(jobId);
    await waitFor(() => (first.events().length === 2 ? true : undefined), { timeoutMs: 5000, what: 'two events' });
    first.close();
    const lastSeen = first.events()[1]!.id!;
    // Written while the client was away.
    await h.jobs.appendEvent(jobId, { key: 'while-away', type: 'job.note', data: {} });
    await h.jobs.transition(jobId, 'PLANNING', 'RENDERING');
    const resumed = openStream(jobId, { 'Last-Event-ID': lastSeen });
    await waitFor(() => (resumed.events().length === 2 ? true : undefined), {
      timeoutMs: 5000,
      what: 'the missed events',
    });
    await h.jobs.transition(jobId, 'RENDERING', 'CANCELED');
    await waitFor(() => (resumed.ended() ? true : undefined), { timeoutMs: 5000, what: 'the end' });
    const all = (await h.jobs.listEvents(jobId)).map((e) => e.id);
    expect([...first.events(), ...resumed.events()].map((e) => e.id)).toEqual(all);
  });

  it('releases the listener and timers when the client disconnects', async () => {
    const jobId = await newJob();
    const stream = openStream(jobId);
    await waitFor(() => (counting.open === 1 && stream.events().length === 1 ? true : undefined), {
      timeoutMs: 5000,
      what: 'the stream to open',
    });
    expect(streams.size).toBe(1);
    stream.close();
    await waitFor(() => (streams.size === 0 && counting.open === 0 ? true : undefined), {
      timeoutMs: 3000,
      what: 'cleanup after disconnect',
    });
  });

  it('is bounded: beyond the per-process limit it is 503, and shutdown ends every stream', async () => {
    const jobId = await newJob();
    const open = [openStream(jobId), openStream(jobId), openStream(jobId)];
    await waitFor(() => (streams.size === 3 && counting.open === 3 ? true : undefined), {
      timeoutMs: 5000,
      what: 'three streams',
    });
    const refused = openStream(jobId);
    await waitFor(() => (refused.ended() ? true : undefined), { timeoutMs: 5000, what: 'the refusal' });
    expect(refused.status()).toBe(503);
    streams.closeAll();
    await waitFor(() => (open.every((s) => s.ended()) && counting.open === 0 ? true : undefined), {
      timeoutMs: 3000,
      what: 'every stream to end on shutdown',
    });
  });

  it('closes a stream after its maximum lifetime', async () => {
    const jobId = await newJob();
    const started = Date.now();
    const stream = openStream(jobId);
    await waitFor(() => (stream.ended() ? true : undefined), { timeoutMs: 8000, what: 'the lifetime to end' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
    expect(stream.events().length).toBe(1);
  });
});
