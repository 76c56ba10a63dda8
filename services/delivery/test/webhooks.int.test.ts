import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Timestamp } from '@google-cloud/firestore';
import { WebhookStore, type Job } from '@aiprod/job-store';
import { aBrief, emulatorProject, waitFor } from '@aiprod/testing';
import { generateWebhookSecret, verifyWebhook } from '@aiprod/webhooks';
import type { DeliveryDeps } from '../src/app';
import { jobFinishedHandler } from '../src/handlers/job-finished';
import { enqueueJobWebhook, webhookIdFor } from '../src/steps/notify-client';
import type { WebhookDeps } from '../src/steps/send-webhook';
import { startWebhookDispatcher } from '../src/webhook-dispatcher';

const env = emulatorProject('webhooks', 'delivery');
const { db, jobs, log } = env;
const webhooks = new WebhookStore(db);
// Days of retry schedule shrunk to milliseconds; a receiver's Retry-After is still honoured as sent.
const deps: WebhookDeps = { jobs, webhooks, log, allowLoopbackHttp: true, timeoutMs: 2000, scheduleScale: 0.0002 };
const dispatcher = startWebhookDispatcher(deps, 100);

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}
let server: Server;
let url: string;
const received: Received[] = [];
/** What the receiver answers, one status per request; 200 when the script runs out. */
const script: { status: number; headers?: Record<string, string> }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      const next = script.shift() ?? { status: 200 };
      res.writeHead(next.status, next.headers ?? {}).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks/aiprod`;
});
afterAll(async () => {
  await dispatcher.stop();
  await new Promise<void>((r) => server.close(() => r()));
  await env.close();
});
beforeEach(() => {
  received.length = 0;
  script.length = 0;
});

const brief = aBrief({ durationSeconds: 7, metadata: { campaign: 'spring' } });
let n = 0;
async function deliveredJob(tenantId: string): Promise<Job> {
  const jobId = `job_hook${++n}_${Date.now()}`;
  await jobs.createJob({ jobId, tenantId, brief, preset: 'social_quick' });
  await db
    .collection('jobs')
    .doc(jobId)
    .update({
      status: 'DELIVERED',
      outputs: [
        {
          variant: '16:9',
          uri: 'local://x.mp4',
          durationSeconds: 7,
          width: 1280,
          height: 720,
          sizeBytes: 1000,
          sha256: 'ab',
        },
      ],
      deadlineAt: null,
      updatedAt: Timestamp.now(),
    });
  return (await jobs.getJob(jobId))!;
}
const attemptsOf = async (webhookId: string) => (await webhooks.getDelivery(webhookId))?.attempts ?? [];

describe('client webhooks', () => {
  it('are signed per Standard Webhooks and verify with the tenant secret, one id however often notified', async () => {
    const secret = generateWebhookSecret();
    await webhooks.setEndpoint('tenant-a', url, secret);
    const job = await deliveredJob('tenant-a');
    const first = await enqueueJobWebhook(deps, job, 'DELIVERED');
    const again = await enqueueJobWebhook(deps, job, 'DELIVERED');
    expect(again?.webhookId).toBe(first?.webhookId);
    await waitFor(() => (received.length ? true : undefined), { timeoutMs: 5000, what: 'webhook' });
    await new Promise((r) => setTimeout(r, 500));
    expect(received).toHaveLength(1);
    const [hook] = received;
    expect(verifyWebhook({ headers: hook!.headers as Record<string, string>, body: hook!.body, secret })).toEqual({
      ok: true,
    });
    expect(
      verifyWebhook({ headers: hook!.headers as Record<string, string>, body: `${hook!.body} `, secret }),
    ).toMatchObject({ ok: false });
    expect(hook!.headers['webhook-id']).toBe(first!.webhookId);
    const payload = JSON.parse(hook!.body) as { type: string; data: Record<string, unknown> };
    expect(payload.type).toBe('job.delivered');
    expect(payload.data).toMatchObject({ jobId: job.jobId, status: 'DELIVERED', metadata: { campaign: 'spring' } });
    expect(hook!.body).not.toMatch(/sig=|local:\/\//);
    expect((await webhooks.getDelivery(first!.webhookId))?.state).toBe('delivered');
    const events = await jobs.listEvents(job.jobId);
    expect(events.filter((e) => e.type === 'webhook.attempt').map((e) => e.data.outcome)).toEqual(['delivered']);
  });

  it('are not sent for a job erased before its notice went out (nothing of it is left to tell)', async () => {
    await webhooks.setEndpoint('tenant-e', url, generateWebhookSecret());
    const job = await deliveredJob('tenant-e');
    await jobs.erase(job.jobId, { by: 'key:test' });
    // The notifier reads only its webhook dependencies.
    await jobFinishedHandler(deps as unknown as DeliveryDeps).handle(
      { v: 1, jobId: job.jobId, tenantId: 'tenant-e', status: 'DELIVERED' },
      {
        topic: 'aiprod.job.finished.v1',
        subscription: 'aiprod.job.finished.v1.delivery',
        messageId: 'm-erased',
        deliveryAttempt: 1,
        publishTime: new Date(),
        log,
      },
    );
    expect(await webhooks.getDelivery(webhookIdFor(job.jobId, 'DELIVERED'))).toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toEqual([]);
  });

  it('are created leased to their creator for the first attempt, so the dispatcher never races it for them', async () => {
    const input = {
      tenantId: 'tenant-lease',
      jobId: `job_lease_${Date.now()}`,
      eventType: 'job.delivered',
      body: '{}',
    };
    const webhookId = `msg_${input.jobId}_delivered`;
    const created = await webhooks.createDelivery({ ...input, webhookId }, { leaseSeconds: 30 });
    expect(created.claimed).toBe(true);
    // Due for nobody else until the lease ends: not listed as due, not claimable.
    const now = Timestamp.now();
    expect((await webhooks.dueDeliveries(now)).map((d) => d.webhookId)).not.toContain(webhookId);
    expect(await webhooks.claim(webhookId, now, 30)).toBeNull();
    // A second notification of the same outcome finds it and holds no claim of its own.
    expect((await webhooks.createDelivery({ ...input, webhookId }, { leaseSeconds: 30 })).claimed).toBe(false);
    // Once the lease has passed (a creator that died before sending), the dispatcher may take it.
    const later = Timestamp.fromMillis(now.toMillis() + 31_000);
    expect((await webhooks.dueDeliveries(later)).map((d) => d.webhookId)).toContain(webhookId);
  });

  it('retries after 500 and 429 (honouring Retry-After) with the same id and body, then stops once delivered', async () => {
    await webhooks.setEndpoint('tenant-b', url, generateWebhookSecret());
    script.push({ status: 500 }, { status: 429, headers: { 'retry-after': '1' } });
    const job = await deliveredJob('tenant-b');
    const delivery = (await enqueueJobWebhook(deps, job, 'DELIVERED'))!;
    await waitFor(
      async () => ((await webhooks.getDelivery(delivery.webhookId))?.state === 'delivered' ? true : undefined),
      {
        timeoutMs: 15_000,
        what: 'delivery after retries',
      },
    );
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery.webhookId]));
    expect(new Set(received.map((r) => r.body)).size).toBe(1);
    const attempts = await attemptsOf(delivery.webhookId);
    expect(attempts.map((a) => [a.status, a.outcome])).toEqual([
      [500, 'retry'],
      [429, 'retry'],
      [200, 'delivered'],
    ]);
    // The 429 asked for one second; the shrunken schedule alone would have retried at once.
    expect(attempts[2]!.at.toMillis() - attempts[1]!.at.toMillis()).toBeGreaterThanOrEqual(900);
  }, 20_000);

  it('stops after a 410 and disables the endpoint', async () => {
    await webhooks.setEndpoint('tenant-c', url, generateWebhookSecret());
    script.push({ status: 410 });
    const job = await deliveredJob('tenant-c');
    const delivery = (await enqueueJobWebhook(deps, job, 'DELIVERED'))!;
    await new Promise((r) => setTimeout(r, 1000));
    expect(received).toHaveLength(1);
    expect((await webhooks.getDelivery(delivery.webhookId))?.state).toBe('disabled');
    expect((await webhooks.getEndpoint('tenant-c'))?.disabledAt).not.toBeNull();
    expect(await enqueueJobWebhook(deps, await deliveredJob('tenant-c'), 'DELIVERED')).toBeNull();
  });

  it('refuses, at send time, an endpoint that is not allowed and gives up without sending', async () => {
    const strict: WebhookDeps = { ...deps, allowLoopbackHttp: false };
    // The metadata address is refused even in local mode, so whichever sender claims the delivery
    // first (this call or the background dispatcher) must give up the same way.
    await webhooks.setEndpoint('tenant-d', 'http://169.254.169.254/hook', generateWebhookSecret());
    const job = await deliveredJob('tenant-d');
    const delivery = (await enqueueJobWebhook(strict, job, 'DELIVERED'))!;
    const [attempt] = await attemptsOf(delivery.webhookId);
    expect(attempt).toMatchObject({ status: 0, outcome: 'give_up' });
    expect(attempt!.error).toMatch(/blocked/);
    expect(received).toHaveLength(0);
  });

  it('signs with both secrets during a rotation, so receivers holding either verify', async () => {
    const oldSecret = generateWebhookSecret();
    const newSecret = generateWebhookSecret();
    await webhooks.setEndpoint('tenant-e', url, oldSecret);
    await webhooks.rotateSecret('tenant-e', newSecret, 3600);
    await enqueueJobWebhook(deps, await deliveredJob('tenant-e'), 'DELIVERED');
    await waitFor(() => (received.length ? true : undefined), { timeoutMs: 5000, what: 'webhook' });
    const hook = received[0]!;
    for (const secret of [oldSecret, newSecret]) {
      expect(verifyWebhook({ headers: hook.headers as Record<string, string>, body: hook.body, secret })).toEqual({
        ok: true,
      });
    }
  });
});
