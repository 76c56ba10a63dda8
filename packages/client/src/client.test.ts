import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateWebhookSecret, signWebhook } from '@aiprod/webhooks';
import { ApiError, createAiprodClient, verifyWebhookEvent, type JobStreamEvent } from './index';

/** A gateway stand-in speaking the events route's protocol: it drops the first connection mid-stream. */
const seen: { lastEventId?: string; auth?: string }[] = [];
const event = (id: string, type: string, data: Record<string, unknown>) =>
  `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ id, type, at: null, data })}\n\n`;
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  seen.push({ lastEventId: req.headers['last-event-id'] as string | undefined, auth: req.headers.authorization });
  if (req.url === '/v1/jobs/job_missing/events') {
    res.writeHead(404, { 'Content-Type': 'application/problem+json' });
    return void res.end(JSON.stringify({ type: '/problems/not-found', title: 'No such resource.', status: 404 }));
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream' });
  res.write('retry: 10\n\n: heartbeat\n\n');
  if (seen.length === 1) {
    res.write(event('e1', 'job.status', { from: 'QUEUED', status: 'PLANNING' }));
    // Half an event, then the connection is cut: it must not be delivered, nor lost.
    res.write('id: e2\nevent: job.sta');
    // After the bytes have left (destroying at once would discard them unsent).
    return void setTimeout(() => res.destroy(), 100);
  }
  res.write(event('e2', 'job.status', { from: 'PLANNING', status: 'RENDERING' }));
  res.write(event('e3', 'job.status', { from: 'RENDERING', status: 'DELIVERED' }));
  res.end();
});
let baseUrl = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

it('streams a job’s events, resumes after a dropped connection with Last-Event-ID, and ends after the terminal one', async () => {
  const client = createAiprodClient({ baseUrl, apiKey: 'aiprod_test_key' });
  const events: JobStreamEvent[] = [];
  for await (const e of client.jobEvents('job_1')) events.push(e);
  expect(events.map((e) => [e.id, e.type, e.data.status])).toEqual([
    ['e1', 'job.status', 'PLANNING'],
    ['e2', 'job.status', 'RENDERING'],
    ['e3', 'job.status', 'DELIVERED'],
  ]);
  expect(seen.map((s) => s.lastEventId)).toEqual([undefined, 'e1']);
  expect(seen.every((s) => s.auth === 'Bearer aiprod_test_key')).toBe(true);
});

it('throws the API’s problem for a 4xx instead of retrying it', async () => {
  const client = createAiprodClient({ baseUrl, apiKey: 'k' });
  const stream = client.jobEvents('job_missing');
  const error = await stream.next().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  expect((error as ApiError).problem).toMatchObject({ type: '/problems/not-found', status: 404 });
});

it('verifies a webhook before parsing it, and refuses a forged one', () => {
  const secret = generateWebhookSecret();
  const body = JSON.stringify({ type: 'job.delivered', timestamp: new Date().toISOString(), data: { jobId: 'j' } });
  const headers = signWebhook({ id: 'msg_1', timestamp: Math.floor(Date.now() / 1000), body, secrets: [secret] });
  const ok = verifyWebhookEvent({ headers, body, secret });
  expect(ok).toMatchObject({ ok: true, event: { type: 'job.delivered' } });
  const forged = verifyWebhookEvent({ headers, body: body.replace('"j"', '"k"'), secret });
  expect(forged).toEqual({ ok: false, reason: 'bad_signature' });
  expect(verifyWebhookEvent({ headers, body, secret: generateWebhookSecret() })).toMatchObject({ ok: false });
});
