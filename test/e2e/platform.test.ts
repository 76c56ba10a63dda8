import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FieldValue, Timestamp } from '@google-cloud/firestore';
import { ProvenanceManifestSchema, validate, type Brief, type ProvenanceManifest } from '@aiprod/contracts';
import { createFirestore, JobStore, WebhookStore } from '@aiprod/job-store';
import { probe } from '@aiprod/media';
import { requireEmulators, uniqueProjectId, waitFor } from '@aiprod/testing';
import { generateWebhookSecret, verifyWebhook } from '@aiprod/webhooks';
import { GatewayClient, httpsDownload, httpsJson, LocalStack, type JobView } from '../../infra/local/src';

/**
 * The whole local platform, five service processes on the real emulators, driven through the
 * public HTTPS API as a client would. Needs the services built (`npm test` builds first).
 */
const repoRoot = resolve(__dirname, '..', '..');
const emulators = requireEmulators();
const brief = JSON.parse(readFileSync(join(repoRoot, 'examples', 'briefs', 'aurora-15s.json'), 'utf8')) as Record<
  string,
  unknown
>;
let stack: LocalStack;
let client: GatewayClient;
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-e2e-'));

beforeAll(async () => {
  for (const s of ['gateway', 'planner', 'render', 'qa', 'delivery']) {
    if (!existsSync(join(repoRoot, 'services', s, 'dist', 'main.js')))
      throw new Error(`services/${s} is not built: run "npm test"`);
  }
  stack = await LocalStack.start({
    repoRoot,
    stateDir,
    projectId: uniqueProjectId('e2e'),
    emulators,
    policyOverride: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1, ackDeadlineSeconds: 10 },
    sweepIntervalSeconds: 1,
    // A render worker killed mid-job leaves its attempts' leases to go stale within 4 s; the render
    // pool's own sweep then re-sends them, whatever the emulator does with the dead stream's messages.
    renderEnv: { RENDER_LEASE_SECONDS: '4' },
  });
  client = new GatewayClient(stack.info);
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Writes a QUEUED job straight into the store, as the gateway would, without publishing its request. */
async function storeQueuedJob(name: string, options: { overdue?: boolean } = {}): Promise<string> {
  const db = createFirestore(stack.info.projectId);
  const jobId = `job_${name}${Date.now()}`;
  await new JobStore(db).createJob({
    jobId,
    tenantId: stack.info.tenantId,
    brief: brief as unknown as Brief,
    preset: 'social_quick',
  });
  if (options.overdue)
    await db
      .collection('jobs')
      .doc(jobId)
      .update({ deadlineAt: Timestamp.fromMillis(Date.now() - 1000) });
  await db.terminate();
  return jobId;
}

const deliveredEvents = (job: JobView) => job.events.filter((e) => e.type === 'job.delivered');
const outputFiles = (job: JobView) =>
  readdirSync(join(stack.info.dataDir, 'tenants', stack.info.tenantId, 'jobs', job.id, 'outputs')).filter((f) =>
    f.endsWith('.mp4'),
  );

describe('the local platform', () => {
  it('turns the sample brief into a checked video, delivered over a signed HTTPS link', async () => {
    const submitted = await client.submit(brief);
    expect(submitted.status).toBe('QUEUED');
    const job = await client.waitForTerminal(submitted.id, { timeoutMs: 120_000 });
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('DELIVERED');
    expect(job.shots.length).toBeGreaterThanOrEqual(3);
    expect(job.shots.every((s) => s.status === 'PASSED')).toBe(true);
    // QA looked at every shot: the local judge read the planned text, nothing was skipped or invented.
    for (const shot of job.shots) {
      expect(shot.qa?.judge).toBe('local-ocr');
      expect(shot.qa?.checks.find((c) => c.name === 'on_screen_text')?.verdict).toBe('pass');
      expect(shot.qa?.checks.find((c) => c.name === 'frozen_frames')?.verdict).toBe('pass');
    }
    expect(job.qa).toEqual({ shotsPassed: job.shots.length, shotsTotal: job.shots.length, retakes: 0 });
    expect(deliveredEvents(job)).toHaveLength(1);
    const statusChanges = job.events.filter((e) => e.type === 'job.created' || e.data.from !== undefined);
    expect(statusChanges.map((e) => e.data.status)).toEqual([
      'QUEUED',
      'PLANNING',
      'RENDERING',
      'ASSEMBLING',
      'DELIVERED',
    ]);

    const file = join(stateDir, 'delivered.mp4');
    await httpsDownload(job.outputs[0]!.url, file, client.caCert);
    const info = await probe(file);
    expect(Math.abs(info.durationSeconds - 15)).toBeLessThanOrEqual(0.5);
    expect(info.video).toMatchObject({ codec: 'h264', width: 1280, height: 720 });
    expect(info.audio?.codec).toBe('aac');
    // social_quick is mixed for phones: −14 LUFS, held to ±1 LU and checked by the final cut's QA.
    expect(job.outputs[0]!.integratedLufs).toBeGreaterThanOrEqual(-15);
    expect(job.outputs[0]!.integratedLufs).toBeLessThanOrEqual(-13);
    expect(job.outputs[0]!.qa?.every((c) => c.verdict !== 'fail')).toBe(true);
    const poster = join(stateDir, 'poster.png');
    await httpsDownload(job.stills!.posterUrl, poster, client.caCert);
    expect((await probe(poster)).video).toMatchObject({ width: 1280, height: 720 });
    await httpsDownload(job.stills!.contactSheetUrl, join(stateDir, 'sheet.png'), client.caCert);

    // provenance.json beside the outputs, in storage and over its signed link: valid, and each
    // shot's prompt is the one the local backend was given (the shot's spec in the store).
    const stored = join(
      stack.info.dataDir,
      'tenants',
      stack.info.tenantId,
      'jobs',
      job.id,
      'outputs',
      'provenance.json',
    );
    expect(existsSync(stored)).toBe(true);
    const provenanceFile = join(stateDir, 'provenance.json');
    await httpsDownload(job.provenanceUrl!, provenanceFile, client.caCert);
    const text = readFileSync(provenanceFile, 'utf8');
    expect(text).toBe(readFileSync(stored, 'utf8'));
    const checked = validate(ProvenanceManifestSchema, JSON.parse(text));
    expect(checked.ok ? [] : checked.errors).toEqual([]);
    const manifest = JSON.parse(text) as ProvenanceManifest;
    expect(manifest).toMatchObject({ jobId: job.id, tenantId: stack.info.tenantId });
    expect(text).not.toMatch(/X-Goog-|[?&](sig|signature|token|expires)=/i);
    const db = createFirestore(stack.info.projectId);
    const shots = await new JobStore(db).listShots(job.id);
    await db.terminate();
    expect(manifest.shots.map((s) => s.shotId)).toEqual(shots.map((s) => s.shotId));
    for (const [i, shot] of shots.entries()) {
      expect(manifest.shots[i]).toMatchObject({
        backend: 'local',
        model: 'animatic-1',
        prompt: shot.spec.prompt,
        qa: { verdict: 'pass' },
      });
      expect(manifest.shots[i]!.tries[manifest.shots[i]!.acceptedTry]).toMatchObject({ outcome: 'succeeded' });
    }
  }, 150_000);

  it('passes every shot of the vertical 30 s sample brief and delivers every asked-for variant', async () => {
    const vertical = JSON.parse(
      readFileSync(join(repoRoot, 'examples', 'briefs', 'lumen-30s-vertical.json'), 'utf8'),
    ) as Record<string, unknown>;
    const submitted = await client.submit({ ...vertical, aspectRatios: ['9:16', '16:9', '1:1'] });
    const job = await client.waitForTerminal(submitted.id, { timeoutMs: 180_000 });
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('DELIVERED');
    expect(job.qa.retakes).toBe(0);
    expect(job.shots.every((s) => s.qa?.verdict === 'pass')).toBe(true);
    expect(job.outputs.map((o) => [o.variant, o.width, o.height])).toEqual([
      ['9:16', 720, 1280],
      ['16:9', 1280, 720],
      ['1:1', 1080, 1080],
    ]);
    for (const output of job.outputs) {
      const file = join(stateDir, `lumen-${output.variant.replace(':', 'x')}.mp4`);
      await httpsDownload(output.url, file, client.caCert);
      const info = await probe(file);
      expect(Math.abs(info.durationSeconds - 30)).toBeLessThanOrEqual(0.5);
      expect(info.video).toMatchObject({ width: output.width, height: output.height });
      expect(info.audio?.codec).toBe('aac');
      // brand_campaign is mixed to −16 LUFS, held to ±1 LU.
      expect(Math.abs(output.integratedLufs! + 16)).toBeLessThanOrEqual(1);
    }
  }, 240_000);

  it('answers bad requests with problem+json and hides other tenants', async () => {
    const url = `${stack.info.gatewayUrl}/v1/jobs`;
    const ca = client.caCert;
    const noKey = await httpsJson(url, { method: 'POST', ca, body: brief });
    expect(noKey.status).toBe(401);
    expect(noKey.headers['content-type']).toMatch(/application\/problem\+json/);

    const invalid = await httpsJson(url, {
      method: 'POST',
      ca,
      apiKey: stack.info.apiKey,
      body: { ...brief, durationSeconds: 600, surprise: 1 },
    });
    expect(invalid.status).toBe(400);
    const problem = JSON.parse(invalid.body) as { type: string; errors: { field: string; rule: string }[] };
    expect(problem.type).toMatch(/validation/);
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: '/durationSeconds', rule: 'maximum' }),
        expect.objectContaining({ field: '/surprise', rule: 'additionalProperties' }),
      ]),
    );
    const missing = await httpsJson(`${url}/job_doesnotexist`, { ca, apiKey: stack.info.apiKey });
    expect(missing.status).toBe(404);
  });

  describe('the deploy smoke job (scripts/deploy/smoke-job.mjs), run as Cloud Build runs it', () => {
    /** Runs the script as a child process (never blocking this process's sockets); onStderr sees its progress. */
    const smoke = (args: string[], options: { apiKey?: string; onStderr?: (text: string) => void } = {}) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolvePromise, reject) => {
        const child = spawn(process.execPath, [join(repoRoot, 'scripts', 'deploy', 'smoke-job.mjs'), ...args], {
          // Only what Cloud Build gives the step: the key from Secret Manager; here also our local CA.
          env: {
            PATH: process.env.PATH,
            SMOKE_API_KEY: options.apiKey ?? stack.info.apiKey,
            NODE_EXTRA_CA_CERTS: stack.info.caCertPath,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
          options.onStderr?.(stderr);
        });
        const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('error', reject);
        child.on('close', (status) => {
          clearTimeout(killer);
          resolvePromise({ status, stdout, stderr });
        });
      });

    it('exits 0 once its zero-budget brief is delivered, rendered on the local backend only', async () => {
      const run = await smoke([
        '--gateway',
        stack.info.gatewayUrl,
        '--timeout',
        '50',
        '--interval',
        '0.3',
        '--expect-backend',
        'local',
      ]);
      expect(run.stderr).not.toContain(stack.info.apiKey);
      expect(run.status).toBe(0);
      const result = JSON.parse(run.stdout) as { jobId: string; status: string; backends: string[]; outputs: number };
      expect(result).toMatchObject({ status: 'DELIVERED', backends: ['local'], outputs: 1 });
      expect((await client.get(result.jobId)).status).toBe('DELIVERED');
    }, 60_000);

    it('exits 2 when the job is not delivered in time, 3 when the gateway refuses the key', async () => {
      const slow = await smoke(['--gateway', stack.info.gatewayUrl, '--timeout', '0.3', '--interval', '0.1']);
      expect(slow.status).toBe(2);
      expect(slow.stderr).toMatch(/still [A-Z_]+ after 0.3 s/);
      const refused = await smoke(['--gateway', stack.info.gatewayUrl], { apiKey: 'aiprod_not_a_key_0000000000' });
      expect(refused.status).toBe(3);
      expect(refused.stderr).toMatch(/refused the job: HTTP 401/);
    });

    it('exits 1 when the job ends without a delivery (canceled while it waits)', async () => {
      let canceled: Promise<unknown> | undefined;
      const run = await smoke(['--gateway', stack.info.gatewayUrl, '--timeout', '30', '--interval', '0.2'], {
        onStderr: (text) => {
          const id = /submitted (job_\w+)/.exec(text)?.[1];
          if (id && !canceled)
            canceled = httpsJson(`${stack.info.gatewayUrl}/v1/jobs/${id}/cancel`, {
              method: 'POST',
              ca: client.caCert,
              apiKey: stack.info.apiKey,
              body: {},
            });
        },
      });
      expect(canceled).toBeDefined();
      expect(run.stderr).toMatch(/ended CANCELED/);
      expect(run.status).toBe(1);
    }, 40_000);
  });

  it('still delivers a job whose request message was lost, once its deadline passes', async () => {
    // A job written as the gateway writes it, but whose job.requested never reached Pub/Sub.
    const jobId = await storeQueuedJob('lost', { overdue: true });
    const job = await client.waitForTerminal(jobId, { timeoutMs: 120_000 });
    expect(job.status).toBe('DELIVERED');
    expect(job.events.filter((e) => e.type === 'job.overdue').map((e) => e.data.status)).toEqual(['QUEUED']);
  }, 150_000);

  it('dead-letters a malformed message and shows the job FAILED with the reason', async () => {
    // A job waiting in QUEUED, and a malformed request for it (an unknown field): the planner
    // must not crash, must record why on every attempt, and after the configured attempts the
    // message dead-letters and the job shows FAILED (dead_lettered) until an operator replays it.
    const jobId = await storeQueuedJob('poison');
    const pubsub = new PubSub({ projectId: stack.info.projectId });
    await pubsub
      .topic('aiprod.job.requested.v1')
      .publishMessage({ json: { v: 1, jobId, tenantId: stack.info.tenantId, priority: 'high' } });
    await pubsub.close();
    const job = await waitFor(
      async () => {
        const j = await client.get(jobId);
        return j.status === 'FAILED' ? j : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'dead letter' },
    );
    const rejections = job.events.filter((e) => e.type === 'message.rejected');
    expect(rejections.length).toBeGreaterThanOrEqual(1);
    expect(String(rejections[0]!.data.problem)).toMatch(/priority is not an allowed field/);
    expect(job.error).toMatchObject({ reason: 'dead_lettered' });
    expect(job.events.find((e) => e.type === 'job.failed')?.data.reason).toBe('dead_lettered');
  }, 90_000);

  it('sends one signed webhook per delivered job, however many assemble messages arrive; puts the logo on the end card', async () => {
    const received: { headers: IncomingMessage['headers']; body: string }[] = [];
    // A pure red logo, served by the same loopback server as the client's webhook endpoint.
    const logo = join(stateDir, 'logo.png');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=200x200', '-frames:v', '1', logo]);
    const receiver = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/logo.png') {
        res.writeHead(200, { 'content-type': 'image/png' }).end(readFileSync(logo));
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    const db = createFirestore(stack.info.projectId);
    const secret = generateWebhookSecret();
    await new WebhookStore(db).setEndpoint(stack.info.tenantId, `http://127.0.0.1:${port}/aiprod`, secret);
    try {
      const submitted = await client.submit({
        ...brief,
        brand: { ...(brief.brand as object), logoUrl: `http://127.0.0.1:${port}/logo.png` },
        keyMessage: 'Voiced',
        voiceOver: true,
      });
      const job = await client.waitForTerminal(submitted.id, { timeoutMs: 120_000 });
      expect(job.status).toBe('DELIVERED');
      expect(job.events.map((e) => e.type)).toContain('logo.applied');
      // The end card (the last two seconds) shows the logo: count clearly red pixels in a frame of it.
      const final = join(stateDir, 'voiced.mp4');
      await httpsDownload(job.outputs[0]!.url, final, client.caCert);
      const rgb = execFileSync(
        'ffmpeg',
        ['-v', 'error', '-ss', '14.5', '-i', final, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
        {
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      let red = 0;
      for (let i = 0; i + 2 < rgb.length; i += 3) if (rgb[i]! > 200 && rgb[i + 1]! < 70 && rgb[i + 2]! < 70) red += 1;
      expect(red).toBeGreaterThan(2000);
      await waitFor(() => (received.length ? true : undefined), { timeoutMs: 10_000, what: 'the webhook' });
      // Two more assemble requests for the delivered job: no second cut, no second webhook.
      const pubsub = new PubSub({ projectId: stack.info.projectId });
      for (let i = 0; i < 2; i += 1) {
        await pubsub
          .topic('aiprod.job.assemble.v1')
          .publishMessage({ json: { v: 1, jobId: job.id, tenantId: stack.info.tenantId } });
      }
      await pubsub.close();
      await new Promise((r) => setTimeout(r, 4000));
      const after = await client.get(job.id);
      expect(deliveredEvents(after)).toHaveLength(1);
      expect(after.outputs.map((o) => o.url.split('?')[0])).toEqual(job.outputs.map((o) => o.url.split('?')[0]));
      expect(received).toHaveLength(1);
      const hook = received[0]!;
      expect(hook.headers['webhook-id']).toBe(`msg_${job.id}_delivered`);
      expect(verifyWebhook({ headers: hook.headers as Record<string, string>, body: hook.body, secret })).toEqual({
        ok: true,
      });
      expect(JSON.parse(hook.body)).toMatchObject({
        type: 'job.delivered',
        data: { jobId: job.id, status: 'DELIVERED' },
      });
      expect(after.events.filter((e) => e.type === 'webhook.attempt').map((e) => e.data.outcome)).toEqual([
        'delivered',
      ]);
    } finally {
      await db.collection('tenants').doc(stack.info.tenantId).update({ webhook: FieldValue.delete() });
      await db.terminate();
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  }, 150_000);

  // Last: after a SIGKILL the emulator keeps offering messages to the dead worker's stream until
  // their ack deadline passes, which would slow whatever test came next.
  it('delivers exactly once when a render worker is killed mid-job and restarted', async () => {
    const submitted = await client.submit({ ...brief, keyMessage: 'Crash test' });
    await waitFor(async () => ((await client.get(submitted.id)).status === 'RENDERING' ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 20,
      what: 'RENDERING',
    });
    await stack.crash('render-local');
    await stack.restart('render-local');
    const job = await client.waitForTerminal(submitted.id, { timeoutMs: 120_000 });
    expect(job.status).toBe('DELIVERED');
    expect(deliveredEvents(job)).toHaveLength(1);
    expect(outputFiles(job)).toEqual(['final-16x9.mp4']);
  }, 150_000);
});
