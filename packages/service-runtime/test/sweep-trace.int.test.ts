import { Timestamp } from '@google-cloud/firestore';
import type { Message, Subscription } from '@google-cloud/pubsub';
import { hasSpanContext, tracer } from '@aiprod/observability';
import { aBrief, emulatorProject, recordSpans, waitFor, type SpanRecorder } from '@aiprod/testing';
import { startSweeper } from '../src';

/** A message published by a sweep, outside any request or consumer span, joins its job's trace. */
const env = emulatorProject('sweep-trace', 'delivery');
let spans: SpanRecorder;
let finished: Subscription;
const received: Message[] = [];

beforeAll(async () => {
  spans = recordSpans();
  await env.provision();
  [finished] = await env.pubsub.topic('aiprod.job.finished.v1').createSubscription('sweep-trace-finished');
  finished.on('message', (m: Message) => {
    received.push(m);
    m.ack();
  });
});
afterAll(async () => {
  await finished.close();
  await env.close();
  await spans.stop();
});

/** A QUEUED job created inside a span, as the gateway creates it inside its server span; already overdue. */
async function overdueJob(jobId: string): Promise<string> {
  const traceId = await tracer('test').startActiveSpan('POST /v1/jobs', async (span) => {
    await env.jobs.createJob({ jobId, tenantId: 't1', brief: aBrief(), preset: 'social_quick' });
    span.end();
    return span.spanContext().traceId;
  });
  await env.jobs.jobs.doc(jobId).update({ deadlineAt: Timestamp.fromMillis(Date.now() - 1000) });
  return traceId;
}

const traceIdOf = (m: Message) => m.attributes.traceparent?.split('-')[1];
const messageOf = (jobId: string) =>
  waitFor(() => received.find((m) => m.attributes.jobId === jobId), {
    timeoutMs: 15_000,
    what: `job.finished of ${jobId}`,
  });

describe('a sweep', () => {
  it("publishes in the job's trace, read from the job's stored traceparent", async () => {
    const traceId = await overdueJob('job_sweeptrace1');
    expect((await env.jobs.getJob('job_sweeptrace1'))?.traceparent).toContain(traceId);
    const sweeper = startSweeper({
      jobs: env.jobs,
      publisher: env.publisher,
      log: env.log,
      policies: { QUEUED: { maxSweeps: 0 } },
      intervalMs: 3_600_000,
    });
    // Called from the test, not from a span: like the sweeper's timer.
    expect(hasSpanContext()).toBe(false);
    expect(await sweeper.sweepOnce()).toBe(1);
    await sweeper.stop();
    const message = await messageOf('job_sweeptrace1');
    expect(traceIdOf(message)).toBe(traceId);
  });

  it('without the job lookup, the same publish would start a trace of its own', async () => {
    const traceId = await overdueJob('job_sweeptrace2');
    const plain = env.publisherFor('delivery');
    await plain.publish('aiprod.job.finished.v1', { v: 1, jobId: 'job_sweeptrace2', tenantId: 't1', status: 'FAILED' });
    const message = await messageOf('job_sweeptrace2');
    expect(traceIdOf(message)).toMatch(/^[0-9a-f]{32}$/);
    expect(traceIdOf(message)).not.toBe(traceId);
  });
});
