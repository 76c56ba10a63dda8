import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import type { DeliveryPolicy } from '@aiprod/contracts';
import {
  freePort,
  startFirestoreEmulator,
  startPubsubEmulator,
  stopProcessGroup,
  type EmulatorHandle,
} from '@aiprod/emulators';
import { createFirestore, TenantStore } from '@aiprod/job-store';
import { provisionCatalogue } from '@aiprod/pubsub';
import { httpsJson } from './https-client';
import { startPrometheus, stopPrometheus, type PrometheusHandle } from './prometheus';
import { ensureLocalCertificate } from './tls';
import { stopVendorTestServers, type VendorTestServersRecord } from './vendor-servers';

/** Every service of a fresh stack answering /readyz (they start together on two cores). */
const STACK_HEALTHY_TIMEOUT_MS = 60_000;
/** One restarted service answering /readyz again. */
const RESTART_HEALTHY_TIMEOUT_MS = 30_000;
/** A service process group's grace after SIGTERM before it is killed (8 s drain + margin). */
const SERVICE_STOP_GRACE_MS = 10_000;

/** An emulator's grace after SIGTERM (the Java process stops at once when asked). */
const EMULATOR_STOP_GRACE_MS = 5_000;

export const SERVICE_NAMES = ['gateway', 'planner', 'render-local', 'qa', 'delivery'] as const;
/** Render pools for the paid vendors run only when the stack is given their configuration. */
export const VENDOR_POOLS = ['render-runway', 'render-veo', 'render-replicate'] as const;
export type VendorBackend = 'runway' | 'veo' | 'replicate';
export type LocalServiceName = (typeof SERVICE_NAMES)[number] | (typeof VENDOR_POOLS)[number];

/** Where the platform's connection details are written, for the CLI, tests and scripts. */
export interface StackInfo {
  projectId: string;
  gatewayUrl: string;
  apiKey: string;
  tenantId: string;
  caCertPath: string;
  pubsubEmulatorHost: string;
  firestoreEmulatorHost: string;
  dataDir: string;
  logsDir: string;
  emulators: { pubsub: number | null; firestore: number | null };
  services: Partial<Record<LocalServiceName, { pid: number; port: number }>>;
  /** The gateway's loopback-only metrics port (its API port serves no metrics). */
  gatewayMetricsPort?: number;
  /** The local Prometheus scraping every service, when the stack runs one. */
  prometheus?: PrometheusHandle;
  /** The vendors' protocol test servers the vendor pools render against (`stack:up --vendor-test-servers`). */
  vendorTestServers?: VendorTestServersRecord;
}

export interface StackOptions {
  /** The repository root (where services/*\/dist live). */
  repoRoot: string;
  /** State directory: certificate, data, logs, stack.json. */
  stateDir: string;
  projectId?: string;
  /** Reuse running emulators (tests); otherwise the stack starts and owns its own. */
  emulators?: { pubsub: string; firestore: string };
  /** Tests shorten retry backoffs; the demo uses the catalogue's. */
  policyOverride?: Partial<DeliveryPolicy>;
  /** How often services look for overdue jobs (tests: about a second). */
  sweepIntervalSeconds?: number;
  /** Extra render pools, each with its vendor's environment (credentials, base URL, model, policy). */
  vendorPools?: Partial<Record<VendorBackend, Record<string, string>>>;
  /** Environment added to every render pool (e.g. RENDER_FALLBACK_POLICY). */
  renderEnv?: Record<string, string>;
  /**
   * BACKEND_MODELS (e.g. `replicate=bytedance/seedance-1-lite`), given to the planner and every
   * render pool alike so the plan is made for the models the pools run; unset: catalogue defaults.
   */
  backendModels?: string;
  /** Job-state deadlines in seconds for every service (tests shorten RENDERING so the sweeper acts soon). */
  stateDeadlineSeconds?: Partial<
    Record<'QUEUED' | 'PLANNING' | 'AWAITING_APPROVAL' | 'RENDERING' | 'ASSEMBLING', number>
  >;
  /** Environment added to one service (e.g. the planner's PLANNER_DIRECTOR). */
  serviceEnv?: Partial<Record<LocalServiceName, Record<string, string>>>;
  /** Run a Prometheus server scraping every service (`stack:up` does; tests that query metrics do). */
  prometheus?: { intervalSeconds?: number; ruleFiles?: string[] };
  /** An OTLP/HTTP receiver (base URL) every service exports its spans to; unset: none exported. */
  otlpEndpoint?: string;
  log?: (line: string) => void;
}

const SERVICE_ENTRY: Record<LocalServiceName, { dir: string; env: Record<string, string> }> = {
  // Local mode: PUT /v1/webhook may name a plain-http receiver on loopback (as delivery allows).
  gateway: { dir: 'gateway', env: { ALLOW_LOOPBACK_HTTP: 'true' } },
  // Local mode: a brief's reference image may be served over plain http on loopback (as logos are).
  planner: { dir: 'planner', env: { ALLOW_LOOPBACK_HTTP: 'true' } },
  'render-local': { dir: 'render', env: { RENDER_BACKEND: 'local', RENDER_CONCURRENCY: '2' } },
  'render-runway': { dir: 'render', env: { RENDER_BACKEND: 'runway' } },
  'render-veo': { dir: 'render', env: { RENDER_BACKEND: 'veo' } },
  'render-replicate': { dir: 'render', env: { RENDER_BACKEND: 'replicate' } },
  qa: { dir: 'qa', env: {} },
  delivery: { dir: 'delivery', env: { ALLOW_LOOPBACK_HTTP: 'true' } },
};

/**
 * The local platform: the real Pub/Sub and Firestore emulators, the catalogue provisioned, a
 * development tenant with an API key, and the five services as separate processes, each in its
 * own process group so that stopping the stack leaves nothing behind.
 */
export class LocalStack {
  private constructor(
    readonly info: StackInfo,
    private readonly options: StackOptions,
    private readonly ownedEmulators: EmulatorHandle[],
    private readonly serviceEnv: Partial<Record<LocalServiceName, NodeJS.ProcessEnv>>,
  ) {}

  static async start(options: StackOptions): Promise<LocalStack> {
    const say = options.log ?? (() => undefined);
    const stateDir = resolve(options.stateDir);
    const dataDir = join(stateDir, 'data');
    const logsDir = join(stateDir, 'logs');
    for (const d of [stateDir, dataDir, logsDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const projectId = options.projectId ?? 'aiprod-local';

    const owned: EmulatorHandle[] = [];
    let hosts = options.emulators;
    if (!hosts) {
      say('starting the Pub/Sub and Firestore emulators');
      const [pubsub, firestore] = await Promise.all([
        startPubsubEmulator({ logDir: logsDir }),
        startFirestoreEmulator({ logDir: logsDir }),
      ]);
      owned.push(pubsub, firestore);
      hosts = { pubsub: pubsub.host, firestore: firestore.host };
    }
    // The Google clients find the emulators through these variables, in this process and in the services.
    process.env.PUBSUB_EMULATOR_HOST = hosts.pubsub;
    process.env.FIRESTORE_EMULATOR_HOST = hosts.firestore;
    process.env.METADATA_SERVER_DETECTION = 'none';

    let stack: LocalStack | undefined;
    try {
      say('provisioning topics and subscriptions from the catalogue');
      const pubsub = new PubSub({ projectId });
      await provisionCatalogue(pubsub, { policyOverride: options.policyOverride });
      await pubsub.close();

      say('seeding the development tenant');
      const db = createFirestore(projectId);
      const tenants = new TenantStore(db);
      const tenantId = 'dev';
      await tenants.createTenant({ tenantId, name: 'Development tenant' });
      // The developer is also the client who approves: the dev key may approve plans.
      const { key } = await tenants.createApiKey(tenantId, ['jobs:read', 'jobs:write', 'jobs:approve'], 'local');
      await db.terminate();

      const { certFile, keyFile } = ensureLocalCertificate(stateDir);
      const pools = Object.keys(options.vendorPools ?? {}).map((b) => `render-${b}` as LocalServiceName);
      const names: LocalServiceName[] = [...SERVICE_NAMES, ...pools];
      const backends = ['local', ...Object.keys(options.vendorPools ?? {})].join(',');
      const ports = Object.fromEntries(
        await Promise.all(names.map(async (n) => [n, await freePort()] as const)),
      ) as Record<LocalServiceName, number>;
      const gatewayUrl = `https://127.0.0.1:${ports.gateway}`;
      const gatewayMetricsPort = await freePort();
      const common: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        GCP_PROJECT: projectId,
        PUBSUB_EMULATOR_HOST: hosts.pubsub,
        FIRESTORE_EMULATOR_HOST: hosts.firestore,
        METADATA_SERVER_DETECTION: 'none',
        HOST: '127.0.0.1',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        STORAGE_KIND: 'local',
        STORAGE_ROOT: dataDir,
        PUBLIC_BASE_URL: gatewayUrl,
        STORAGE_SIGNING_KEY: randomBytes(32).toString('hex'),
        SWEEP_INTERVAL_SECONDS: String(options.sweepIntervalSeconds ?? 30),
        WEBHOOK_POLL_SECONDS: String(options.sweepIntervalSeconds ?? 5),
        ...(options.stateDeadlineSeconds ? { STATE_DEADLINES: JSON.stringify(options.stateDeadlineSeconds) } : {}),
        // Spans leave in batches: every second here rather than the SDK's five, so a trace shows up soon.
        ...(options.otlpEndpoint
          ? { OTEL_EXPORTER_OTLP_ENDPOINT: options.otlpEndpoint, OTEL_BSP_SCHEDULE_DELAY: '1000' }
          : {}),
      };
      const serviceEnv: Partial<Record<LocalServiceName, NodeJS.ProcessEnv>> = {};
      for (const name of names) {
        serviceEnv[name] = {
          ...common,
          ...SERVICE_ENTRY[name].env,
          ...(name.startsWith('render-') ? options.renderEnv : {}),
          ...(name.startsWith('render-') && name !== 'render-local'
            ? options.vendorPools?.[name.slice('render-'.length) as VendorBackend]
            : {}),
          // The planner prices the worst case a budget cap is compared with by the pools' policy.
          ...(name === 'planner' && options.renderEnv?.RENDER_FALLBACK_POLICY
            ? { RENDER_FALLBACK_POLICY: options.renderEnv.RENDER_FALLBACK_POLICY }
            : {}),
          // One value for the planner and the pools, as Terraform's local.backend_models.
          ...((name === 'planner' || name.startsWith('render-')) && options.backendModels
            ? { BACKEND_MODELS: options.backendModels }
            : {}),
          // The planner plans for, the gateway quotes and the fallback policy hands shots to exactly
          // the pools this stack runs.
          ...(name === 'planner' || name === 'gateway' || name.startsWith('render-')
            ? { ENABLED_BACKENDS: backends }
            : {}),
          ...options.serviceEnv?.[name],
          PORT: String(ports[name]),
          ...(name === 'gateway'
            ? {
                TLS_CERT_FILE: certFile,
                TLS_KEY_FILE: keyFile,
                METRICS_PORT: String(gatewayMetricsPort),
                REVIEW_LINK_SECRET: randomBytes(32).toString('hex'),
              }
            : {}),
        };
      }

      const info: StackInfo = {
        projectId,
        gatewayUrl,
        apiKey: key,
        tenantId,
        caCertPath: certFile,
        pubsubEmulatorHost: hosts.pubsub,
        firestoreEmulatorHost: hosts.firestore,
        dataDir,
        logsDir,
        emulators: {
          pubsub: owned.find((e) => e.kind === 'pubsub')?.pid ?? null,
          firestore: owned.find((e) => e.kind === 'firestore')?.pid ?? null,
        },
        services: {},
        gatewayMetricsPort,
      };
      stack = new LocalStack(info, options, owned, serviceEnv);
      say(`starting ${names.join(', ')}`);
      for (const name of names) stack.spawnService(name, ports[name]);
      await stack.waitHealthy(STACK_HEALTHY_TIMEOUT_MS);
      if (options.prometheus) {
        say('starting Prometheus');
        info.prometheus = await startPrometheus({
          dir: join(stateDir, 'prometheus'),
          // The gateway's metrics are on their own port; every other service serves them beside /readyz.
          targets: Object.fromEntries(names.map((n) => [n, n === 'gateway' ? gatewayMetricsPort : ports[n]] as const)),
          ...options.prometheus,
        });
      }
      return stack;
    } catch (error) {
      // A service that fails to start fails the whole start: the services already spawned would
      // otherwise run on, orphaned, against emulators that are about to stop.
      if (stack) await stopStack({ ...stack.info, emulators: { pubsub: null, firestore: null } });
      await Promise.all(owned.map((e) => e.stop()));
      throw error;
    }
  }

  private spawnService(name: LocalServiceName, port: number): void {
    const entry = join(this.options.repoRoot, 'services', SERVICE_ENTRY[name].dir, 'dist', 'main.js');
    const log = openSync(join(this.info.logsDir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [entry], {
      detached: true,
      stdio: ['ignore', log, log],
      env: this.serviceEnv[name],
      cwd: this.options.repoRoot,
    });
    closeSync(log);
    child.unref();
    this.info.services[name] = { pid: child.pid!, port };
  }

  /** Waits until every service answers /readyz (the gateway over HTTPS with our CA). */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const ca = readFileSync(this.info.caCertPath, 'utf8');
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(Object.keys(this.info.services) as LocalServiceName[]);
    while (pending.size && Date.now() < deadline) {
      for (const name of [...pending]) {
        const { pid, port } = this.info.services[name]!;
        if (!isAlive(pid))
          throw new Error(`${name} exited during start-up; see ${join(this.info.logsDir, `${name}.log`)}`);
        try {
          const ok =
            name === 'gateway'
              ? (await httpsJson(`${this.info.gatewayUrl}/readyz`, { ca, timeoutMs: 1000 })).status === 200
              : (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })).ok;
          if (ok) pending.delete(name);
        } catch {
          // not listening yet
        }
      }
      if (pending.size) await new Promise((r) => setTimeout(r, 100));
    }
    if (pending.size) throw new Error(`not ready within ${timeoutMs} ms: ${[...pending].join(', ')}`);
  }

  /** Kills one service at once (crash tests) and, if asked, starts it again on the same port. */
  async crash(name: LocalServiceName): Promise<void> {
    const { pid } = this.service(name);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    const deadline = Date.now() + 5000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  async restart(name: LocalServiceName): Promise<void> {
    this.spawnService(name, this.service(name).port);
    await this.waitHealthy(RESTART_HEALTHY_TIMEOUT_MS);
  }

  service(name: LocalServiceName): { pid: number; port: number } {
    const running = this.info.services[name];
    if (!running) throw new Error(`${name} is not part of this stack`);
    return running;
  }

  writeInfo(file: string): void {
    writeFileSync(file, `${JSON.stringify(this.info, null, 2)}\n`, { mode: 0o600 });
  }

  async stop(): Promise<void> {
    await stopStack(this.info);
  }
}

/** Whether a process still exists (signal 0 probes without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops everything a stack started (services first, then the emulators it owns), by pid. */
export async function stopStack(
  info: Pick<StackInfo, 'services' | 'emulators' | 'prometheus' | 'vendorTestServers'>,
): Promise<void> {
  await Promise.all([
    ...Object.values(info.services).map((s) => (s ? stopProcessGroup(s.pid, SERVICE_STOP_GRACE_MS) : undefined)),
    info.prometheus ? stopPrometheus(info.prometheus.pid) : undefined,
  ]);
  // After the pools: a pool stopping mid-poll must not see its vendor vanish and record a failure.
  if (info.vendorTestServers) await stopVendorTestServers(info.vendorTestServers);
  await Promise.all(
    [info.emulators.pubsub, info.emulators.firestore]
      .filter((p): p is number => p !== null)
      .map((pid) => stopProcessGroup(pid, EMULATOR_STOP_GRACE_MS)),
  );
}
