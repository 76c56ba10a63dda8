import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { PermanentError, subscriptions, type SubscriptionSpec, type TopicName } from '@aiprod/contracts';
import { aShotSpec, emulatorProject, recordSpans, waitFor, type SpanRecorder } from '@aiprod/testing';
import { defineHandler, startConsumer, type RunningConsumer } from '../src';

/** What the consumer and publisher put on spans, recorded in this process against the emulator. */
const env = emulatorProject('consumer-spans', 'planner');
const { pubsub, publisher, log } = env;
const running: RunningConsumer[] = [];
let spans: SpanRecorder;

beforeAll(async () => {
  spans = recordSpans();
  await env.provision({
    policyOverride: {
      minimumBackoffSeconds: 0,
      maximumBackoffSeconds: 1,
      maxDeliveryAttempts: 5,
      ackDeadlineSeconds: 10,
    },
  });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.close()));
  spans.reset();
});
afterAll(async () => {
  await env.close();
  await spans.stop();
});

const specFor = (topic: TopicName): SubscriptionSpec => subscriptions().find((s) => s.topic === topic)!;
const recorder = { invalidMessage: async () => undefined, permanentFailure: async () => undefined };
const consumerSpans = () => spans.spans().filter((s) => s.kind === SpanKind.CONSUMER);

describe('consumer spans', () => {
  it("is a CONSUMER span in the producer's trace with the job's ids; a PermanentError is an event, not an error", async () => {
    running.push(
      startConsumer({
        pubsub,
        spec: specFor('aiprod.render.local.v1'),
        handler: defineHandler('aiprod.render.local.v1', async () => {
          throw new PermanentError('render_failed', 'the vendor refused the prompt');
        }),
        log,
        recorder,
      }),
    );
    const traceId = await trace.getTracer('test').startActiveSpan('upstream', async (root) => {
      await publisher.publish('aiprod.render.local.v1', {
        v: 1,
        jobId: 'job_spans1',
        tenantId: 't1',
        shotId: 's02',
        attempt: 2,
        spec: aShotSpec(),
      });
      root.end();
      return root.spanContext().traceId;
    });
    const span = await waitFor(() => consumerSpans()[0], { timeoutMs: 15_000, what: 'the consumer span' });
    const producer = spans.spans().find((s) => s.kind === SpanKind.PRODUCER)!;
    expect(producer.name).toBe('aiprod.render.local.v1 publish');
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(span.attributes).toMatchObject({
      jobId: 'job_spans1',
      tenantId: 't1',
      shotId: 's02',
      attempt: 2,
      deliveryAttempt: 1,
      backend: 'local',
      'messaging.system': 'gcp_pubsub',
      'messaging.destination.name': specFor('aiprod.render.local.v1').name,
      'messaging.message.id': expect.any(String),
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events.map((e) => [e.name, e.attributes?.['aiprod.failure.reason']])).toEqual([
      ['expected_failure', 'render_failed'],
    ]);
  });

  it('marks an unexpected error as a span error, and the redelivery joins the same trace', async () => {
    let calls = 0;
    running.push(
      startConsumer({
        pubsub,
        spec: specFor('aiprod.job.requested.v1'),
        handler: defineHandler('aiprod.job.requested.v1', async () => {
          calls += 1;
          if (calls === 1) throw new Error('a bug');
        }),
        log,
        recorder,
      }),
    );
    await env.publisherFor('gateway').publish('aiprod.job.requested.v1', { v: 1, jobId: 'job_spans2', tenantId: 't1' });
    const [first, second] = await waitFor(() => (consumerSpans().length >= 2 ? consumerSpans() : undefined), {
      timeoutMs: 20_000,
      what: 'a delivery and its redelivery',
    });
    expect(first!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'a bug' });
    expect(second!.status.code).toBe(SpanStatusCode.UNSET);
    expect(second!.attributes.deliveryAttempt).toBe(2);
    expect(second!.spanContext().traceId).toBe(first!.spanContext().traceId);
  });
});
