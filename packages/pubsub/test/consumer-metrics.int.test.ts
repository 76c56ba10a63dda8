import { PermanentError, subscriptions, type SubscriptionSpec, type TopicName } from '@aiprod/contracts';
import { emulatorProject, startMetricsProbe, waitFor, type MetricsProbe } from '@aiprod/testing';
import { defineHandler, startConsumer, type RunningConsumer } from '../src';

/** What the consumer reports of each message it handles, read as Prometheus would (real emulator). */
const env = emulatorProject('consumer-metrics', 'gateway');
const running: RunningConsumer[] = [];
let probe: MetricsProbe;
const spec: SubscriptionSpec = subscriptions().find((s) => s.topic === ('aiprod.job.requested.v1' as TopicName))!;
const sub = spec.name;

beforeAll(async () => {
  probe = await startMetricsProbe('consumer-test');
  await env.provision({
    policyOverride: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1, ackDeadlineSeconds: 10 },
  });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await probe.stop();
  await env.close();
});

const recorder = { invalidMessage: async () => undefined, permanentFailure: async () => undefined };
const outcome = (o: string) => probe.value('aiprod_pubsub_messages_total', { subscription: sub, outcome: o });

it('counts acks, nacks with their redeliveries, permanent failures and malformed messages', async () => {
  const before = {
    ack: await outcome('ack'),
    nack: await outcome('nack'),
    permanent: await outcome('permanent'),
    invalid: await outcome('invalid'),
    redelivered: await probe.value('aiprod_pubsub_redeliveries_total', { subscription: sub }),
  };
  let failedOnce = false;
  running.push(
    startConsumer({
      pubsub: env.pubsub,
      spec,
      log: env.log,
      recorder,
      handler: defineHandler('aiprod.job.requested.v1', async (msg) => {
        if (msg.jobId === 'job-permanent') throw new PermanentError('invalid_message', 'refused');
        if (msg.jobId === 'job-flaky' && !failedOnce) {
          failedOnce = true;
          throw new Error('a transient failure');
        }
      }),
    }),
  );
  for (const jobId of ['job-fine', 'job-flaky', 'job-permanent'])
    await env.publisher.publish('aiprod.job.requested.v1', { v: 1, jobId, tenantId: 't1' });
  await env.pubsub.topic('aiprod.job.requested.v1').publishMessage({ data: Buffer.from('not json') });

  // job-fine and the redelivered job-flaky are acked; the malformed one is nacked until it dead-letters.
  await waitFor(async () => ((await outcome('ack')) >= before.ack + 2 ? true : undefined), {
    timeoutMs: 20_000,
    what: 'two acks',
  });
  expect(await outcome('nack')).toBeGreaterThanOrEqual(before.nack + 1);
  expect(await outcome('permanent')).toBe(before.permanent + 1);
  expect(await outcome('invalid')).toBeGreaterThanOrEqual(before.invalid + 1);
  expect(await probe.value('aiprod_pubsub_redeliveries_total', { subscription: sub })).toBeGreaterThan(
    before.redelivered,
  );
  expect(
    await probe.value('aiprod_pubsub_handle_duration_seconds_count', { subscription: sub, outcome: 'ack' }),
  ).toBeGreaterThanOrEqual(2);
});

it('reports the age of the oldest message it holds while a handler works on it, and 0 once it is done', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  running.push(
    startConsumer({
      pubsub: env.pubsub,
      spec,
      log: env.log,
      recorder,
      handler: defineHandler('aiprod.job.requested.v1', async (msg) => {
        if (msg.jobId === 'job-slow') await held;
      }),
    }),
  );
  await env.publisher.publish('aiprod.job.requested.v1', { v: 1, jobId: 'job-slow', tenantId: 't1' });
  const age = () => probe.value('aiprod_pubsub_oldest_unacked_age_seconds', { subscription: sub });
  await waitFor(async () => ((await age()) >= 1.5 ? true : undefined), {
    timeoutMs: 15_000,
    what: 'the held message to grow old',
  });
  release();
  await waitFor(async () => ((await age()) < 0.5 ? true : undefined), {
    timeoutMs: 10_000,
    what: 'the age to drop once the message is acked',
  });
});
