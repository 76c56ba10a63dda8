import {
  PermanentError,
  RetryableError,
  subscriptions,
  type SubscriptionSpec,
  type TopicName,
} from '@aiprod/contracts';
import { emulatorProject, waitFor } from '@aiprod/testing';
import {
  defineHandler,
  type Publisher,
  startConsumer,
  startDeadLetterWatcher,
  type DeadLetter,
  type InvalidMessage,
  type PermanentFailure,
  type RunningConsumer,
} from '../src';

const env = emulatorProject('pubsub', 'gateway');
const { pubsub, publisher, log } = env;
// Each topic is published by a service the catalogue lists for it, as in production.
const qaPublisher = env.publisherFor('qa');
const running: RunningConsumer[] = [];
const MAX_ATTEMPTS = 5;

beforeAll(async () => {
  await env.provision({
    policyOverride: {
      minimumBackoffSeconds: 0,
      maximumBackoffSeconds: 1,
      maxDeliveryAttempts: MAX_ATTEMPTS,
      ackDeadlineSeconds: 10,
    },
  });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.close()));
});
afterAll(() => env.close());

const specFor = (topic: TopicName): SubscriptionSpec => subscriptions().find((s) => s.topic === topic)!;

function recorder() {
  const invalid: InvalidMessage[] = [];
  const permanent: PermanentFailure[] = [];
  return {
    invalid,
    permanent,
    invalidMessage: async (i: InvalidMessage) => void invalid.push(i),
    permanentFailure: async (p: PermanentFailure) => void permanent.push(p),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('consumer policy', () => {
  it('delivers a valid message to its handler once and acks it', async () => {
    const seen: unknown[] = [];
    const rec = recorder();
    running.push(
      startConsumer({
        pubsub,
        spec: specFor('aiprod.job.requested.v1'),
        handler: defineHandler('aiprod.job.requested.v1', async (msg) => void seen.push(msg)),
        log,
        recorder: rec,
      }),
    );
    await publisher.publish('aiprod.job.requested.v1', { v: 1, jobId: 'job-ok', tenantId: 't1' });
    await waitFor(() => (seen.length ? true : undefined), { timeoutMs: 15_000, what: 'delivery' });
    await sleep(2000);
    expect(seen).toEqual([{ v: 1, jobId: 'job-ok', tenantId: 't1' }]);
    expect(rec.invalid).toEqual([]);
  });

  it('retries after a retryable error and then succeeds', async () => {
    const attempts: number[] = [];
    running.push(
      startConsumer({
        pubsub,
        spec: specFor('aiprod.job.approved.v1'),
        handler: defineHandler('aiprod.job.approved.v1', async (_msg, ctx) => {
          attempts.push(ctx.deliveryAttempt);
          if (attempts.length === 1) throw new RetryableError('vendor busy');
        }),
        log,
        recorder: recorder(),
      }),
    );
    await publisher.publish('aiprod.job.approved.v1', {
      v: 1,
      jobId: 'job-retry',
      tenantId: 't1',
      approver: 'ops@example.com',
    });
    await waitFor(() => (attempts.length >= 2 ? true : undefined), { timeoutMs: 20_000, what: 'redelivery' });
    await sleep(1500);
    expect(attempts).toEqual([1, 2]);
  });

  it('records a permanent error and acks instead of retrying', async () => {
    const rec = recorder();
    let calls = 0;
    running.push(
      startConsumer({
        pubsub,
        spec: specFor('aiprod.job.assemble.v1'),
        handler: defineHandler('aiprod.job.assemble.v1', async () => {
          calls += 1;
          throw new PermanentError('assembly_failed', 'no clips');
        }),
        log,
        recorder: rec,
      }),
    );
    await qaPublisher.publish('aiprod.job.assemble.v1', { v: 1, jobId: 'job-perm', tenantId: 't1' });
    await waitFor(() => (rec.permanent.length ? true : undefined), { timeoutMs: 15_000, what: 'permanent failure' });
    await sleep(2000);
    expect(calls).toBe(1);
    expect(rec.permanent).toHaveLength(1);
    expect(rec.permanent[0]).toMatchObject({ jobId: 'job-perm', tenantId: 't1' });
    expect(rec.permanent[0]!.error.reason).toBe('assembly_failed');
  });

  it('refuses to publish a payload its topic schema rejects', async () => {
    await expect(
      publisher.publish('aiprod.job.requested.v1', { v: 1, jobId: 'bad id with spaces', tenantId: 't1' }),
    ).rejects.toThrow(/invalid aiprod.job.requested.v1/);
  });

  it('refuses at run time a topic its service does not publish (for callers past the types)', async () => {
    const sneaky = qaPublisher as unknown as Publisher<'gateway'>;
    await expect(
      sneaky.publish('aiprod.job.requested.v1', { v: 1, jobId: 'job-sneaky', tenantId: 't1' }),
    ).rejects.toThrow('qa does not publish aiprod.job.requested.v1: the catalogue lists gateway');
  });

  it('finishes in-flight work before close resolves', async () => {
    let finished = false;
    let started = false;
    const consumer = startConsumer({
      pubsub,
      spec: specFor('aiprod.job.finished.v1'),
      handler: defineHandler('aiprod.job.finished.v1', async () => {
        started = true;
        await sleep(1500);
        finished = true;
      }),
      log,
      recorder: recorder(),
    });
    await publisher.publish('aiprod.job.finished.v1', {
      v: 1,
      jobId: 'job-close',
      tenantId: 't1',
      status: 'DELIVERED',
    });
    await waitFor(() => (started ? true : undefined), { timeoutMs: 15_000, what: 'handler start' });
    await consumer.close();
    expect(finished).toBe(true);
  });
});

describe('malformed messages on every topic', () => {
  it('are recorded with a reason on each attempt and dead-lettered after the configured attempts', async () => {
    const specs = subscriptions();
    const rec = recorder();
    const letters: DeadLetter[] = [];
    let handled = 0;
    for (const spec of specs) {
      running.push(
        startConsumer({
          pubsub,
          spec,
          handler: { topic: spec.topic, handle: async () => void (handled += 1) },
          log,
          recorder: rec,
        }),
        startDeadLetterWatcher({ pubsub, spec, log, onDeadLetter: async (l) => void letters.push(l) }),
      );
    }
    // One message per topic that names a job but breaks the schema (an unknown field, a wrong
    // version), and one that is not JSON at all.
    for (const spec of specs) {
      await pubsub.topic(spec.topic).publishMessage({
        json: { v: 2, jobId: `job-${spec.topic}`.replace(/\./g, '-'), tenantId: 't1', extra: true },
      });
    }
    await pubsub
      .topic('aiprod.shot.rendered.v1')
      .publishMessage({ data: Buffer.from('not json {'), attributes: { jobId: 'job-nonjson' } });

    const expected = specs.length + 1;
    await waitFor(() => (letters.length >= expected ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: 'dead letters',
    });
    expect(handled).toBe(0);
    expect(new Set(letters.map((l) => l.topic))).toEqual(new Set(specs.map((s) => s.topic)));
    expect(letters.find((l) => l.jobId === 'job-nonjson')?.topic).toBe('aiprod.shot.rendered.v1');
    for (const spec of specs) {
      const attempts = rec.invalid.filter((i) => i.subscription === spec.name && i.jobId !== 'job-nonjson');
      expect(attempts.map((a) => a.deliveryAttempt).sort()).toEqual([1, 2, 3, 4, 5].slice(0, MAX_ATTEMPTS));
      expect(attempts[0]!.problem).toMatch(/does not match the .* schema/);
      expect(attempts[0]!.errors.map((e) => e.field)).toEqual(expect.arrayContaining(['/extra', '/v']));
    }
    expect(rec.invalid.find((i) => i.jobId === 'job-nonjson')?.problem).toBe('message data is not JSON');
  }, 120_000);
});
