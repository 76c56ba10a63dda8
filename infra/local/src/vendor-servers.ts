import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stopProcessGroup } from '@aiprod/emulators';
import type { StackOptions, VendorBackend } from './stack';

/**
 * The vendors' protocol test servers (`@aiprod/testing`'s Runway, Veo and Replicate servers) as
 * one detached process beside a local stack, so its render pools can run without paid accounts
 * and anyone can read what each "vendor" received.
 */

export const VENDOR_SERVER_BACKENDS: readonly VendorBackend[] = ['runway', 'veo', 'replicate'];
/** Starting three node:http servers takes well under a second; this bounds a wedged start. */
const START_TIMEOUT_MS = 30_000;
/** The process closes its servers on SIGTERM and exits itself after 5 s at most. */
const STOP_GRACE_MS = 7_000;

/** What the serve process writes (mode 0600): the servers' URLs and this run's credentials. */
export interface VendorTestServersInfo {
  pid: number;
  runway: { url: string; apiKey: string };
  replicate: { url: string; baseUrl: string; apiToken: string };
  veo: { url: string; accessToken: string };
  receivedPath: string;
}

/** What stack.json records: enough to stop the process and read the servers, no credentials. */
export interface VendorTestServersRecord {
  pid: number;
  /** The file with the credentials; removed when the servers stop. */
  file: string;
  urls: Record<VendorBackend, string>;
  receivedPath: string;
}

/** The shape of one entry of a server's `GET /__received` (see `VendorReceived` in @aiprod/testing). */
export interface VendorReceived {
  seq: number;
  receivedAt: string;
  method: string;
  path: string;
  body: unknown;
  status?: number;
  taskId?: string;
  refusal?: unknown;
  ignored?: string[];
}

/**
 * Starts the servers as a detached process group (so `stack:down` stops it by pid like the
 * services) and waits for the file it writes once all three listen.
 */
export async function startVendorTestServers(options: {
  repoRoot: string;
  stateDir: string;
  logsDir: string;
}): Promise<{ record: VendorTestServersRecord; info: VendorTestServersInfo }> {
  const entry = join(options.repoRoot, 'packages', 'testing', 'dist', 'vendors', 'serve.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run "pnpm build" first`);
  const file = join(options.stateDir, 'vendor-test-servers.json');
  // A file left by a process killed without its clean-up would otherwise be read as this one's.
  rmSync(file, { force: true });
  const logFile = join(options.logsDir, 'vendor-test-servers.log');
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [entry, '--out', file], {
    detached: true,
    stdio: ['ignore', log, log],
    // Only what ffmpeg and node need: the servers have no business with the caller's secrets.
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    cwd: options.repoRoot,
  });
  closeSync(log);
  child.unref();
  const pid = child.pid!;
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && exited === null && !existsSync(file)) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(file)) {
    await stopProcessGroup(pid, STOP_GRACE_MS);
    throw new Error(
      exited === null
        ? `the vendor test servers did not start within ${START_TIMEOUT_MS} ms; see ${logFile}`
        : `the vendor test servers exited during start-up (${String(exited)}); see ${logFile}`,
    );
  }
  const info = JSON.parse(readFileSync(file, 'utf8')) as VendorTestServersInfo;
  return {
    info,
    record: {
      pid,
      file,
      urls: { runway: info.runway.url, veo: info.veo.url, replicate: info.replicate.url },
      receivedPath: info.receivedPath,
    },
  };
}

export async function stopVendorTestServers(record: VendorTestServersRecord): Promise<void> {
  await stopProcessGroup(record.pid, STOP_GRACE_MS);
  rmSync(record.file, { force: true });
}

/** Polls every second: a clip shows its progress and is fetched soon after it is done. */
const WATCHABLE_POLL_MS = '1000';

/**
 * Each render pool's environment pointed at its test server. With these as the stack's
 * `vendorPools`, LocalStack also adds the three backends to ENABLED_BACKENDS of the planner, the
 * gateway and every pool, so plans route to them and the fallback chain hands shots between them.
 */
export function vendorPoolsFor(info: VendorTestServersInfo): NonNullable<StackOptions['vendorPools']> {
  return {
    runway: {
      RUNWAY_API_KEY: info.runway.apiKey,
      RUNWAY_BASE_URL: info.runway.url,
      RUNWAY_POLL_INTERVAL_MS: WATCHABLE_POLL_MS,
    },
    veo: {
      VERTEX_BASE_URL: info.veo.url,
      VERTEX_ACCESS_TOKEN: info.veo.accessToken,
      VEO_POLL_INTERVAL_MS: WATCHABLE_POLL_MS,
    },
    replicate: {
      REPLICATE_API_TOKEN: info.replicate.apiToken,
      REPLICATE_BASE_URL: info.replicate.baseUrl,
      REPLICATE_POLL_INTERVAL_MS: WATCHABLE_POLL_MS,
    },
  };
}

/** What one server received (its `GET /__received`). */
export async function readReceived(record: VendorTestServersRecord, vendor: VendorBackend): Promise<VendorReceived[]> {
  const url = `${record.urls[vendor]}${record.receivedPath}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${vendor} test server answered ${res.status} at ${url}`);
  return ((await res.json()) as { received: VendorReceived[] }).received;
}

/** Empties one server's record (its `DELETE /__received`). */
export async function clearReceived(record: VendorTestServersRecord, vendor: VendorBackend): Promise<void> {
  const url = `${record.urls[vendor]}${record.receivedPath}`;
  const res = await fetch(url, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${vendor} test server answered ${res.status} at ${url}`);
}

/** The lines `stack:up` prints about the servers. */
export function describeVendorTestServers(record: VendorTestServersRecord): string[] {
  return [
    ...VENDOR_SERVER_BACKENDS.map((v) => `vendor test server ${v}: ${record.urls[v]}`),
    'what they received: pnpm aiprod stack vendors received [runway|veo|replicate] [--json]',
    `  (or curl ${record.urls.runway}${record.receivedPath}; DELETE clears it)`,
  ];
}

/** One line per received request, for people. */
export function receivedText(vendor: VendorBackend, entries: VendorReceived[]): string {
  if (!entries.length) return `${vendor}: nothing received yet`;
  return [
    `${vendor}: ${entries.length} create request(s)`,
    ...entries.map((e) => {
      const body = (e.body ?? {}) as Record<string, unknown>;
      // Runway names the model in the body; Replicate and Veo in the path.
      const model =
        typeof body.model === 'string'
          ? body.model
          : /\/models\/(.+?)(?::predictLongRunning|\/predictions)$/.exec(e.path)?.[1];
      const answer =
        e.status === undefined ? 'no answer' : e.refusal !== undefined ? `refused ${e.status}` : String(e.status);
      return [
        `  #${e.seq} ${e.receivedAt} ${e.method} ${e.path}${model ? ` model=${model}` : ''} → ${answer}${e.taskId ? ` ${e.taskId}` : ''}`,
        `    ${JSON.stringify(e.body)}`,
        ...(e.ignored?.length ? [`    ignored: ${e.ignored.join(', ')}`] : []),
      ].join('\n');
    }),
  ].join('\n');
}
