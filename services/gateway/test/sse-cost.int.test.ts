import { FieldPath, Timestamp } from '@google-cloud/firestore';
import type { Brief } from '@aiprod/contracts';
import { emulatorProject } from '@aiprod/testing';
import { BRIEF } from './harness';

/**
 * Why the SSE route follows the timeline with a Firestore listener rather than by polling,
 * measured: documents read (what Firestore bills) and delivery delay, for a job that writes 20
 * events over ~4 s. Polling a query costs at least one read per poll even when nothing is new
 * (Firestore bills a minimum of one read per query), so its cost grows with the stream's
 * lifetime; the listener's grows only with the events.
 */
const env = emulatorProject('sse-cost', 'gateway');
const { jobs } = env;
afterAll(() => env.close());

const EVENTS = 20;
const GAP_MS = 200;
const POLL_MS = 1000;

it('a listener reads each event once and delivers it sooner than 1 s polling', async () => {
  const jobId = 'job_cost';
  await jobs.createJob({ jobId, tenantId: 't', brief: BRIEF as Brief, preset: 'social_quick' });
  const written = new Map<string, number>();

  let listenerReads = 0;
  const listenerDelay: number[] = [];
  const stop = await jobs.watchEvents(
    jobId,
    'v1-QUEUED',
    (events) => {
      listenerReads += events.length;
      for (const e of events) listenerDelay.push(Date.now() - (written.get(e.id) ?? Date.now()));
    },
    (e) => {
      throw e;
    },
  );

  let pollReads = 0;
  const pollDelay: number[] = [];
  let watermark = Timestamp.fromMillis(0);
  const seen = new Set<string>(['v1-QUEUED']);
  let polling = true;
  const poller = (async () => {
    for (let i = 0; polling && i < 100; i++) {
      const snap = await jobs.jobs
        .doc(jobId)
        .collection('events')
        .where('at', '>=', watermark)
        .orderBy('at')
        .orderBy(FieldPath.documentId())
        .get();
      pollReads += Math.max(1, snap.size);
      for (const d of snap.docs) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        pollDelay.push(Date.now() - (written.get(d.id) ?? Date.now()));
        watermark = d.get('at') as Timestamp;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();

  for (let i = 0; i < EVENTS; i++) {
    written.set(`e${i}`, Date.now());
    await jobs.appendEvent(jobId, { key: `e${i}`, type: 'job.note', data: { i } });
    await new Promise((r) => setTimeout(r, GAP_MS));
  }
  await new Promise((r) => setTimeout(r, POLL_MS + 200));
  polling = false;
  await poller;
  stop();

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(
    `SSE cost over ${EVENTS} events in ${(EVENTS * GAP_MS) / 1000} s: listener ${listenerReads} reads, median delay ${median(listenerDelay)} ms; ` +
      `${POLL_MS} ms polling ${pollReads} reads, median delay ${median(pollDelay)} ms\n`,
  );
  expect(listenerReads).toBe(EVENTS);
  expect(listenerDelay).toHaveLength(EVENTS);
  expect(median(listenerDelay)).toBeLessThan(median(pollDelay));
}, 30_000);
