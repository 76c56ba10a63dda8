import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalStack, stopStack, type StackInfo } from '../src';

const repoRoot = resolve(__dirname, '..', '..', '..');
// The suite's shared emulators, read before a test's own stack points process.env at its own.
const sharedEmulators = { pubsub: process.env.PUBSUB_EMULATOR_HOST!, firestore: process.env.FIRESTORE_EMULATOR_HOST! };

/** Process ids still alive in any of the given process groups (emulators fork java children). */
function survivorsIn(groups: number[]): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,pgid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  return rows.filter(([, pgid]) => groups.includes(pgid)).map(([pid]) => pid);
}

describe('the local platform supervisor', () => {
  it('starts its own emulators and services, records them, and stops them all, java included', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-stack-'));
    const stack = await LocalStack.start({ repoRoot, stateDir, projectId: 'aiprod-stack-test' });
    const file = join(stateDir, 'stack.json');
    stack.writeInfo(file);
    const info = JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
    expect(info.apiKey).toMatch(/^aiprod_local_[0-9A-Za-z]{38}$/);
    expect(info.gatewayUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(info.caCertPath)).toBe(true);
    const groups = [
      ...Object.values(info.services).map((s) => s!.pid),
      info.emulators.pubsub!,
      info.emulators.firestore!,
    ];
    expect(groups.every((pid) => Number.isInteger(pid) && pid > 0)).toBe(true);
    expect(survivorsIn(groups).length).toBeGreaterThanOrEqual(groups.length);

    await stopStack(info);
    expect(survivorsIn(groups)).toEqual([]);
    rmSync(stateDir, { recursive: true, force: true });
  }, 90_000);

  it('stops the services it already started when one of them fails to start', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-stack-'));
    const projectId = `aiprod-stack-fail-${randomBytes(3).toString('hex')}`;
    // The gateway refuses its environment and exits; the other services were spawned before it.
    await expect(
      LocalStack.start({
        repoRoot,
        stateDir,
        projectId,
        emulators: sharedEmulators,
        serviceEnv: { gateway: { RATE_LIMIT_REQUESTS_PER_MINUTE: 'not-a-number' } },
      }),
    ).rejects.toThrow(/gateway exited during start-up/);
    expect(servicesOf(projectId)).toEqual([]);
    rmSync(stateDir, { recursive: true, force: true });
  }, 90_000);
});

/** Live processes started with GCP_PROJECT=projectId (this stack's services), from /proc. */
function servicesOf(projectId: string): number[] {
  const pids = execFileSync('ps', ['-eo', 'pid='], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  return pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`GCP_PROJECT=${projectId}`);
    } catch {
      return false; // gone, or not ours to read
    }
  });
}
