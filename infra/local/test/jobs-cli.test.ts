import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * `aiprod jobs …` called wrongly: exit 2 with a problem document on stderr and nothing on stdout,
 * before any request (no platform runs here: a request would fail with exit 1 instead).
 */
const cli = resolve(__dirname, '..', 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'aiprod-jobs-cli-'));
const notJson = join(dir, 'brief.txt');
writeFileSync(notJson, 'a 15 s spot, please');
// A stack file naming a gateway nobody listens on: argument errors must be found before it is used.
writeFileSync(
  join(dir, 'stack.json'),
  JSON.stringify({ gatewayUrl: 'https://127.0.0.1:9', apiKey: 'aiprod_dev_x', caCertPath: join(dir, 'none.pem') }),
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => {
  const env: NodeJS.ProcessEnv = { ...process.env, AIPROD_STATE_DIR: dir };
  for (const k of ['AIPROD_GATEWAY_URL', 'AIPROD_API_KEY', 'AIPROD_CA_CERT']) delete env[k];
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000, env });
};

it.each([
  [['jobs', 'submit'], /missing required argument 'brief'/],
  [['jobs', 'submit', join(dir, 'nope.json')], /cannot read the brief/],
  [['jobs', 'submit', notJson, '--watch'], /is not JSON/],
  [['jobs', 'estimate', notJson], /is not JSON/],
  [['jobs', 'watch', '../etc/passwd'], /is not a job id/],
  [['jobs', 'plan', 'job x'], /is not a job id/],
  [['jobs', 'approve', 'job_1'], /required option '--version <n>' not specified/],
  [['jobs', 'approve', 'job_1', '--version', '0'], /--version must be a plan version/],
  [['jobs', 'approve', 'job_1', '--version', 'latest'], /--version must be a plan version/],
  [['jobs', 'cancel'], /missing required argument 'id'/],
  [['jobs', 'download', 'job_1', '--colour'], /unknown option '--colour'/],
  [['jobs', 'open', '-x'], /unknown option/],
  [['jobs', 'teleport', 'job_1'], /unknown command/],
])('%j exits 2 with a problem document', (args, detail) => {
  const result = run(...args);
  expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 2, stdout: '' });
  const problem = JSON.parse(result.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
  expect(problem).toMatchObject({ type: '/problems/validation', exitCode: 2, detail: expect.stringMatching(detail) });
});

it('says how to start a platform when there is none (exit 2)', () => {
  const empty = mkdtempSync(join(tmpdir(), 'aiprod-jobs-nostack-'));
  const env: NodeJS.ProcessEnv = { ...process.env, AIPROD_STATE_DIR: empty };
  for (const k of ['AIPROD_GATEWAY_URL', 'AIPROD_API_KEY', 'AIPROD_CA_CERT']) delete env[k];
  const result = spawnSync(process.execPath, [cli, 'jobs', 'watch', 'job_1'], { encoding: 'utf8', env });
  rmSync(empty, { recursive: true, force: true });
  expect(result.status).toBe(2);
  expect(JSON.parse(result.stderr)).toMatchObject({ detail: expect.stringMatching(/pnpm stack:up/) });
});
