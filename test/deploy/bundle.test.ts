import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PubSub } from '@google-cloud/pubsub';
import { freePort } from '@aiprod/emulators';
import { provisionCatalogue } from '@aiprod/pubsub';
import { requireEmulators, uniqueProjectId, waitFor } from '@aiprod/testing';
import { repoRoot } from './checks';

/**
 * The image's build steps outside Docker: scripts/bundle-service.sh puts each service in a folder,
 * the folder alone runs it (cwd the folder, no NODE_PATH, nothing else of the repository), /healthz
 * answers, and SIGTERM stops it with exit code 0. Needs the services built (`npm test` builds first).
 */
const run = promisify(execFile);
const emulators = requireEmulators();
const projectId = uniqueProjectId('bundle');
const out = mkdtempSync(join(tmpdir(), 'aiprod-bundle-'));
const SERVICES = ['gateway', 'planner', 'render', 'qa', 'delivery'] as const;

/** Symlinks under `dir` that point outside it: a bundle that needs them does not run alone. */
function linksOutside(dir: string): string[] {
  const root = realpathSync(dir);
  const found: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isSymbolicLink()) {
        const target = resolve(dirname(path), readlinkSync(path));
        if (relative(root, target).startsWith('..')) found.push(`${relative(root, path)} -> ${target}`);
      } else if (entry.isDirectory()) walk(path);
    }
  };
  walk(root);
  return found;
}

beforeAll(async () => {
  // Consumers open their subscriptions at start-up, as on Cloud Run where Terraform made them.
  const pubsub = new PubSub({ projectId });
  await provisionCatalogue(pubsub);
  await pubsub.close();
}, 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('each service bundled by scripts/bundle-service.sh', () => {
  it.each(SERVICES)(
    '%s runs from its folder alone: /healthz answers 200, SIGTERM exits 0',
    async (service) => {
      const folder = join(out, service);
      const started = Date.now();
      await run('bash', [join(repoRoot, 'scripts', 'bundle-service.sh'), service, folder], {
        cwd: tmpdir(),
        timeout: 120_000,
      });
      const bundledMs = Date.now() - started;
      expect(lstatSync(join(folder, 'dist', 'main.js')).isFile()).toBe(true);
      expect(linksOutside(folder)).toEqual([]);

      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        GCP_PROJECT: projectId,
        PUBSUB_EMULATOR_HOST: emulators.pubsub,
        FIRESTORE_EMULATOR_HOST: emulators.firestore,
        METADATA_SERVER_DETECTION: 'none',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        STORAGE_KIND: 'local',
        STORAGE_ROOT: join(out, `${service}-data`),
        PUBLIC_BASE_URL: 'https://127.0.0.1:1',
        STORAGE_SIGNING_KEY: 'ab'.repeat(32),
        ...(service === 'render' ? { RENDER_BACKEND: 'local' } : {}),
      };
      const child: ChildProcess = spawn(process.execPath, ['dist/main.js'], {
        cwd: folder,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        await waitFor(
          async () => {
            if (child.exitCode !== null) throw new Error(`${service} exited ${child.exitCode}: ${stderr}`);
            const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
            return res.status === 200 ? true : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: `${service} /healthz` },
        );
        const stopAt = Date.now();
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), 10_000)));
        const code = await Promise.race([exited, late]);
        clearTimeout(timer);
        expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
        console.log(`${service}: bundled in ${bundledMs} ms, stopped in ${Date.now() - stopAt} ms`);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
    90_000,
  );
});

describe('the bundle checks bite', () => {
  it('a link out of the folder is found', () => {
    const folder = join(out, 'leaky');
    mkdirSync(join(folder, 'node_modules'), { recursive: true });
    symlinkSync(join(repoRoot, 'packages', 'contracts'), join(folder, 'node_modules', 'contracts'));
    symlinkSync('../inside', join(folder, 'node_modules', 'inside'));
    expect(linksOutside(folder)).toEqual([expect.stringMatching(/^node_modules\/contracts -> .*packages\/contracts$/)]);
  });

  it('the script refuses an unknown service and a folder that is not empty', async () => {
    await expect(
      run('bash', [join(repoRoot, 'scripts', 'bundle-service.sh'), 'billing', join(out, 'x')]),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("no service 'billing'"),
    });
    await expect(run('bash', [join(repoRoot, 'scripts', 'bundle-service.sh'), 'qa', out])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('is not empty'),
    });
  });
});
