import { emulatorProject, recordSpans, type SpanRecorder } from '@aiprod/testing';
import { Publisher } from '../src';

/**
 * The job-trace lookup a publish outside any span makes (sweeps, pollers, replays) is a tracing
 * nicety: it must never cost a message, never hold a publish for long, and not be made at all
 * when nothing records spans.
 */
const env = emulatorProject('publisher-trace', 'delivery');
beforeAll(() => env.provision());
afterAll(() => env.close());

const finished = (jobId: string) => ({
  v: 1 as const,
  jobId,
  tenantId: 't1',
  status: 'FAILED' as const,
});

it('makes no lookup when no tracer records spans', async () => {
  let lookups = 0;
  const publisher = new Publisher(env.pubsub, 'delivery', async () => {
    lookups += 1;
    return undefined;
  });
  expect(await publisher.publish('aiprod.job.finished.v1', finished('job_pt1'))).toEqual(expect.any(String));
  expect(lookups).toBe(0);
  await publisher.close();
});

describe('while spans are recorded', () => {
  let spans: SpanRecorder;
  beforeAll(() => {
    spans = recordSpans();
  });
  afterAll(() => spans.stop());

  it('publishes when the lookup fails', async () => {
    let lookups = 0;
    const publisher = new Publisher(env.pubsub, 'delivery', () => {
      lookups += 1;
      return Promise.reject(new Error('firestore unavailable'));
    });
    expect(await publisher.publish('aiprod.job.finished.v1', finished('job_pt2'))).toEqual(expect.any(String));
    expect(lookups).toBe(1);
    await publisher.close();
  });

  it('publishes without the trace when the lookup hangs, after a bounded wait', async () => {
    const publisher = new Publisher(env.pubsub, 'delivery', () => new Promise<string | undefined>(() => undefined));
    const started = Date.now();
    expect(await publisher.publish('aiprod.job.finished.v1', finished('job_pt3'))).toEqual(expect.any(String));
    expect(Date.now() - started).toBeLessThan(10_000);
    await publisher.close();
  }, 20_000);
});
