import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalStack } from '../../infra/local/src';
import { repoRoot, startTestStack } from './e2e-stack';

/**
 * A client's job commands against the whole local platform, run as a person runs them:
 * `aiprod jobs …` finding the gateway, its key and its CA through .aiprod/stack.json only.
 */
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-e2e-cli-jobs-'));
const briefFile = join(repoRoot, 'examples', 'briefs', 'aurora-15s.json');
let stack: LocalStack;

beforeAll(async () => {
  stack = await startTestStack('e2e-cli-jobs', stateDir);
  stack.writeInfo(join(stateDir, 'stack.json'));
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

function aiprod(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, AIPROD_STATE_DIR: stateDir };
  for (const k of ['AIPROD_GATEWAY_URL', 'AIPROD_API_KEY', 'AIPROD_CA_CERT', 'NODE_EXTRA_CA_CERTS']) delete env[k];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'infra', 'local', 'dist', 'cli.js'), ...args], {
      env,
      cwd: stateDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(killer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

it('submit --watch shows live progress line by line (not a terminal) and ends with the files’ paths', async () => {
  const dir = join(stateDir, 'files');
  const run = await aiprod('jobs', 'submit', briefFile, '--watch', '--dir', dir);
  expect([run.status, run.stderr]).toEqual([0, '']);
  const lines = run.stdout.trimEnd().split('\n');
  const jobId = /^submitted (\S+)$/.exec(lines[0]!)![1]!;
  const progress = lines.filter((l) => l.startsWith('['));
  // Live: several updates, through the stages, the shots counted, ending complete.
  expect(progress.length).toBeGreaterThanOrEqual(3);
  expect(progress.some((l) => /RENDERING\s+shots \d+\/\d+/.test(l))).toBe(true);
  expect(progress.at(-1)).toMatch(/^\[#{24}\] DELIVERED\s+shots (\d+)\/\1 {2}\$0\.00$/);
  expect(progress.every((l) => !l.includes('\r'))).toBe(true);
  const filesAt = lines.findIndex((l) => l.startsWith(`${jobId} DELIVERED`));
  const paths = lines.slice(filesAt + 1);
  expect(paths.length).toBeGreaterThanOrEqual(3); // the cut, the poster, the contact sheet
  expect(paths.every((p) => p.startsWith(dir))).toBe(true);
  const job = JSON.parse((await aiprod('jobs', 'watch', jobId, '--json')).stdout) as {
    status: string;
    outputs: { variant: string; sizeBytes: number; sha256: string }[];
  };
  expect(job.status).toBe('DELIVERED');
  for (const output of job.outputs) {
    const file = paths.find((p) => p.endsWith(`${jobId}-${output.variant.replace(':', 'x')}.mp4`))!;
    expect(statSync(file).size).toBe(output.sizeBytes);
    expect(sha256(file)).toBe(output.sha256);
  }
  // The sample brief speaks: its captions beside the cut, and the voice alone.
  const names = paths.map((p) => p.slice(p.lastIndexOf('/') + 1));
  expect(names).toEqual(expect.arrayContaining([`${jobId}-16x9.vtt`, `${jobId}-16x9.srt`, `${jobId}-voice-en.wav`]));

  // download: the same files again, each verified; cancel of a delivered job: the API's 409.
  const again = await aiprod('jobs', 'download', jobId, '--dir', join(stateDir, 'again'), '--json');
  expect(again.status).toBe(0);
  const files = (JSON.parse(again.stdout) as { files: { path: string; sizeBytes: number }[] }).files;
  expect(files.map((f) => statSync(f.path).size)).toEqual(files.map((f) => f.sizeBytes));
  expect(files).toHaveLength(paths.length);
  // The storyboard, the review link, and an approval of a job that is not waiting: the API's 409
  // (after reading the plan's ETag and sending it as If-Match).
  const plan = await aiprod('jobs', 'plan', jobId, '--json');
  expect(plan.status).toBe(0);
  expect(JSON.parse(plan.stdout)).toMatchObject({ jobId, version: 1, etag: '"1"' });
  expect((await aiprod('jobs', 'plan', jobId)).stdout).toMatch(new RegExp(`^plan version 1 of ${jobId}`));
  const open = await aiprod('jobs', 'open', jobId);
  expect(open.status).toBe(0);
  expect(open.stdout).toMatch(new RegExp(`^${stack.info.gatewayUrl}/review/${jobId}#`));
  const approve = await aiprod('jobs', 'approve', jobId, '--version', '1');
  expect(approve.status).toBe(1);
  expect(JSON.parse(approve.stderr)).toMatchObject({ type: '/problems/conflict', exitCode: 1 });
  const cancel = await aiprod('jobs', 'cancel', jobId);
  expect(cancel.status).toBe(1);
  expect(JSON.parse(cancel.stderr)).toMatchObject({ type: '/problems/conflict', status: 409, exitCode: 1 });
}, 300_000);

it('submit --watch --json prints the finished job, and only that, on stdout', async () => {
  const run = await aiprod('jobs', 'submit', briefFile, '--watch', '--json');
  expect(run.status).toBe(0);
  const job = JSON.parse(run.stdout) as { id: string; status: string; outputs: unknown[]; costUsd: number };
  expect(job).toMatchObject({ status: 'DELIVERED', costUsd: 0 });
  expect(job.outputs.length).toBeGreaterThan(0);
  // The progress went to stderr, beside the JSON.
  expect(run.stderr).toMatch(/DELIVERED/);
}, 300_000);

it('estimate prices the brief; an unknown job is the API’s 404 (exit 1)', async () => {
  const estimate = await aiprod('jobs', 'estimate', briefFile, '--json');
  expect(estimate.status).toBe(0);
  expect(JSON.parse(estimate.stdout)).toMatchObject({ currency: 'USD', totalUsd: 0 });
  const human = await aiprod('jobs', 'estimate', briefFile);
  expect(human.stdout).toMatch(/^estimate: \$0\.00/);
  const missing = await aiprod('jobs', 'watch', 'job_does_not_exist');
  expect(missing.status).toBe(1);
  expect(JSON.parse(missing.stderr)).toMatchObject({ type: '/problems/not-found', exitCode: 1 });
}, 60_000);
