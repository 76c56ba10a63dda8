import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulators } from '@aiprod/testing';
import { fullBudget, runChaos } from './harness';

/**
 * `pnpm chaos [--jobs 20] [--seed 1]`: the whole platform on its own emulators and the vendors'
 * test servers, N jobs under seeded faults, one summary line on stdout, the details in
 * chaos/results/. Exits non-zero when a check fails. Needs `pnpm run build` first.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      'timeout-minutes': { type: 'string', default: '15' },
      keep: { type: 'boolean', default: false },
    },
  });
  const jobs = Number(values.jobs);
  const seed = Number(values.seed);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 200) throw new Error('--jobs must be an integer from 1 to 200');
  if (!Number.isInteger(seed)) throw new Error('--seed must be an integer');
  const repoRoot = resolve(__dirname, '..');
  for (const s of ['gateway', 'planner', 'render', 'qa', 'delivery']) {
    if (!existsSync(join(repoRoot, 'services', s, 'dist', 'main.js')))
      throw new Error(`services/${s} is not built: run "pnpm run build" first`);
  }
  const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-chaos-'));
  log(`state and service logs in ${stateDir}`);
  const emulators = await startEmulators({ logDir: stateDir });
  let pass = false;
  try {
    const result = await runChaos({
      repoRoot,
      jobs,
      seed,
      emulators: emulators.hosts,
      stateDir,
      faults: fullBudget(jobs),
      terminalTimeoutMs: Number(values['timeout-minutes']) * 60_000,
      stateDeadlineSeconds: { QUEUED: 60, PLANNING: 90, RENDERING: 90, ASSEMBLING: 120 },
      log,
    });
    pass = result.pass;
    const dir = join(repoRoot, 'chaos', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-jobs${jobs}-seed${seed}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`details in ${file}`);
    process.stdout.write(`${result.summary}\n`);
  } finally {
    await emulators.stop();
    if (pass && !values.keep) rmSync(stateDir, { recursive: true, force: true });
    else log(`service logs kept in ${join(stateDir, 'logs')}`);
  }
  return pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `chaos failed to run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);
