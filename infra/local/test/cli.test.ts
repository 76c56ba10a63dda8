import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeDefectCorpus, type DefectClip } from '@aiprod/testing';
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

describe('aiprod qa', () => {
  let corpus: DefectClip[];
  const plan = (clip: DefectClip) => {
    const file = join(dir, `${clip.kind}-plan.json`);
    writeFileSync(file, JSON.stringify(clip.spec));
    return file;
  };
  beforeAll(async () => {
    corpus = await makeDefectCorpus(join(dir, 'corpus'));
  }, 60_000);

  it('exits 0 and prints the report for a clip that passes', () => {
    const good = corpus.find((c) => c.kind === 'good')!;
    const result = run('qa', good.file, '--plan', plan(good), '--expect-audio');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as {
      verdict: string;
      judge: string;
      checks: { name: string; verdict: string }[];
    };
    expect(report.verdict).toBe('pass');
    expect(report.judge).toBe('local-ocr');
    expect(report.checks.find((c) => c.name === 'on_screen_text')?.verdict).toBe('pass');
  }, 60_000);

  it('exits 1 and names the failed check for a rejected clip', () => {
    const misspelt = corpus.find((c) => c.kind === 'misspelt_text')!;
    const result = run('qa', misspelt.file, '--plan', plan(misspelt));
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as { checks: { name: string; verdict: string }[] };
    expect(report.checks.find((c) => c.name === 'on_screen_text')?.verdict).toBe('fail');
  }, 60_000);

  it('exits 2 on a usage error', () => {
    const good = corpus.find((c) => c.kind === 'good')!;
    expect(run('qa', join(dir, 'nope.mp4')).status).toBe(2);
    expect(run('qa', good.file, '--preset', 'cinema').status).toBe(2);
    const badPlan = join(dir, 'bad-plan.json');
    writeFileSync(badPlan, '{"shotId": 3}');
    const result = run('qa', good.file, '--plan', badPlan);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/not a shot/);
  }, 60_000);
});
