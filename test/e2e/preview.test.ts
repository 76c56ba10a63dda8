import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFirestore, getMonthlySpend, JobStore, WebhookStore } from '@aiprod/job-store';
import { probe } from '@aiprod/media';
import { startRunwayServer, waitFor, type RunwayServer } from '@aiprod/testing';
import { generateWebhookSecret, verifyWebhook, type JobAwaitingApprovalData } from '@aiprod/webhooks';
import { GatewayClient, httpsDownload, type LocalStack } from '../../infra/local/src';
import { runwayPool, startTestStack, testFallbackPolicy } from './e2e-stack';

/**
 * Preview before paying, on the whole local platform: a job whose estimate is over the tenant's
 * auto-approve limit (shots on Runway, whose protocol test server counts every request) waits for
 * approval, and gets a free preview with the final cut's length, announced by a signed
 * job.awaiting_approval webhook whose link plays from the gateway. Nothing is paid meanwhile.
 */
const RUNWAY_KEY = 'key_e2e_preview_runway_0123456789abcdef';
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-e2e-preview-'));
const secret = generateWebhookSecret();
const hooks: { headers: IncomingMessage['headers']; body: string }[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    hooks.push({ headers: req.headers, body });
    res.writeHead(204).end();
  });
});
let stack: LocalStack;
let client: GatewayClient;
let runway: RunwayServer;
let jobs: JobStore;

beforeAll(async () => {
  runway = await startRunwayServer({ apiKey: RUNWAY_KEY });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  stack = await startTestStack('e2e-preview', stateDir, {
    vendorPools: { runway: runwayPool(runway, RUNWAY_KEY) },
    renderEnv: { RENDER_FALLBACK_POLICY: JSON.stringify(testFallbackPolicy()) },
  });
  client = new GatewayClient(stack.info);
  jobs = new JobStore(createFirestore(stack.info.projectId));
  const port = (receiver.address() as AddressInfo).port;
  await new WebhookStore(jobs.db).setEndpoint(stack.info.tenantId, `http://127.0.0.1:${port}/hooks`, secret);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await runway?.close();
  await jobs?.db.terminate();
  await new Promise<void>((r) => receiver.close(() => r()));
  rmSync(stateDir, { recursive: true, force: true });
});

describe('preview before paying (local platform)', () => {
  it('parks an over-limit job for approval with a READY $0 preview of the final length, linked from a signed webhook', async () => {
    const spendBefore = await getMonthlySpend(jobs.db, stack.info.tenantId);
    const { id } = await client.submit({
      product: 'Aurora running shoe',
      brand: { name: 'Aurora', colors: ['#1E6FD9'] },
      keyMessage: 'Meet Aurora',
      durationSeconds: 10,
      aspectRatios: ['16:9'],
      callToAction: 'Run brighter',
      preset: 'social_quick',
    });
    const hook = await waitFor(
      () => hooks.find((h) => (JSON.parse(h.body) as { data: { jobId: string } }).data.jobId === id),
      { timeoutMs: 45_000, intervalMs: 250, what: 'the job.awaiting_approval webhook' },
    );
    const event = JSON.parse(hook.body) as { type: string; data: JobAwaitingApprovalData };
    expect(event.type).toBe('job.awaiting_approval');
    expect(verifyWebhook({ headers: hook.headers as Record<string, string>, body: hook.body, secret })).toEqual({
      ok: true,
    });
    expect(event.data).toMatchObject({ jobId: id, status: 'AWAITING_APPROVAL', planVersion: 1 });
    expect(event.data.estimate.totalUsd).toBeGreaterThan(0);

    const job = (await jobs.getJob(id))!;
    expect(job.status).toBe('AWAITING_APPROVAL');
    expect(job.preview).toMatchObject({ planVersion: 1, status: 'READY' });
    expect((await jobs.listShots(id)).every((s) => s.backend === 'runway')).toBe(true);

    // The link plays: an H.264 file of the final cut's length, fetched through the gateway.
    const file = join(stateDir, 'preview.mp4');
    await httpsDownload(event.data.preview.url, file, client.caCert);
    const media = await probe(file);
    expect(media.video?.codec).toBe('h264');
    expect(Math.abs(media.durationSeconds - 10)).toBeLessThan(0.5);

    // $0: nothing asked of Runway, no ledger line, the job's cost and the tenant's month unchanged.
    expect(runway.requests).toHaveLength(0);
    expect(job.costUsd).toBe(0);
    expect(await jobs.listCosts(id)).toEqual([]);
    expect(await getMonthlySpend(jobs.db, stack.info.tenantId)).toBe(spendBefore);
  }, 60_000);
});
