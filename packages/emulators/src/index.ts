import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** `gcloud info` only reads local configuration; a hung gcloud must not hang the test run. */
const GCLOUD_INFO_TIMEOUT_MS = 30_000;
/** An emulator answers `Ok` in about 2 s here (Java start-up); a loaded CI machine takes longer. */
const EMULATOR_READY_TIMEOUT_MS = 60_000;
/** Emptying one test project's Firestore documents. */
const CLEAR_FIRESTORE_TIMEOUT_MS = 10_000;

export interface EmulatorHandle {
  kind: 'pubsub' | 'firestore';
  host: string; // 127.0.0.1:PORT
  pid: number;
  stop(): Promise<void>;
}

/** A free loopback port, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

let sdkRootCache: string | undefined;
/** Where the Google Cloud CLI keeps its components (the emulators ship there). */
export function sdkRoot(): string {
  if (process.env.CLOUDSDK_ROOT_DIR) return process.env.CLOUDSDK_ROOT_DIR;
  sdkRootCache ??= execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
    encoding: 'utf8',
    timeout: GCLOUD_INFO_TIMEOUT_MS,
  }).trim();
  return sdkRootCache;
}

async function waitReady(host: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`emulator on ${host} exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`emulator on ${host} was not ready within ${timeoutMs} ms`);
}

/** Ends a process group we started: SIGTERM, then SIGKILL if it has not gone within the grace. */
export async function stopProcessGroup(pid: number, graceMs = 5000): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface StartOptions {
  port?: number;
  /** Directory for the emulator's log (its stack traces are noisy; they never go to our stdout). */
  logDir: string;
  timeoutMs?: number;
}

async function launch(
  kind: 'pubsub' | 'firestore',
  command: string,
  args: string[],
  port: number,
  opts: StartOptions,
): Promise<EmulatorHandle> {
  mkdirSync(opts.logDir, { recursive: true });
  const log = openSync(join(opts.logDir, `${kind}-emulator.log`), 'a');
  // Its own process group, so that stopping it also ends any JVM child.
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, JAVA_TOOL_OPTIONS: '-Xss2m -Duser.language=en' },
  });
  closeSync(log);
  // Never keep this process alive just for the emulator; whoever started it stops it by pid.
  child.unref();
  const host = `127.0.0.1:${port}`;
  const pid = child.pid!;
  try {
    await waitReady(host, child, opts.timeoutMs ?? EMULATOR_READY_TIMEOUT_MS);
  } catch (e) {
    await stopProcessGroup(pid, 1000);
    throw e;
  }
  return { kind, host, pid, stop: () => stopProcessGroup(pid) };
}

export async function startPubsubEmulator(opts: StartOptions): Promise<EmulatorHandle> {
  const port = opts.port ?? (await freePort());
  const bin = join(sdkRoot(), 'platform', 'pubsub-emulator', 'bin', 'cloud-pubsub-emulator');
  return launch('pubsub', bin, [`--host=127.0.0.1`, `--port=${port}`], port, opts);
}

export async function startFirestoreEmulator(opts: StartOptions): Promise<EmulatorHandle> {
  const port = opts.port ?? (await freePort());
  const jar = join(sdkRoot(), 'platform', 'cloud-firestore-emulator', 'cloud-firestore-emulator.jar');
  return launch(
    'firestore',
    'java',
    [
      '-Duser.language=en',
      '-cp',
      jar,
      'com.google.cloud.datastore.emulator.firestore.CloudFirestore',
      'start',
      '--host=127.0.0.1',
      `--port=${port}`,
    ],
    port,
    opts,
  );
}

/** Empties one project's Firestore data in the emulator. */
export async function clearFirestore(host: string, projectId: string): Promise<void> {
  const res = await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, {
    method: 'DELETE',
    signal: AbortSignal.timeout(CLEAR_FIRESTORE_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`clearing Firestore failed: ${res.status}`);
}
