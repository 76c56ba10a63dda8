import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, stopProcessGroup } from '@aiprod/emulators';

/** Debian's `prometheus` package (installed by scripts/setup.sh). */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

export interface PrometheusHandle {
  pid: number;
  port: number;
  url: string;
}

export interface PrometheusOptions {
  /** Where its configuration, its data and its log go (a directory of its own). */
  dir: string;
  /** Scrape targets: the `job` label (the workload's name) → a loopback port serving /metrics. */
  targets: Record<string, number>;
  /** Seconds between scrapes and rule evaluations (tests use 1). */
  intervalSeconds?: number;
  /** Prometheus rule files (the alert rules generated from the Terraform), evaluated locally too. */
  ruleFiles?: string[];
}

/**
 * Starts a real Prometheus server of our own (not the Debian service): its own configuration, its
 * own TSDB directory, listening on loopback only, in its own process group so that it is stopped
 * by pid. It scrapes every service of the local platform, labelled `job` as Cloud Monitoring
 * labels them, so that the dashboards' and alerts' PromQL runs unchanged against it.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusHandle> {
  if (!existsSync(PROMETHEUS_BIN))
    throw new Error(`Prometheus is not installed at ${PROMETHEUS_BIN}: run "bash scripts/setup.sh" (apt: prometheus)`);
  const interval = `${options.intervalSeconds ?? 5}s`;
  mkdirSync(join(options.dir, 'data'), { recursive: true, mode: 0o700 });
  const config = join(options.dir, 'prometheus.yml');
  writeFileSync(config, prometheusConfig(options.targets, interval, options.ruleFiles ?? []));
  const port = await freePort();
  const log = openSync(join(options.dir, 'prometheus.log'), 'a');
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(options.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=2d',
      '--web.enable-lifecycle',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  child.unref();
  const handle = { pid: child.pid!, port, url: `http://127.0.0.1:${port}` };
  try {
    await waitReady(handle.url);
  } catch (error) {
    await stopProcessGroup(handle.pid, 1000);
    throw error;
  }
  return handle;
}

export const stopPrometheus = (pid: number) => stopProcessGroup(pid, STOP_GRACE_MS);

/** The configuration: one scrape job per workload, on loopback, plus the rule files. */
export function prometheusConfig(targets: Record<string, number>, interval: string, ruleFiles: string[]): string {
  const jobs = Object.entries(targets)
    .map(
      ([job, port]) =>
        `  - job_name: ${JSON.stringify(job)}\n    static_configs:\n      - targets: [${JSON.stringify(`127.0.0.1:${port}`)}]`,
    )
    .join('\n');
  const rules = ruleFiles.length ? `rule_files:\n${ruleFiles.map((f) => `  - ${JSON.stringify(f)}`).join('\n')}\n` : '';
  return `global:\n  scrape_interval: ${interval}\n  evaluation_interval: ${interval}\n${rules}scrape_configs:\n${jobs}\n`;
}

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Prometheus was not ready within ${READY_TIMEOUT_MS} ms`);
}

/** An instant PromQL query against the local server; the result vector (empty: no series). */
export async function queryPrometheus(
  url: string,
  promql: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`PromQL rejected: ${body.error ?? response.status} — ${promql}`);
  if (body.data?.resultType !== 'vector') throw new Error(`expected an instant vector from ${promql}`);
  return body.data.result;
}
