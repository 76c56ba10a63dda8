import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { openApiFileText } from '../src/openapi/export';

const run = promisify(execFile);
const repo = resolve(__dirname, '..', '..', '..');
const bin = (name: string) => join(repo, 'node_modules', '.bin', name);
const work = mkdtempSync(join(tmpdir(), 'openapi-export-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// No telemetry or update checks: the linter must work offline and report nothing about us.
const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };

it("passes Redocly's recommended rules with no error and no warning", async () => {
  const file = join(work, 'openapi.json');
  writeFileSync(file, openApiFileText());
  // cwd: an empty directory, so no redocly.yaml of ours can relax the recommended rules.
  const out = await run(bin('redocly'), ['lint', '--extends', 'recommended', '--format', 'json', file], {
    cwd: work,
    env,
  }).catch((e: { stdout: string; stderr: string }) => e);
  const report = JSON.parse(out.stdout) as { totals: { errors: number; warnings: number }; problems: unknown[] };
  expect(report.problems).toEqual([]);
  expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
}, 60_000);

describe('the SDK is generated from the current document', () => {
  const client = join(repo, 'packages', 'client');

  it('packages/client/openapi.json is the document the gateway builds (run pnpm openapi:export)', () => {
    expect(readFileSync(join(client, 'openapi.json'), 'utf8')).toBe(openApiFileText());
  });

  it('packages/client/src/schema.ts is what openapi-typescript makes of it (run pnpm openapi:export)', async () => {
    const file = join(work, 'openapi.json');
    writeFileSync(file, openApiFileText());
    await run(bin('openapi-typescript'), [file, '--output', join(work, 'schema.ts')], { cwd: work, env });
    expect(readFileSync(join(client, 'src', 'schema.ts'), 'utf8')).toBe(readFileSync(join(work, 'schema.ts'), 'utf8'));
  }, 60_000);
});
