import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateWebhookSecret, signWebhook } from '@aiprod/webhooks';

/** The built CLI, run as a user would (`npm test` builds before jest runs). */
const cli = resolve(__dirname, '..', 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
const dir = mkdtempSync(join(tmpdir(), 'aiprod-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aiprod verify-webhook', () => {
  const secret = generateWebhookSecret();
  const body = JSON.stringify({ type: 'job.delivered', data: { jobId: 'job_1' } });
  const file = join(dir, 'body.json');
  writeFileSync(file, body);
  const headers = signWebhook({
    id: 'msg_job_1_delivered',
    timestamp: Math.floor(Date.now() / 1000),
    body,
    secrets: [secret],
  });
  const headerArgs = Object.entries(headers).flatMap(([k, v]) => ['--header', `${k}: ${v}`]);

  it('exits 0 for a genuine delivery', () => {
    const result = run('verify-webhook', '--secret', secret, '--body', file, ...headerArgs);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true });
  });

  it('exits 1 with the reason for a forged one', () => {
    const result = run('verify-webhook', '--secret', generateWebhookSecret(), '--body', file, ...headerArgs);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('exits 2 on a usage error', () => {
    expect(run('verify-webhook', '--body', file).status).toBe(2);
    expect(run('verify-webhook', '--secret', secret, '--body', join(dir, 'missing.json')).status).toBe(2);
    expect(run('no-such-command').status).toBe(2);
  });
});
