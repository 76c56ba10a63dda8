// POST /v1/jobs on ONE gateway process against the emulators, next to the floor: only the
// Firestore create (JobStore.createJob) and the Pub/Sub publish, at the same concurrency for the
// same time. Run on demand: `pnpm bench:gateway` (BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_GATEWAY=dist
// to run the built services/gateway/dist/main.js instead of its sources under tsx, BENCH_GATEWAYS=2
// to run that many gateway processes, each loaded by its own share of the connections).
// Compare ratios, not absolute numbers: these machines are noisy and shared.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../packages/emulators/src';
import { JobStore, TenantStore } from '../../packages/job-store/src';
import type { Publisher } from '../../packages/pubsub/src';
import { aClientBrief, emulatorProject, startEmulators } from '../../packages/testing/src';
import { report } from '../lib';
import { profileStages } from './profile';

// autocannon ships no types; this is the part of its result we read.
interface AutocannonResult {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number; average: number; max: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const GATEWAYS = Math.max(1, Number(process.env.BENCH_GATEWAYS ?? 1));
const ROOT = join(__dirname, '..', '..');

/** The brief a client would send (as the gateway's tests use). */
const BRIEF = aClientBrief();

interface Measured {
  what: string;
  requests: number;
  ratePerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** `workers` loops doing `op` back to back for `seconds`; latency of each op. */
async function closedLoop(seconds: number, workers: number, op: () => Promise<unknown>) {
  const latencies: number[] = [];
  let failures = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < deadline) {
        const t = process.hrtime.bigint();
        try {
          await op();
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        } catch {
          failures++;
        }
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { latencies, failures, elapsed };
}

/** The floor: what any POST /v1/jobs must do at least, in this process, without HTTP. */
async function floor(jobs: JobStore, publisher: Publisher<'gateway'>, tenantId: string): Promise<Measured> {
  const op = async () => {
    const job = await jobs.createJob({
      jobId: `job_${randomBytes(12).toString('hex')}`,
      tenantId,
      brief: BRIEF,
      preset: 'social_quick',
    });
    await publisher.publish('aiprod.job.requested.v1', { v: 1, jobId: job.jobId, tenantId });
  };
  await closedLoop(WARMUP_SECONDS, CONCURRENCY, op);
  const { latencies, failures, elapsed } = await closedLoop(SECONDS, CONCURRENCY, op);
  return {
    what: 'floor: JobStore.createJob + publish',
    requests: latencies.length,
    ratePerSecond: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failures,
  };
}

async function startGateway(env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const dist = process.env.BENCH_GATEWAY === 'dist';
  const args = dist
    ? [join(ROOT, 'services/gateway/dist/main.js')]
    : // tsx as a loader inside the one process (its CLI would add a second, wrapping process).
      ['--import', 'tsx', join(ROOT, 'services/gateway/src/main.ts')];
  // e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the gateway's CPU goes.
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    // tsconfig.test.json maps @aiprod/* to the packages' sources.
    env: { ...env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.test.json') },
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ready) return child;
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  throw new Error('the gateway did not become ready within 60 s');
}

/** SIGTERM (graceful shutdown), SIGKILL after 10 s. */
async function stopGateway(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function gateway(ports: number[], key: string): Promise<Measured> {
  // One request by hand first, so a misconfiguration is an error message and not a table of zeros.
  for (const port of ports) {
    const probe = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify(BRIEF),
    });
    if (probe.status !== 202) throw new Error(`POST /v1/jobs answered ${probe.status}: ${await probe.text()}`);
  }
  const run = (port: number, connections: number, duration: number) =>
    autocannon({
      url: `http://127.0.0.1:${port}`,
      connections,
      pipelining: 1,
      duration,
      requests: [
        {
          method: 'POST',
          path: '/v1/jobs',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(BRIEF),
          // Every request is a new job: a unique Idempotency-Key each time (a replay would be cheaper).
          setupRequest: (req: { headers: Record<string, string> }) => ({
            ...req,
            headers: { ...req.headers, 'idempotency-key': randomUUID() },
          }),
        },
      ],
    });
  // The connections shared out over the processes (as a load balancer would), all at once.
  const share = (i: number) => Math.floor(CONCURRENCY / ports.length) + (i < CONCURRENCY % ports.length ? 1 : 0);
  const all = (duration: number) => Promise.all(ports.map((port, i) => run(port, share(i), duration)));
  await all(WARMUP_SECONDS);
  const results = await all(SECONDS);
  const ok = results.reduce((n, r) => n + (r.statusCodeStats['202']?.count ?? 0), 0);
  const total = results.reduce((n, r) => n + r.requests.total, 0);
  // Percentiles of the whole cannot be summed: the worst process's p50/p99 (one process: its own).
  return {
    what: `gateway: POST /v1/jobs (${ports.length} process${ports.length > 1 ? 'es' : ''})`,
    requests: total,
    ratePerSecond: ok / Math.max(...results.map((r) => r.duration)),
    p50Ms: Math.max(...results.map((r) => r.latency.p50)),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    failures: results.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-bench-gateway-'));
  const emulators = await startEmulators({ logDir: dir });
  Object.assign(process.env, emulators.env);
  const children: ChildProcess[] = [];
  // Two projects (two emulator databases): on the emulator a query scans every document of its
  // collection, so the floor's jobs must not slow the gateway's unfinished-jobs count.
  const project = emulatorProject('bench-gateway', 'gateway');
  const floorProject = emulatorProject('bench-floor', 'gateway');
  const { projectId, db, publisher } = project;
  const { db: floorDb, publisher: floorPublisher } = floorProject;
  try {
    await Promise.all([project.provision(), floorProject.provision()]);
    const tenants = new TenantStore(db);
    // Limits far above what 10 connections can reach in the run: the benchmark measures the path,
    // not a 429. The quotas, rate limit and idempotency are all still checked on every request.
    const limits = { maxConcurrentJobs: 1_000_000, requestsPerMinute: 1_000_000, maxJobsPerDay: 1_000_000 };
    await tenants.createTenant({ tenantId: 'bench-gateway', name: 'Gateway', ...limits });
    const { key } = await tenants.createApiKey('bench-gateway', ['jobs:write'], 'test');

    // The floor runs before and after the gateway (the emulators warm up, the machine is shared);
    // the faster of the two is the reference, which is the stricter comparison for the gateway.
    const floorBefore = await floor(new JobStore(floorDb), floorPublisher, 'bench-floor');
    // One signing key for every process, as instances of one deployment share it.
    const signingKey = randomBytes(32).toString('base64');

    const ports: number[] = [];
    for (let i = 0; i < GATEWAYS; i++) {
      const port = await freePort();
      ports.push(port);
      const started = await startGateway(
        {
          ...process.env,
          GCP_PROJECT: projectId,
          HOST: '127.0.0.1',
          PORT: String(port),
          // As in production: the access log (info) is written for every request.
          LOG_LEVEL: 'info',
          STORAGE_KIND: 'local',
          STORAGE_ROOT: join(dir, 'store'),
          PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
          STORAGE_SIGNING_KEY: signingKey,
          RATE_LIMIT_REQUESTS_PER_MINUTE: String(limits.requestsPerMinute),
          QUOTA_MAX_CONCURRENT_JOBS: String(limits.maxConcurrentJobs),
          QUOTA_MAX_JOBS_PER_DAY: String(limits.maxJobsPerDay),
        },
        port,
      );
      children.push(started);
    }
    const gatewayResult = await gateway(ports, key);
    await Promise.all(children.map(stopGateway));
    const floorAfter = await floor(new JobStore(floorDb), floorPublisher, 'bench-floor');
    const floorResult = floorAfter.ratePerSecond > floorBefore.ratePerSecond ? floorAfter : floorBefore;
    floorBefore.what = 'floor, before the gateway run';
    floorAfter.what = 'floor, after the gateway run';

    const row = (m: Measured) => ({
      what: m.what,
      requests: m.requests,
      'rate req/s': Math.round(m.ratePerSecond),
      'p50 ms': Number(m.p50Ms.toFixed(1)),
      'p99 ms': Number(m.p99Ms.toFixed(1)),
      failures: m.failures,
      'ratio to floor': Number((m.ratePerSecond / floorResult.ratePerSecond).toFixed(2)),
    });
    report('gateway', [row(floorBefore), row(floorAfter), row(gatewayResult)]);
    const ratio = gatewayResult.ratePerSecond / floorResult.ratePerSecond;
    const met = ratio >= 0.8 && gatewayResult.p99Ms < 100 && gatewayResult.failures === 0;
    console.log(
      `concurrency ${CONCURRENCY} over ${GATEWAYS} gateway process(es), ${SECONDS} s after ${WARMUP_SECONDS} s warm-up; target ≥ 0.8× floor and p99 < 100 ms: ${met ? 'met' : 'MISSED'} (${ratio.toFixed(2)}×, p99 ${gatewayResult.p99Ms.toFixed(1)} ms)`,
    );

    if (process.env.BENCH_PROFILE !== '0') {
      const stages = await profileStages({
        db,
        publisher,
        tenantId: 'bench-gateway',
        key,
        brief: BRIEF,
        seconds: Number(process.env.BENCH_PROFILE_SECONDS ?? 3),
        workers: CONCURRENCY,
      });
      report(
        'gateway-profile',
        stages.map((t) => ({
          stage: t.stage,
          calls: t.calls,
          'mean ms': Number(t.meanMs.toFixed(1)),
          'p50 ms': Number(t.p50Ms.toFixed(1)),
          'p99 ms': Number(t.p99Ms.toFixed(1)),
        })),
      );
    }
  } finally {
    await Promise.all(children.map(stopGateway));
    // Lets background lease transactions settle before their client is closed under them.
    await new Promise((r) => setTimeout(r, 1000));
    await Promise.allSettled([project.close(), floorProject.close()]);
    await emulators.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
