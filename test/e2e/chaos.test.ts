import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requireEmulators } from '@aiprod/testing';
import { runChaos, shortBudget, type ChaosResult } from '../../chaos/harness';

/**
 * The short chaos run of `npm test` (the on-demand one is `pnpm chaos`, see chaos/README.md): five
 * jobs on the local pool and the three vendor pools, a SIGKILL and a SIGTERM of a service, two
 * duplicate render deliveries and six vendor faults, then the same Jepsen-style checks.
 */
const repoRoot = resolve(__dirname, '..', '..');
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-e2e-chaos-'));
let result: ChaosResult;

beforeAll(async () => {
  if (!existsSync(join(repoRoot, 'services', 'render', 'dist', 'main.js')))
    throw new Error('services/render is not built: run "npm test"');
  result = await runChaos({
    repoRoot,
    jobs: 5,
    seed: 7,
    emulators: requireEmulators(),
    stateDir,
    faults: shortBudget(),
    terminalTimeoutMs: 150_000,
    stateDeadlineSeconds: { QUEUED: 30, PLANNING: 45, RENDERING: 60, ASSEMBLING: 60 },
    log: (line) => console.log(`chaos ${line}`),
  });
  console.log(result.summary);
}, 290_000);
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

describe('chaos (short): jobs under process kills, duplicate deliveries and vendor faults', () => {
  it('injected every kind of fault it planned', () => {
    const kinds = new Set(result.faults.filter((f) => !f.error).map((f) => f.kind));
    expect([...kinds].sort()).toEqual(['dup', 'kill', 'term', 'vendor']);
  });

  it('loses no job, finishes none twice and leaves none running', () => {
    const { lost, duplicateFinals, notTerminal } = result.checks;
    const odd = result.jobs.filter(
      (j) => j.lost || j.terminalEvents.length > 1 || j.webhookIds.length > 1 || j.duplicateOutputs,
    );
    expect({ lost, duplicateFinals, notTerminal, odd }).toEqual({
      lost: 0,
      duplicateFinals: 0,
      notTerminal: 0,
      odd: [],
    });
  });

  it('makes no vendor create that no try records (a create cut off by a kill is its try, booked unconfirmed)', () => {
    expect(result.checks.createsOverTries).toBe(0);
    expect(result.unrecordedTasks.length).toBeLessThanOrEqual(result.checks.unconfirmedTries);
  });

  it.each(['runway', 'veo', 'replicate'] as const)('records in the ledger exactly what %s bills', (vendor) => {
    const check = result.checks.billing[vendor];
    expect(check.mispriced).toEqual([]);
    // A billed task with no line of its own can only be one whose create a kill cut off: its try
    // is booked (unconfirmed, at the expected price) without the task id it never learnt.
    const cutOff = result.unrecordedTasks.filter((t) => t.vendor === vendor).map((t) => t.taskId);
    expect(check.unledgered.filter((t) => !cutOff.includes(t.taskId))).toEqual([]);
    expect(check.ledgerUsd).toBeCloseTo(check.billedUsd, 6);
  });
});
