import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { DEFAULT_FALLBACK_POLICY, renderTopicFor, type FallbackPolicy } from '@aiprod/contracts';
import { createFirestore, JobStore, WebhookStore, type Shot } from '@aiprod/job-store';
import {
  startReplicateServer,
  startRunwayServer,
  startVeoServer,
  type BilledTask,
  type HttpFault,
  type ReplicateServer,
  type RunwayServer,
  type VeoHttpBehaviour,
  type VeoServer,
} from '@aiprod/testing';
import { generateWebhookSecret } from '@aiprod/webhooks';
import { GatewayClient, isAlive, LocalStack, type JobView, type LocalServiceName } from '../infra/local/src';

/**
 * A Jepsen-style run of the whole local platform: N jobs spread over the local pool and the three
 * vendor pools (on their protocol test servers), with faults drawn from a seeded PRNG while they
 * run — SIGKILL and SIGTERM (then restart) of service processes, duplicate render deliveries, and
 * vendor faults at create and at poll — then one check of what every client and every vendor
 * would see: no job lost, none finished twice, none left running, no vendor task the ledger does
 * not know, and each vendor's bill equal to the ledger's total for it.
 */

export type Vendor = 'runway' | 'veo' | 'replicate';
const VENDORS: readonly Vendor[] = ['runway', 'veo', 'replicate'];
const TERMINAL = ['DELIVERED', 'FAILED', 'CANCELED'];
const TERMINAL_EVENTS = ['job.delivered', 'job.failed', 'job.canceled'];

export interface FaultBudget {
  /** SIGKILL then restart; with `everyService`, at least one per service process. */
  kills: number;
  /** SIGTERM (graceful), wait for the exit, then restart; with `everyService`, one per service. */
  terms: number;
  /** An extra copy of a shot's render request published straight onto its render topic. */
  dups: number;
  /** A vendor fault queued at create or at poll (503, 429 with Retry-After, reset, slow answer). */
  vendor: number;
  /** Faults are spread over this long after the last job is submitted. */
  windowMs: number;
  everyService: boolean;
}

export interface ChaosOptions {
  repoRoot: string;
  jobs: number;
  seed: number;
  emulators: { pubsub: string; firestore: string };
  stateDir: string;
  faults: FaultBudget;
  /** How long every job gets to reach a terminal state once faults begin. */
  terminalTimeoutMs: number;
  /**
   * Job-state deadlines, scaled down from production's (RENDERING 1 h, ASSEMBLING 15 min) so the
   * sweepers — the platform's answer to a message held by a dead worker — act within the run.
   */
  stateDeadlineSeconds: Partial<Record<'QUEUED' | 'PLANNING' | 'RENDERING' | 'ASSEMBLING', number>>;
  log?: (line: string) => void;
}

export interface FaultRecord {
  atMs: number;
  kind: 'kill' | 'term' | 'dup' | 'vendor';
  target: string;
  detail?: Record<string, unknown>;
  error?: string;
}

export interface BillingCheck {
  billedUsd: number;
  ledgerUsd: number;
  equal: boolean;
  /** Tasks the vendor bills that no ledger line names. */
  unledgered: BilledTask[];
  /** Ledger lines whose amount differs from the vendor's bill for that task (or that it does not bill). */
  mispriced: { taskId: string; ledgerUsd: number; billedUsd: number; lines: string[] }[];
}

export interface ChaosResult {
  pass: boolean;
  summary: string;
  seed: number;
  durationMs: number;
  checks: {
    jobs: number;
    lost: number;
    duplicateFinals: number;
    notTerminal: number;
    createsOverTries: number;
    /** Tries booked without a task id (a create cut off by a crash); each may stand for one task. */
    unconfirmedTries: number;
    billing: Record<Vendor, BillingCheck>;
  };
  faults: FaultRecord[];
  /** Per job: what made it fail a check, for whoever reads the results. */
  jobs: JobReport[];
  /** Vendor tasks no try and no ledger line records, by vendor, with their create key. */
  unrecordedTasks: { vendor: Vendor; key: string; taskId: string; inFlight: boolean }[];
  vendorCalls: Record<Vendor, { creates: number; cancels: number; polls: number }>;
}

export interface JobReport {
  id: string;
  archetype: string;
  status: string;
  lost: boolean;
  terminalEvents: string[];
  webhookIds: string[];
  outputs: number;
  /** The same output variant delivered more than once. */
  duplicateOutputs: boolean;
  backends: string[];
  error?: string;
}

/** mulberry32: small, seeded and good enough to choose faults reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Briefs that the planner puts on each backend (checked against estimateBrief with every pool
 * deployed): a 15 s social spot goes to Replicate, or to the local animatic with a budget cap of
 * 0; a 10 s one cannot be cut from Replicate's 5/8 s clips and goes to Runway; a 12 s brand
 * campaign goes to Veo; a 15 s one capped at 8 USD mixes Replicate and Veo (the cap is compared with
 * the worst case, every attempt and fallback billed: 6.38 USD for that plan).
 */
const ARCHETYPES: { name: string; brief: Record<string, unknown> }[] = [
  { name: 'local', brief: { preset: 'social_quick', durationSeconds: 15, budgetCapUsd: 0 } },
  { name: 'replicate', brief: { preset: 'social_quick', durationSeconds: 15 } },
  { name: 'runway', brief: { preset: 'social_quick', durationSeconds: 10 } },
  { name: 'veo', brief: { preset: 'brand_campaign', durationSeconds: 12 } },
  { name: 'mixed', brief: { preset: 'brand_campaign', durationSeconds: 15, budgetCapUsd: 8 } },
];

/** The default policy with test-sized backoffs, as the vendors end-to-end test runs it. */
function testPolicy(): FallbackPolicy {
  const policy = structuredClone(DEFAULT_FALLBACK_POLICY);
  for (const b of Object.values(policy.backends)) b.backoff = { initialMs: 50, maxMs: 500, multiplier: 2 };
  return policy;
}

/** The Vertex label the Veo pool puts on an attempt (lowercase, [a-z0-9_-], 63 characters). */
export const veoAttemptLabel = (jobId: string, shotId: string, attempt: number) =>
  `${jobId}/${shotId}/a${attempt}`
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .slice(0, 63);

interface Vendors {
  runway: RunwayServer;
  replicate: ReplicateServer;
  veo: VeoServer;
}

/** One vendor fault, drawn from the PRNG, queued on the vendor's test server. */
function injectVendorFault(vendors: Vendors, rand: () => number): Record<string, unknown> {
  const vendor = pick(rand, VENDORS);
  const op = rand() < 0.5 ? 'create' : 'poll';
  const kind = pick(rand, ['503', '429', 'reset', 'slow'] as const);
  const retryAfterSeconds = 1;
  const delayMs = 1000 + Math.floor(rand() * 4000);
  // The same four faults in both test servers' words (their fault shapes agree on these).
  const fault: HttpFault & VeoHttpBehaviour =
    kind === '503'
      ? { status: 503 }
      : kind === '429'
        ? { status: 429, retryAfterSeconds }
        : kind === 'reset'
          ? { resetConnection: true }
          : { delayMs };
  if (vendor === 'veo') {
    if (op === 'create') vendors.veo.enqueueCreate(fault);
    else vendors.veo.enqueuePoll(fault);
  } else vendors[vendor].fail(op, fault);
  return { vendor, op, kind, ...(kind === 'slow' ? { delayMs } : {}) };
}

/** The fault schedule: kinds and times drawn up front, so the plan is the seed's. */
function planFaults(rand: () => number, budget: FaultBudget, services: LocalServiceName[]) {
  const plan: { at: number; kind: FaultRecord['kind']; target?: LocalServiceName }[] = [];
  const signals = (kind: 'kill' | 'term', count: number) => {
    const targets = budget.everyService ? [...services] : [];
    while (targets.length < count) targets.push(pick(rand, services));
    for (const target of targets) plan.push({ at: rand() * budget.windowMs, kind, target });
  };
  signals('kill', budget.kills);
  signals('term', budget.terms);
  for (let i = 0; i < budget.dups; i++) plan.push({ at: rand() * budget.windowMs, kind: 'dup' });
  for (let i = 0; i < budget.vendor; i++) plan.push({ at: rand() * budget.windowMs, kind: 'vendor' });
  return plan.sort((a, b) => a.at - b.at);
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const say = options.log ?? (() => undefined);
  const started = Date.now();
  const rand = prng(options.seed);
  const apiKey = 'key_chaos_runway_0123456789abcdef';
  const apiToken = 'r8_chaos_replicate_0123456789abcdef';
  const vendors: Vendors = {
    // Tasks last a few polls and a second or two, so kills and faults land while they run.
    runway: await startRunwayServer({
      apiKey,
      fps: 12,
      defaultTask: { pending: { polls: 1 }, running: { polls: 2, ms: 1500 } },
    }),
    replicate: await startReplicateServer({
      apiToken,
      defaultPrediction: { processing: { polls: 2, ms: 1500 } },
    }),
    veo: await startVeoServer({ defaultPlan: { pollsUntilDone: 12 } }),
  };
  const hooks: { webhookId: string; jobId: string; type: string }[] = [];
  const receiver: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      try {
        const parsed = JSON.parse(body) as { type?: string; data?: { jobId?: string } };
        hooks.push({
          webhookId: String(req.headers['webhook-id'] ?? ''),
          jobId: String(parsed.data?.jobId ?? ''),
          type: String(parsed.type ?? ''),
        });
      } catch {
        hooks.push({ webhookId: String(req.headers['webhook-id'] ?? ''), jobId: '', type: 'unparsable' });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));

  let stack: LocalStack | undefined;
  let jobs: JobStore | undefined;
  try {
    stack = await LocalStack.start({
      repoRoot: options.repoRoot,
      stateDir: options.stateDir,
      projectId: `chaos-${options.seed}-${Date.now().toString(36)}`,
      emulators: options.emulators,
      policyOverride: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1, ackDeadlineSeconds: 10 },
      sweepIntervalSeconds: 1,
      stateDeadlineSeconds: options.stateDeadlineSeconds,
      vendorPools: {
        runway: { RUNWAY_API_KEY: apiKey, RUNWAY_BASE_URL: vendors.runway.url, RUNWAY_POLL_INTERVAL_MS: '100' },
        replicate: {
          REPLICATE_API_TOKEN: apiToken,
          REPLICATE_BASE_URL: vendors.replicate.baseUrl,
          REPLICATE_POLL_INTERVAL_MS: '100',
        },
        veo: {
          VERTEX_BASE_URL: vendors.veo.url,
          VERTEX_ACCESS_TOKEN: 'ya29.chaos-vertex-token-0123456789',
          VEO_POLL_INTERVAL_MS: '100',
        },
      },
      renderEnv: { RENDER_FALLBACK_POLICY: JSON.stringify(testPolicy()) },
      // The vendors' clips are test patterns without the planned on-screen text: no semantic judge.
      serviceEnv: {
        qa: { QA_JUDGE: 'none' },
        // The harness polls every job each second and submits them all at once: no tenant limit
        // may stand between it and the platform under test.
        gateway: { RATE_LIMIT_REQUESTS_PER_MINUTE: '100000', QUOTA_MAX_CONCURRENT_JOBS: '1000' },
      },
    });
    const live = stack;
    const projectDb = createFirestore(live.info.projectId);
    jobs = new JobStore(projectDb);
    await new WebhookStore(projectDb).setEndpoint(
      live.info.tenantId,
      `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/chaos`,
      generateWebhookSecret(),
    );
    const client = new GatewayClient(live.info);
    say(`platform up (${Object.keys(live.info.services).join(', ')}); submitting ${options.jobs} jobs`);

    // Submitted before the faults begin: a lost job is then the platform's doing, not a submit
    // that failed against a gateway we had just killed.
    const base = JSON.parse(readFileSync(join(options.repoRoot, 'examples', 'briefs', 'aurora-15s.json'), 'utf8'));
    const submitted: { id: string; archetype: string }[] = [];
    for (let i = 0; i < options.jobs; i++) {
      const archetype = ARCHETYPES[i % ARCHETYPES.length]!;
      const brief = {
        ...base,
        ...archetype.brief,
        product: `Chaos ${options.seed}.${i} shoe`,
        keyMessage: `Run ${i} of seed ${options.seed}`,
      };
      const job = await client.submit(brief);
      submitted.push({ id: job.id, archetype: archetype.name });
    }

    const services = Object.keys(live.info.services) as LocalServiceName[];
    const plan = planFaults(rand, options.faults, services);
    const faults: FaultRecord[] = [];
    const views = new Map<string, JobView>();
    let allTerminal = false;
    const faultsStart = Date.now();

    const inject = async (f: (typeof plan)[number]): Promise<void> => {
      const record: FaultRecord = { atMs: Date.now() - faultsStart, kind: f.kind, target: f.target ?? '' };
      faults.push(record);
      try {
        if (f.kind === 'kill') {
          await live.crash(f.target!);
          await live.restart(f.target!);
        } else if (f.kind === 'term') {
          const { pid } = live.service(f.target!);
          const sent = Date.now();
          try {
            process.kill(-pid, 'SIGTERM');
          } catch {
            // already gone
          }
          while (isAlive(pid) && Date.now() - sent < 20_000) await sleep(50);
          const hard = isAlive(pid);
          if (hard) process.kill(-pid, 'SIGKILL');
          record.detail = { exitMs: Date.now() - sent, hardKilled: hard };
          await live.restart(f.target!);
        } else if (f.kind === 'dup') {
          record.detail = await duplicateDelivery(live, jobs!, submitted, rand);
          record.target = String(record.detail.topic ?? '');
        } else {
          record.detail = injectVendorFault(vendors, rand);
          record.target = String(record.detail.vendor);
        }
      } catch (error) {
        record.error = error instanceof Error ? error.message : String(error);
      }
      say(`fault ${record.kind} ${record.target} ${record.detail ? JSON.stringify(record.detail) : ''}`.trim());
    };

    const injecting = (async () => {
      for (const f of plan) {
        while (!allTerminal && Date.now() - faultsStart < f.at) await sleep(100);
        if (allTerminal) return;
        await inject(f);
      }
    })();

    // Waits for every job to end, approving any the planner parked for approval.
    const approved = new Set<string>();
    const deadline = Date.now() + options.terminalTimeoutMs;
    while (Date.now() < deadline) {
      for (const { id } of submitted) {
        if (TERMINAL.includes(views.get(id)?.status ?? '')) continue;
        try {
          const job = await client.get(id);
          views.set(id, job);
          if (job.status === 'AWAITING_APPROVAL' && !approved.has(id)) {
            await client.approve(id);
            approved.add(id);
          }
        } catch {
          // The gateway may be down for a moment (a fault); the next round asks again.
        }
      }
      const done = submitted.filter(({ id }) => TERMINAL.includes(views.get(id)?.status ?? '')).length;
      if (done === submitted.length) break;
      await sleep(1000);
    }
    allTerminal = true;
    await injecting;
    say(`jobs ended or time is up after ${Math.round((Date.now() - faultsStart) / 1000)} s; checking`);
    // Late notices (webhooks after a restart, a duplicate delivery still in flight) get a moment.
    await sleep(5000);

    // What a client sees: each job through the API, once more, with retries for a restarting gateway.
    const reports: JobReport[] = [];
    for (const { id, archetype } of submitted) {
      let view: JobView | undefined;
      let lost = false;
      for (let i = 0; i < 10; i++) {
        try {
          view = await client.get(id);
          break;
        } catch (error) {
          if (/HTTP 404/.test(String(error))) {
            lost = true;
            break;
          }
          await sleep(1000);
        }
      }
      if (!view) lost = true;
      const variants = view?.outputs.map((o) => o.variant) ?? [];
      reports.push({
        id,
        archetype,
        status: view?.status ?? 'UNKNOWN',
        lost,
        terminalEvents: [],
        webhookIds: [],
        outputs: variants.length,
        duplicateOutputs: new Set(variants).size !== variants.length,
        backends: [],
        ...(view?.error ? { error: `${view.error.reason}: ${view.error.message}` } : {}),
      });
    }

    // Nothing may move while the ledgers are read and compared with the vendors' bills.
    await live.stop();
    stack = undefined;
    vendors.runway.settle();
    await vendors.replicate.settle();

    /** `line` says where it is and what the pool made of the task: job/line-id outcome errorClass. */
    const ledger: { vendor: string; taskId?: string; usd: number; line: string }[] = [];
    const recorded = new Set<string>();
    const inFlight = new Set<string>();
    // Tries whose create was cut off by a crash before its task id was stored: booked at the
    // expected price, each one the try of at most one task the vendor made (see render-spend).
    const unconfirmed = new Map<string, number>();
    for (const report of reports) {
      const [events, shots, costs] = await Promise.all([
        jobs.listEvents(report.id, { limit: 2000 }),
        jobs.listShots(report.id),
        jobs.listCosts(report.id),
      ]);
      report.terminalEvents = events.filter((e) => TERMINAL_EVENTS.includes(e.type)).map((e) => e.type);
      report.webhookIds = [...new Set(hooks.filter((h) => h.jobId === report.id).map((h) => h.webhookId))];
      report.backends = shots.map((s) => s.backend);
      for (const line of costs) {
        const taskId = typeof line.vendorTaskId === 'string' ? line.vendorTaskId : undefined;
        const what = [line.outcome, line.errorClass].filter(isString).join(' ');
        ledger.push({
          vendor: String(line.backend),
          ...(taskId ? { taskId } : {}),
          usd: line.costUsd,
          line: `${report.id}/${line.key} ${what}`.trim(),
        });
        if (taskId) recorded.add(taskId);
        if (line.outcome === 'unconfirmed')
          unconfirmed.set(String(line.backend), (unconfirmed.get(String(line.backend)) ?? 0) + 1);
      }
      for (const task of triedTasks(shots)) recorded.add(task);
      for (const task of tasksInFlight(shots)) inFlight.add(task);
    }

    const billing = {} as Record<Vendor, BillingCheck>;
    const unrecordedTasks: ChaosResult['unrecordedTasks'] = [];
    const vendorCalls = {} as ChaosResult['vendorCalls'];
    for (const vendor of VENDORS) {
      const server = vendors[vendor];
      const billed = server.billedTasks;
      const lines = ledger.filter((l) => l.vendor === vendor);
      const billedUsd = round6(billed.reduce((s, t) => s + t.usd, 0));
      const ledgerUsd = round6(lines.reduce((s, l) => s + l.usd, 0));
      const byTask = new Map<string, number>();
      for (const l of lines) if (l.taskId) byTask.set(l.taskId, round6((byTask.get(l.taskId) ?? 0) + l.usd));
      const billedById = new Map(billed.map((t) => [t.taskId, t.usd]));
      billing[vendor] = {
        billedUsd,
        ledgerUsd,
        equal: Math.abs(billedUsd - ledgerUsd) < 1e-6,
        unledgered: billed.filter((t) => !byTask.has(t.taskId)),
        mispriced: [...byTask]
          .filter(([taskId, usd]) => Math.abs(usd - (billedById.get(taskId) ?? 0)) >= 1e-6)
          .map(([taskId, usd]) => ({
            taskId,
            ledgerUsd: usd,
            billedUsd: billedById.get(taskId) ?? 0,
            lines: lines.filter((l) => l.taskId === taskId).map((l) => l.line),
          })),
      };
      const calls = server.calls;
      vendorCalls[vendor] = { creates: calls.creates, cancels: calls.cancels, polls: calls.polls };
      for (const [key, tasks] of Object.entries(calls.tasksByKey)) {
        for (const taskId of tasks) {
          if (!recorded.has(taskId)) unrecordedTasks.push({ vendor, key, taskId, inFlight: inFlight.has(taskId) });
        }
      }
    }

    const checks: ChaosResult['checks'] = {
      jobs: submitted.length,
      lost: reports.filter((r) => r.lost).length,
      duplicateFinals: reports.filter(
        (r) => r.terminalEvents.length > 1 || r.webhookIds.length > 1 || r.duplicateOutputs,
      ).length,
      notTerminal: reports.filter((r) => !r.lost && !TERMINAL.includes(r.status)).length,
      // At most one create per try: a task no try names is over, unless an unconfirmed try of its
      // vendor (a create whose id was lost) accounts for it.
      createsOverTries: VENDORS.reduce(
        (sum, v) => sum + Math.max(0, unrecordedTasks.filter((t) => t.vendor === v).length - (unconfirmed.get(v) ?? 0)),
        0,
      ),
      unconfirmedTries: [...unconfirmed.values()].reduce((a, b) => a + b, 0),
      billing,
    };
    const pass =
      checks.lost === 0 &&
      checks.duplicateFinals === 0 &&
      checks.notTerminal === 0 &&
      checks.createsOverTries === 0 &&
      VENDORS.every((v) => billing[v].equal);
    const count = (kind: FaultRecord['kind']) => faults.filter((f) => f.kind === kind).length;
    const summary =
      `chaos: jobs=${checks.jobs} lost=${checks.lost} duplicate_finals=${checks.duplicateFinals} ` +
      `not_terminal=${checks.notTerminal} creates_over_tries=${checks.createsOverTries} ` +
      `unconfirmed_tries=${checks.unconfirmedTries} ` +
      `billing{${VENDORS.map((v) => `${v}=${billing[v].billedUsd.toFixed(4)}/${billing[v].ledgerUsd.toFixed(4)}`).join(' ')}} ` +
      `faults{kill=${count('kill')},term=${count('term')},dup=${count('dup')},vendor=${count('vendor')}} ` +
      (pass ? 'PASS' : 'FAIL');
    return {
      pass,
      summary,
      seed: options.seed,
      durationMs: Date.now() - started,
      checks,
      faults,
      jobs: reports,
      unrecordedTasks,
      vendorCalls,
    };
  } finally {
    await stack?.stop();
    await jobs?.db.terminate();
    await new Promise<void>((r) => receiver.close(() => r()));
    await Promise.all([vendors.runway.close(), vendors.replicate.close(), vendors.veo.close()]);
  }
}

const round6 = (usd: number) => Math.round(usd * 1e6) / 1e6;

/** Every vendor task a try of any attempt records. */
function triedTasks(shots: Shot[]): string[] {
  return shots.flatMap((s) =>
    Object.values(s.attempts ?? {}).flatMap((a) => (a.tries ?? []).map((t) => t.vendorTaskId).filter(isString)),
  );
}

/** Tasks still stored as in flight on an attempt (at the end, on a job that is over). */
function tasksInFlight(shots: Shot[]): string[] {
  return shots.flatMap((s) => Object.values(s.attempts ?? {}).map((a) => a.vendorTaskId)).filter(isString);
}

const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * Publishes an extra copy of one shot's render request onto the topic of the backend that holds
 * its attempt: a shot still rendering when there is one (two workers on one attempt), else any.
 */
async function duplicateDelivery(
  stack: LocalStack,
  jobs: JobStore,
  submitted: { id: string }[],
  rand: () => number,
): Promise<Record<string, unknown>> {
  const candidates: Shot[] = [];
  const fallbacks: Shot[] = [];
  for (const { id } of submitted) {
    for (const shot of await jobs.listShots(id)) (shot.status === 'RENDERING' ? candidates : fallbacks).push(shot);
  }
  const pool = candidates.length ? candidates : fallbacks;
  if (!pool.length) return { skipped: 'no shot planned yet' };
  const shot = pick(rand, pool);
  const attempt = shot.attempts[String(shot.attempt)];
  const backend = attempt?.backend ?? shot.backend;
  const topic = renderTopicFor(backend);
  const pubsub = new PubSub({ projectId: stack.info.projectId });
  try {
    await pubsub.topic(topic).publishMessage({
      json: {
        v: 1,
        jobId: shot.jobId,
        tenantId: stack.info.tenantId,
        shotId: shot.shotId,
        attempt: shot.attempt,
        spec: shot.spec,
      },
    });
  } finally {
    await pubsub.close();
  }
  return { topic, jobId: shot.jobId, shotId: shot.shotId, attempt: shot.attempt, shotStatus: shot.status };
}

/** The on-demand run's faults: every service killed once and stopped once, then N/2 duplicate
 *  deliveries and 2N vendor faults, over two minutes. */
export const fullBudget = (jobs: number): FaultBudget => ({
  kills: 0,
  terms: 0,
  dups: Math.ceil(jobs / 2),
  vendor: 2 * jobs,
  windowMs: 120_000,
  everyService: true,
});

/** The `npm test` run's faults: a few of each kind, over half a minute. */
export const shortBudget = (): FaultBudget => ({
  kills: 1,
  terms: 1,
  dups: 2,
  vendor: 6,
  windowMs: 25_000,
  everyService: false,
});
