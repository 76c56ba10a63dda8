import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { RECEIVED_PATH } from './common';
import { startReplicateServer, type ReplicatePredictionScript } from './replicate-server';
import { RUNWAY_MODELS, startRunwayServer, type RunwayTaskScript } from './runway-server';
import { startVeoServer, type VeoOperationPlan } from './veo-server';

/**
 * The Runway, Veo and Replicate protocol test servers as one process, for a local stack that
 * renders through the vendor pools without paying anyone (`pnpm stack:up --vendor-test-servers`):
 *
 *   node packages/testing/dist/vendors/serve.js --out <file>
 *
 * It writes the servers' URLs and freshly generated credentials to `<file>` (mode 0600) once all
 * three listen, and runs until SIGTERM or SIGINT, when it closes them and removes the file.
 */

/** Where the servers listen and the credentials they accept: what a render pool is given. */
export interface VendorTestServersInfo {
  pid: number;
  runway: { url: string; apiKey: string };
  /** `baseUrl` is what the Replicate client takes (`url` + `/v1`). */
  replicate: { url: string; baseUrl: string; apiToken: string };
  /** The Veo server takes any bearer token; the pool still needs one to send. */
  veo: { url: string; accessToken: string };
  /** GET on each server's `url` + this path reads what it received; DELETE clears it. */
  receivedPath: string;
}

export interface VendorTestServers {
  info: VendorTestServersInfo;
  close(): Promise<void>;
}

/**
 * Timings a person can watch: a clip takes a few seconds (about 1 s queued, 3 s generating), not
 * the minutes a real vendor takes nor the zero a unit test wants.
 */
export const WATCHABLE_RUNWAY_TASK: RunwayTaskScript = { pending: { ms: 1000 }, running: { ms: 3000 } };
export const WATCHABLE_REPLICATE_PREDICTION: ReplicatePredictionScript = {
  starting: { ms: 1000 },
  processing: { ms: 3000 },
};
/** The Veo server moves by polls, not by time: with the pool polling every second, about 4 s. */
export const WATCHABLE_VEO_PLAN: VeoOperationPlan = { pollsUntilDone: 3 };
/**
 * Tasks each Runway model may have live at once; more wait THROTTLED, as Runway queues work above
 * an organisation's tier. Two, so that a stack rendering a few shots at once shows it.
 */
export const WATCHABLE_RUNWAY_CONCURRENCY = 2;

/** Credentials made for this run only: a fixed test key would sooner or later be used elsewhere. */
const secret = (prefix: string) => `${prefix}${randomBytes(24).toString('hex')}`;

export async function startVendorTestServers(): Promise<VendorTestServers> {
  const apiKey = secret('key_local_');
  const apiToken = secret('r8_local_');
  const accessToken = secret('ya29.local-');
  const runwayModels = new Set(Object.values(RUNWAY_MODELS).flatMap((byModel) => Object.keys(byModel)));
  const [r, p, v] = await Promise.allSettled([
    startRunwayServer({
      apiKey,
      defaultTask: WATCHABLE_RUNWAY_TASK,
      concurrency: Object.fromEntries([...runwayModels].map((m) => [m, WATCHABLE_RUNWAY_CONCURRENCY])),
    }),
    startReplicateServer({ apiToken, defaultPrediction: WATCHABLE_REPLICATE_PREDICTION }),
    startVeoServer({ defaultPlan: WATCHABLE_VEO_PLAN }),
  ]);
  if (r.status === 'rejected' || p.status === 'rejected' || v.status === 'rejected') {
    // One server failing to start must not leave the others listening in a process about to exit.
    await Promise.allSettled([r, p, v].map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
    throw [r, p, v].map((s) => (s.status === 'rejected' ? (s.reason as unknown) : undefined)).find(Boolean);
  }
  const [runway, replicate, veo] = [r.value, p.value, v.value];
  return {
    info: {
      pid: process.pid,
      runway: { url: runway.url, apiKey },
      replicate: { url: replicate.url, baseUrl: replicate.baseUrl, apiToken },
      veo: { url: veo.url, accessToken },
      receivedPath: RECEIVED_PATH,
    },
    close: async () => {
      await Promise.allSettled([runway.close(), replicate.close(), veo.close()]);
    },
  };
}

/** Writes the file whole (a reader polling for it never sees half of it), readable by its owner only. */
export function writeServersFile(file: string, info: VendorTestServersInfo): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  renameSync(partial, file);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  if (!values.out) {
    process.stderr.write('usage: serve.js --out <file>\n');
    process.exit(2);
  }
  const out = values.out;
  const servers = await startVendorTestServers();
  writeServersFile(out, servers.info);
  process.stdout.write(
    `vendor test servers: runway ${servers.info.runway.url}, replicate ${servers.info.replicate.url}, veo ${servers.info.veo.url}\n`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    rmSync(out, { force: true });
    // Bounded: a server that will not close must not keep the stack's stop waiting for ever.
    const timer = setTimeout(() => process.exit(1), 5000);
    void servers.close().then(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`vendor test servers: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
