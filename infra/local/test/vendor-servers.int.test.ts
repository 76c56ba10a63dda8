import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requireEmulators, uniqueProjectId, waitFor } from '@aiprod/testing';
import {
  GatewayClient,
  isAlive,
  readReceived,
  stackUp,
  startVendorTestServers,
  stopVendorTestServers,
  type LocalStack,
  type StackInfo,
  type VendorBackend,
  type VendorTestServersInfo,
  type VendorTestServersRecord,
} from '../src';

/**
 * `stack:up --vendor-test-servers`: the servers' process as stack:up starts it (the built entry,
 * detached), its credentials file, the record read back over HTTP and through the CLI, and a
 * whole stack whose planner routes a brief to a vendor pool that reaches its test server.
 */
const repoRoot = resolve(__dirname, '..', '..', '..');
const cli = resolve(__dirname, '..', 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'aiprod-vendor-servers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI with its state directory (and so its stack.json) in `stateDir`. */
const run = (stateDir: string, ...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, AIPROD_STATE_DIR: stateDir },
  });

const runwayCreate = (info: VendorTestServersInfo, apiKey: string) =>
  fetch(`${info.runway.url}/v1/text_to_video`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'x-runway-version': '2024-11-06',
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      model: 'gen4.5',
      promptText: 'A trail shoe on wet rock, slow dolly in',
      ratio: '1280:720',
      duration: 5,
    }),
    signal: AbortSignal.timeout(10_000),
  });

describe('the vendor test servers process', () => {
  const stateDir = join(dir, 'servers');
  let servers: { record: VendorTestServersRecord; info: VendorTestServersInfo };
  beforeAll(async () => {
    servers = await startVendorTestServers({ repoRoot, stateDir, logsDir: dir });
  }, 40_000);
  afterAll(async () => {
    if (servers) await stopVendorTestServers(servers.record);
  });

  it('writes the URLs and credentials of this run to a file only its owner can read', () => {
    const { record, info } = servers;
    expect(statSync(record.file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(record.file, 'utf8'))).toEqual(info);
    expect(info.pid).toBe(record.pid);
    for (const url of [info.runway.url, info.replicate.url, info.veo.url])
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Generated, not a default that would be the same for everyone.
    expect(info.runway.apiKey).toMatch(/^key_local_[0-9a-f]{48}$/);
    expect(info.replicate.apiToken).toMatch(/^r8_local_[0-9a-f]{48}$/);
    expect(new Set([info.runway.apiKey, info.replicate.apiToken, info.veo.accessToken]).size).toBe(3);
  });

  it('records a Runway create and gives it back at /__received; a wrong key is refused', async () => {
    const { record, info } = servers;
    const refused = await runwayCreate(info, 'key_local_not-the-one-written-to-the-file');
    expect(refused.status).toBe(401);
    const created = await runwayCreate(info, info.runway.apiKey);
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };

    const raw = (await (await fetch(`${info.runway.url}/__received`)).json()) as { received: unknown[] };
    const received = await readReceived(record, 'runway');
    expect(raw.received).toEqual(received);
    const accepted = received.filter((r) => r.status === 200);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({
      method: 'POST',
      path: '/v1/text_to_video',
      taskId: id,
      body: { model: 'gen4.5', promptText: 'A trail shoe on wet rock, slow dolly in', duration: 5 },
    });
    expect(await readReceived(record, 'veo')).toEqual([]);
  });

  it('`aiprod stack vendors received` prints the record from the URLs in stack.json, and --clear empties it', () => {
    const info = { projectId: 'p', services: {}, vendorTestServers: servers.record } as unknown as StackInfo;
    writeFileSync(join(stateDir, 'stack.json'), JSON.stringify(info), { mode: 0o600 });

    const json = run(stateDir, 'stack', 'vendors', 'received', 'runway', '--json');
    expect(json.stderr).toBe('');
    expect(json.status).toBe(0);
    const doc = JSON.parse(json.stdout) as {
      received: Partial<Record<VendorBackend, { path: string; status: number }[]>>;
    };
    expect(Object.keys(doc.received)).toEqual(['runway']);
    expect(doc.received.runway!.map((r) => [r.path, r.status])).toEqual([
      ['/v1/text_to_video', 401],
      ['/v1/text_to_video', 200],
    ]);

    const text = run(stateDir, 'stack', 'vendors', 'received', '--clear');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^runway: 2 create request\(s\)$/m);
    expect(text.stdout).toMatch(/POST \/v1\/text_to_video model=gen4\.5 → 200 [0-9a-f-]{36}$/m);
    expect(text.stdout).toMatch(/^veo: nothing received yet$/m);
    expect(text.stdout).toMatch(/^replicate: nothing received yet$/m);

    const after = run(stateDir, 'stack', 'vendors', 'received', 'runway', '--json');
    expect(JSON.parse(after.stdout)).toEqual({ received: { runway: [] } });
    expect(run(stateDir, 'stack', 'vendors', 'received', 'midjourney').status).toBe(2);
  });

  it('says clearly that no test servers run when the stack was started without them, or no stack runs', () => {
    const plain = join(dir, 'plain');
    const without = run(plain, 'stack', 'vendors', 'received');
    expect(without.status).toBe(2);
    expect(without.stderr).toMatch(/no local platform is running/);

    rmSync(plain, { recursive: true, force: true });
    mkdirSync(plain, { recursive: true });
    writeFileSync(join(plain, 'stack.json'), JSON.stringify({ projectId: 'p', services: {} }));
    const noServers = run(plain, 'stack', 'vendors', 'received', 'veo');
    expect(noServers.status).toBe(2);
    expect(noServers.stderr).toMatch(
      /no vendor test servers run in this stack: it was started without --vendor-test-servers/,
    );
  });

  it('stops by pid and removes its credentials file', async () => {
    const { record } = servers;
    await stopVendorTestServers(record);
    expect(isAlive(record.pid)).toBe(false);
    expect(existsSync(record.file)).toBe(false);
  });
});

describe('stack:up --vendor-test-servers (a whole stack on the shared emulators)', () => {
  const emulators = requireEmulators();
  const stateDir = join(dir, 'stack');
  let stack: LocalStack | undefined;
  afterAll(async () => {
    await stack?.stop();
  }, 30_000);

  it('runs the three vendor pools on the test servers, and the planner routes a brief to one of them', async () => {
    stack = await stackUp({
      repoRoot,
      stateDir,
      projectId: uniqueProjectId('stack-vendors'),
      emulators,
      vendorTestServers: true,
      // The test servers' clips are test patterns, without the planned on-screen text.
      serviceEnv: { qa: { QA_JUDGE: 'none' } },
    });
    const record = stack.info.vendorTestServers!;
    expect(Object.keys(stack.info.services).sort()).toEqual(
      [
        'delivery',
        'gateway',
        'planner',
        'qa',
        'render-local',
        'render-replicate',
        'render-runway',
        'render-veo',
      ].sort(),
    );
    // What every planner and pool was told it may plan for and hand shots to.
    const environ = readFileSync(`/proc/${stack.info.services.planner!.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain('ENABLED_BACKENDS=local,runway,veo,replicate');

    const client = new GatewayClient(stack.info);
    const brief = JSON.parse(readFileSync(join(repoRoot, 'examples', 'briefs', 'aurora-15s.json'), 'utf8')) as object;
    const { id } = await client.submit(brief);
    const planned = await waitFor(
      async () => {
        const job = await client.get(id);
        return ['AWAITING_APPROVAL', 'RENDERING', 'FAILED'].includes(job.status) ? job : undefined;
      },
      { timeoutMs: 30_000, what: `job ${id} planned` },
    );
    expect(planned.status).not.toBe('FAILED');
    if (planned.status === 'AWAITING_APPROVAL') await client.approve(id);
    const reached = await waitFor(
      async () => {
        for (const vendor of ['runway', 'veo', 'replicate'] as const) {
          const accepted = (await readReceived(record, vendor)).filter((r) => r.status !== undefined && r.status < 300);
          if (accepted.length) return { vendor, accepted };
        }
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'a vendor pool reaching its test server' },
    );
    expect(reached.accepted.length).toBeGreaterThan(0);

    const pid = record.pid;
    await stack.stop();
    stack = undefined;
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(record.file)).toBe(false);
  }, 150_000);
});
