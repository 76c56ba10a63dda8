import request from 'supertest';
import type { Brief } from '@aiprod/contracts';
import { BRIEF, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('gateway-redaction');
}, 30_000);
afterAll(() => h?.close());

// What the render pools, the dead-letter path and the notifier write on a job's timeline.
const GOOGLE_PROJECT = 'acme-prod-4417';
const OPERATION = `projects/${GOOGLE_PROJECT}/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/5d41402a`;
const RUNWAY_TASK = '0f6c2b1e-7d3a-4c8e-9b5f-2a1d3e4f5a6b';
const SUBSCRIPTION = 'aiprod.render.veo.v1.render-veo';
const INTERNAL_ADDRESS = '10.0.0.7';
const INTERNALS = [GOOGLE_PROJECT, 'operations/', RUNWAY_TASK, SUBSCRIPTION, 'render-veo', INTERNAL_ADDRESS];

async function jobWithInternalEvents(): Promise<string> {
  const jobId = `job_redact_${Math.random().toString(36).slice(2, 10)}`;
  await h.jobs.createJob({ jobId, tenantId: h.tenantA, brief: BRIEF as Brief, preset: 'social_quick' });
  const shot = { shotId: 's1', attempt: 1 };
  await h.jobs.appendEvent(jobId, {
    key: 'submitted-veo',
    type: 'render.submitted',
    data: { ...shot, backend: 'veo', taskId: OPERATION },
  });
  await h.jobs.appendEvent(jobId, {
    key: 'submitted-runway',
    type: 'render.submitted',
    data: { ...shot, backend: 'runway', taskId: RUNWAY_TASK },
  });
  await h.jobs.appendEvent(jobId, {
    key: 'failed-veo',
    type: 'render.failed',
    data: {
      ...shot,
      backend: 'veo',
      class: 'transient',
      code: 'veo.poll_failed',
      message: `veo: polling ${OPERATION} failed`,
      vendorTaskId: OPERATION,
    },
  });
  await h.jobs.appendEvent(jobId, {
    key: 'replayed',
    type: 'job.replayed',
    data: { subscription: SUBSCRIPTION, messageId: '12345', operator: 'ops@example.com', status: 'RENDERING' },
  });
  await h.jobs.appendEvent(jobId, {
    key: 'webhook',
    type: 'webhook.attempt',
    data: {
      webhookId: `msg_${jobId}_failed`,
      attempt: 1,
      status: 0,
      outcome: 'retry',
      error: `ECONNREFUSED: connect ECONNREFUSED ${INTERNAL_ADDRESS}:443`,
    },
  });
  await h.jobs.fail(jobId, 'dead_lettered', `the message was dead-lettered from ${SUBSCRIPTION}.dlq`);
  return jobId;
}

const expectNoInternals = (text: string) => {
  for (const name of INTERNALS) expect(text).not.toContain(name);
};

describe('client-facing events and errors name no internal resource (fault 15)', () => {
  it('GET /v1/jobs/{id} shows the events without task ids, operation names, subscriptions or addresses', async () => {
    const jobId = await jobWithInternalEvents();
    // Kept for operators.
    const stored = JSON.stringify(await h.jobs.listEvents(jobId));
    expect(stored).toContain(OPERATION);
    expect(stored).toContain(SUBSCRIPTION);

    const res = await request(h.app).get(`/v1/jobs/${jobId}`).set('Authorization', `Bearer ${h.keys.read}`);
    expect(res.status).toBe(200);
    expectNoInternals(JSON.stringify(res.body));
    const events = res.body.events as { type: string; data: Record<string, unknown> }[];
    // What the client needs is still there.
    const submitted = events.filter((e) => e.type === 'render.submitted').map((e) => e.data);
    expect(submitted).toEqual([
      { shotId: 's1', attempt: 1, backend: 'veo' },
      { shotId: 's1', attempt: 1, backend: 'runway' },
    ]);
    expect(events.find((e) => e.type === 'render.failed')?.data).toEqual({
      shotId: 's1',
      attempt: 1,
      backend: 'veo',
      class: 'transient',
      code: 'veo.poll_failed',
      message: 'veo: polling [internal resource] failed',
    });
    expect(events.find((e) => e.type === 'job.replayed')?.data).toEqual({ status: 'RENDERING' });
    expect(events.find((e) => e.type === 'webhook.attempt')?.data.error).toBe(
      'ECONNREFUSED: connect ECONNREFUSED [address]',
    );
    expect(res.body.error).toEqual(
      expect.objectContaining({ reason: 'dead_lettered', message: expect.stringContaining('[internal queue]') }),
    );
  });

  it('the SSE feed shows the same events without them', async () => {
    const jobId = await jobWithInternalEvents();
    // The job is FAILED: the stream sends its timeline, then ends.
    const res = await request(h.app)
      .get(`/v1/jobs/${jobId}/events`)
      .set('Authorization', `Bearer ${h.keys.read}`)
      .buffer(true)
      .parse((response, done) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => done(null, text));
      });
    expect(res.status).toBe(200);
    const text = res.body as string;
    expect(text).toContain('event: render.submitted');
    expect(text).toContain('event: job.failed');
    expectNoInternals(text);
  });

  it('a refused webhook URL says why, without the address its name resolved to', async () => {
    // internal.example.com resolves to 10.0.0.7 in the harness.
    const res = await request(h.app)
      .put('/v1/webhook')
      .set('Authorization', `Bearer ${h.keys.admin}`)
      .send({ url: 'https://internal.example.com/hook' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/private address/);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: '/url', rule: 'private_address' })]);
    expect(JSON.stringify(res.body)).not.toContain(INTERNAL_ADDRESS);
    expect(JSON.stringify(res.body)).not.toMatch(/\b\d{1,3}(\.\d{1,3}){3}\b/);
  });
});
