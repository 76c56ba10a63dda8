import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import type { FallbackPolicy } from '@aiprod/contracts';
import { createFirestore } from '@aiprod/job-store';
import { startRunwayServer, waitFor, type RunwayServer } from '@aiprod/testing';
import { alertRules, dashboardQueries, prometheusRulesFile, type AlertRule } from '../../terraform/monitoring';
import { GatewayClient, httpsJson, queryPrometheus, type JobView, type LocalStack } from '../../infra/local/src';
import { setLocalWebhook } from '../../infra/local/src/webhook-commands';
import { repoRoot, runwayPool, startTestStack, testFallbackPolicy } from './e2e-stack';

/**
 * The dashboards and alerts of terraform/modules/monitoring, run as written against a real
 * Prometheus scraping the whole local platform (with a Runway pool on its protocol test server):
 * after one job every widget's PromQL returns a series; every alert's expression is false at rest
 * and true once its condition is provoked for real — a stuck vendor task, a failing vendor, a
 * tenant past its cap, a poison message, a gateway answering 500s.
 *
 * Thresholds that are minutes long in production are overridden (the only difference from the
 * Terraform): an unacked bound of 5 s, a circuit open for 3 s, two tries to judge a backend.
 */
const RUNWAY_KEY = 'key_e2e_monitoring_0123456789abcdef';
const OVERRIDES = { oldest_unacked_bound_seconds: 5, circuit_open_seconds: 3, backend_min_tries: 2 };
const brief = JSON.parse(readFileSync(join(repoRoot, 'examples', 'briefs', 'aurora-15s.json'), 'utf8')) as Record<
  string,
  unknown
>;

let stack: LocalStack;
let client: GatewayClient;
let runway: RunwayServer;
let receiver: Server;
let db: Firestore;
let rules: AlertRule[];
let prometheusUrl: string;
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-e2e-monitoring-'));

function testPolicy(): FallbackPolicy {
  const policy = testFallbackPolicy(200);
  // Two failures in a row open Runway's breaker; it lets a call through again after 5 s.
  policy.backends.runway.circuitBreaker = { consecutiveFailures: 2, halfOpenAfterSeconds: 5 };
  return policy;
}

beforeAll(async () => {
  rules = await alertRules(OVERRIDES);
  const rulesFile = join(stateDir, 'alerts.rules.yml');
  writeFileSync(rulesFile, prometheusRulesFile(rules));
  runway = await startRunwayServer({ apiKey: RUNWAY_KEY });
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  stack = await startTestStack('e2e-monitoring', stateDir, {
    vendorPools: { runway: runwayPool(runway, RUNWAY_KEY) },
    renderEnv: { RENDER_FALLBACK_POLICY: JSON.stringify(testPolicy()), RENDER_LEASE_SECONDS: '4' },
    serviceEnv: { qa: { QA_JUDGE: 'none' } },
    prometheus: { intervalSeconds: 1, ruleFiles: [rulesFile] },
  });
  prometheusUrl = stack.info.prometheus!.url;
  client = new GatewayClient(stack.info);
  db = createFirestore(stack.info.projectId);
  // A cap, so that spend against it is reported; high enough that the first jobs stay far below.
  await db.collection('tenants').doc(stack.info.tenantId).update({ monthlySpendCapUsd: 1000 });
  await setLocalWebhook(stack.info, `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await runway?.close();
  await new Promise((r) => receiver?.close(r));
  await db?.terminate();
  rmSync(stateDir, { recursive: true, force: true });
});

/** A brand_campaign job: Runway first in its preset's order, so the Runway pool renders it. Each
 *  has a product of its own: the same prompt twice would come from the render cache, not Runway. */
let briefs = 0;
const runwayBrief = () => ({ ...brief, preset: 'brand_campaign', product: `Aurora trail shoe ${++briefs}` });

/** Submits and approves when the estimate parks the job; returns its id once it renders. */
async function start(body: Record<string, unknown>): Promise<string> {
  const { id } = await client.submit(body);
  const planned = await waitFor(
    async () => {
      const job = await client.get(id);
      return ['AWAITING_APPROVAL', 'RENDERING', 'FAILED'].includes(job.status) ? job : undefined;
    },
    { timeoutMs: 30_000, what: `job ${id} planned` },
  );
  if (planned.status === 'AWAITING_APPROVAL') await client.approve(id);
  return id;
}

const deliver = async (body: Record<string, unknown>): Promise<JobView> =>
  client.waitForTerminal(await start(body), { timeoutMs: 180_000, intervalMs: 500 });

const firing = (name: string) => queryPrometheus(prometheusUrl, rules.find((r) => r.name === name)!.promql);

/** Waits until the alert's expression returns a series (bounded), and returns it. */
const waitFiring = (name: string, timeoutMs = 60_000) =>
  waitFor(async () => ((await firing(name)).length ? firing(name) : undefined), {
    timeoutMs,
    intervalMs: 500,
    what: `${name} to fire`,
  });

describe('monitoring as code, against a real Prometheus', () => {
  it('after one job, every dashboard widget returns a series', async () => {
    const job = await deliver(runwayBrief());
    expect(job.status).toBe('DELIVERED');
    // Scraped every second: wait until the delivery is in, then two more scrapes for the rates.
    await waitFor(
      async () =>
        (await queryPrometheus(prometheusUrl, 'aiprod_jobs_finished_total{status="DELIVERED"}')).length
          ? true
          : undefined,
      { timeoutMs: 20_000, what: 'the delivered job in Prometheus' },
    );
    await new Promise((r) => setTimeout(r, 2500));

    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(30);
    const empty: string[] = [];
    for (const q of queries) {
      if (!(await queryPrometheus(prometheusUrl, q.promql)).length) empty.push(`${q.dashboard} / ${q.widget}`);
    }
    expect(empty).toEqual([]);
  }, 240_000);

  it('every alert is false at rest, and Prometheus has loaded every rule', async () => {
    const loaded = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string }[] }[] };
    };
    const loadedRules = loaded.data.groups.flatMap((g) => g.rules);
    expect(loadedRules.map((r) => r.name).sort()).toEqual(rules.map((r) => r.name).sort());
    expect(loadedRules.filter((r) => r.health !== 'ok')).toEqual([]);
    for (const rule of rules)
      expect({ rule: rule.name, series: await firing(rule.name) }).toEqual({ rule: rule.name, series: [] });
  });

  it('a failing vendor fires the backend error-ratio and circuit-open alerts', async () => {
    // As many failures as open the breaker (testPolicy): later tries fail fast on the open circuit.
    runway.fail('create', { status: 503 }, 2);
    const job = await deliver(runwayBrief());
    // Routed around: the fallback policy hands the shots to the local pool.
    expect(job.status).toBe('DELIVERED');
    const [ratio] = await waitFiring('AiprodBackendErrorRatio');
    expect(ratio!.metric.backend).toBe('runway');
    const [open] = await waitFiring('AiprodCircuitOpen');
    expect(open!.metric.backend).toBe('runway');
  }, 300_000);

  // Last of the tests that submit jobs: the gateway refuses new jobs while the tenant is past its
  // cap, and may see the cap raised again only when its tenant cache expires.
  it('a vendor task that hangs holds its message: the oldest-unacked alert fires; a tenant past its cap fires the budget alert', async () => {
    runway.scriptTask({ running: { ms: 15_000 } });
    const id = await start(runwayBrief());
    // Other stages may hold a message past the (test-short) bound too; the Runway pool's must be among them.
    await waitFor(
      async () =>
        (await firing('AiprodOldestUnacked')).some((s) => /^aiprod\.render\.runway\./.test(s.metric.subscription ?? ''))
          ? true
          : undefined,
      { timeoutMs: 60_000, intervalMs: 500, what: 'the Runway subscription among the oldest-unacked alerts' },
    );
    // Lowered after the submit (the gateway refuses new jobs past the cap); the stuck task's
    // charge, when it ends, is reported against it.
    await db.collection('tenants').doc(stack.info.tenantId).update({ monthlySpendCapUsd: 0.01 });
    const [burning] = await waitFiring('AiprodBudgetBurn', 90_000);
    expect(burning!.metric.tenant).toBe(stack.info.tenantId);
    expect((await client.waitForTerminal(id, { timeoutMs: 180_000, intervalMs: 500 })).status).toBe('DELIVERED');
  }, 300_000);

  it('a poison message is dead-lettered: the dead-letter alert fires', async () => {
    const pubsub = new PubSub({ projectId: stack.info.projectId });
    try {
      await pubsub.topic('aiprod.job.requested.v1').publishMessage({ data: Buffer.from('{not json') });
    } finally {
      await pubsub.close();
    }
    const [letter] = await waitFiring('AiprodDeadLetter', 90_000);
    expect(letter!.metric.subscription).toMatch(/^aiprod\.job\.requested\.v1\./);
  }, 120_000);

  it('a gateway answering 500s burns the availability budget: both burn-rate alerts fire', async () => {
    // A job record the gateway cannot read (a broken write, a bad migration): every read is a 500.
    const jobId = `job_broken${Date.now()}`;
    await db
      .collection('jobs')
      .doc(jobId)
      .set({ jobId, tenantId: stack.info.tenantId, status: 'RENDERING', createdAt: 'not a time', updatedAt: 7 });
    const statuses: number[] = [];
    const ca = readFileSync(stack.info.caCertPath, 'utf8');
    // Spread over several scrapes, as an outage's errors are: a counter series is born with its
    // first scrape, and only what it gains after that is a rate.
    for (let i = 0; i < 40; i++) {
      const url = `${stack.info.gatewayUrl}/v1/jobs/${jobId}`;
      statuses.push((await httpsJson(url, { ca, apiKey: stack.info.apiKey })).status);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(new Set(statuses)).toEqual(new Set([500]));
    await waitFiring('AiprodAvailabilityFastBurn', 30_000);
    await waitFiring('AiprodAvailabilitySlowBurn', 30_000);
  }, 120_000);
});
