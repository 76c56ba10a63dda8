// The sample brief through the running local platform, submit → DELIVERED, next to one plain
// ffmpeg command that makes the same video (the "animatic preview" workload of PERFORMANCE.md),
// interleaved in the same run. Prints a table per run and the medians, with the job's stages from
// its timeline (planning, each shot's render and QA, the assembly's own stages), the Pub/Sub
// messages the services handled per job, and memory: every service's RSS idle and the whole
// platform's peak (services, emulators and their ffmpeg children).
//
//   pnpm build && pnpm bench:e2e                      (3 runs after a warm-up)
//   pnpm build && pnpm bench:e2e --concurrent 20      (20 jobs at once against 20 references back to back)
//   pnpm build && pnpm bench:e2e --minute             (assembly seconds per output minute, a 60 s brief)
//   pnpm build && pnpm bench:e2e --overhead           (Replicate on its test server, 25 s a clip: delivered
//                                                      time minus the slowest shot's render)
//
// Run on demand, never in CI. Compare ratios, not seconds: these machines are noisy.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_FONT_FILE, h264Args, probe, runFfmpeg } from '../packages/media/src';
import { Firestore } from '@google-cloud/firestore';
import { JobStore, TenantStore } from '../packages/job-store/src';
import { startReplicateServer } from '../packages/testing/src/vendors/replicate-server';
import { GatewayClient } from '../infra/local/src/client';
import { LocalStack } from '../infra/local/src/stack';
import { report } from './lib';

const ROOT = join(__dirname, '..');
const BRIEF = JSON.parse(readFileSync(join(ROOT, 'examples/briefs/aurora-15s.json'), 'utf8')) as Record<
  string,
  unknown
>;
const JOB_TIMEOUT_MS = 10 * 60_000;
const FPS = 30;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    concurrent: { type: 'string' },
    minute: { type: 'boolean' },
    overhead: { type: 'boolean' },
  },
});
/** A clip from the Replicate protocol test server: 5 s starting, 20 s processing, like a real vendor's. */
const VENDOR_CLIP = { starting: { ms: 5_000 }, processing: { ms: 20_000 } };
const RUNS = Math.max(1, Math.min(10, Number(args.runs)));
const CONCURRENT = args.concurrent ? Math.max(2, Math.min(50, Number(args.concurrent))) : 0;

// ---------------------------------------------------------------------------------------------
// The reference: one ffmpeg command, one filtergraph, one encode (PERFORMANCE.md's workload)
// ---------------------------------------------------------------------------------------------

const SHOTS = [
  { frames: 158, colors: ['0x0B1D3A', '0x1E6FD9'], text: 'Meet Aurora' },
  { frames: 165, colors: ['0x3A0B2E', '0xD91E6F'], text: 'Lighter every mile' },
  { frames: 157, colors: ['0x0B3A1D', '0x1ED96F'], text: 'Run brighter' },
];
const FADE_FRAMES = 15;

/**
 * As one would write it for speed: each gradient drawn once, as yuv420p, looped, then zoomed
 * (bilinear) and titled per frame. Drawing the gradient on every frame, or scaling RGBA with the
 * default bicubic, triples the filtergraph's time (7 s instead of 2 s here) and would flatter
 * every ratio against it.
 */
function referenceGraph(): string {
  const g = SHOTS.map((s, i) => {
    const zoom = `(1+0.08*n/${s.frames})`;
    return (
      `gradients=s=1280x720:r=${FPS}:c0=${s.colors[0]}:c1=${s.colors[1]}:n=2:x0=0:y0=0:x1=0:y1=719:speed=0.00001,` +
      `trim=end_frame=1,format=yuv420p,loop=loop=${s.frames - 1}:size=1:start=0,setpts=N/${FPS}/TB,` +
      `scale=w='trunc(1280*${zoom}/2)*2':h='trunc(720*${zoom}/2)*2':eval=frame:flags=bilinear,crop=1280:720,` +
      `drawtext=fontfile=${DEFAULT_FONT_FILE}:text='${s.text}':fontsize=64:fontcolor=white:x=(w-text_w)/2:y=(h-text_h)/2,` +
      `setpts=PTS-STARTPTS[s${i}]`
    );
  });
  const first = (SHOTS[0]!.frames - FADE_FRAMES) / FPS;
  const second = (SHOTS[0]!.frames + SHOTS[1]!.frames - 2 * FADE_FRAMES) / FPS;
  g.push(`[s0][s1]xfade=transition=fade:duration=${FADE_FRAMES / FPS}:offset=${first}[x]`);
  g.push(`[x][s2]xfade=transition=fade:duration=${FADE_FRAMES / FPS}:offset=${second}[v]`);
  // A soft two-note pad at about -20 LUFS.
  g.push(`aevalsrc=exprs=0.1*sin(2*PI*220*t)+0.05*sin(2*PI*277.18*t):s=48000:c=stereo:d=15[a]`);
  return g.join(';');
}

async function reference(outFile: string): Promise<void> {
  await runFfmpeg(
    [
      '-v',
      'error',
      '-filter_complex',
      referenceGraph(),
      '-map',
      '[v]',
      '-map',
      '[a]',
      '-frames:v',
      String(15 * FPS),
      ...h264Args(23, FPS),
      '-c:a',
      'aac',
      '-b:a',
      '160k',
      '-movflags',
      '+faststart',
      '-y',
      outFile,
    ],
    { timeoutMs: 120_000, operation: 'bench_reference' },
  );
}

// ---------------------------------------------------------------------------------------------
// Memory: RSS of a process and everything under it, sampled from /proc
// ---------------------------------------------------------------------------------------------

function processTable(): Map<number, { ppid: number; rssBytes: number }> {
  const table = new Map<number, { ppid: number; rssBytes: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(fields[1]), rssBytes: Number(fields[21]) * 4096 });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return table;
}

function treeRss(table: ReturnType<typeof processTable>, root: number): number {
  let total = 0;
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += table.get(pid)?.rssBytes ?? 0;
    for (const [child, p] of table) if (p.ppid === pid) stack.push(child);
  }
  return total;
}

const mb = (bytes: number) => Math.round(bytes / 1e6);

/** Samples the platform's total RSS every 100 ms until stopped; its peak, in bytes. */
function peakSampler(roots: number[]): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    const table = processTable();
    peak = Math.max(
      peak,
      roots.reduce((sum, pid) => sum + treeRss(table, pid), 0),
    );
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Pub/Sub messages handled, from every service's /metrics (aiprod_pubsub_messages)
// ---------------------------------------------------------------------------------------------

async function messagesHandled(ports: number[]): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n'))
      if (line.startsWith('aiprod_pubsub_messages_total{') || line.startsWith('aiprod_pubsub_messages{'))
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// One job: submitted, waited for, its stages read from its timeline
// ---------------------------------------------------------------------------------------------

interface JobRun {
  ms: number;
  /** When the job was DELIVERED, by its timeline (epoch ms). */
  deliveredAt: number;
  stages: Record<string, number>;
}

type Event = { type: string; at: string; data: Record<string, unknown> };

function stagesOf(events: Event[], submittedAt: number): Record<string, number> {
  const at = (type: string, pred: (e: Event) => boolean = () => true) => {
    const e = events.find((x) => x.type === type && pred(x));
    return e ? Date.parse(e.at) : NaN;
  };
  const shots = [...new Set(events.map((e) => e.data.shotId).filter((s): s is string => typeof s === 'string'))];
  const per = (from: string, to: string) =>
    shots.map((id) => at(to, (e) => e.data.shotId === id) - at(from, (e) => e.data.shotId === id));
  const max = (xs: number[]) => Math.max(...xs.filter(Number.isFinite));
  const delivered = events.find((e) => e.type === 'job.delivered');
  const assembly = (delivered?.data.stagesMs ?? {}) as Record<string, number>;
  return {
    submitToCreatedMs: at('job.created') - submittedAt,
    planningMs: at('job.planned') - at('job.created'),
    plannedToFirstRenderMs:
      Math.min(...shots.map((id) => at('shot.rendering', (e) => e.data.shotId === id))) - at('job.planned'),
    slowestRenderMs: max(per('shot.rendering', 'shot.rendered')),
    slowestQaMs: max(per('shot.rendered', 'shot.passed')),
    lastPassToAssemblingMs:
      at('job.assembling') - max(shots.map((id) => at('shot.passed', (e) => e.data.shotId === id))),
    assemblyMs: at('job.delivered') - at('job.assembling'),
    ...Object.fromEntries(Object.entries(assembly).map(([k, v]) => [`assembly.${k}Ms`, v])),
  };
}

async function runJob(
  client: GatewayClient,
  jobs: JobStore,
  concurrent = false,
  brief = BRIEF,
  options: { approve?: boolean } = {},
): Promise<JobRun> {
  // Every run renders its shots: the render cache would hand a repeated brief its earlier clips.
  if (!concurrent) await jobs.db.recursiveDelete(jobs.db.collection('renderCache'));
  const submittedAt = Date.now();
  const submitted = await client.submit(brief);
  if (options.approve) {
    // A paid plan waits for the client: approved as soon as it is seen (the wait is the client's).
    let approved = false;
    for (let polls = 0; polls < 600; polls += 1) {
      const view = await client.get(submitted.id);
      if (view.status === 'AWAITING_APPROVAL' && !approved) {
        await client.approve(submitted.id);
        approved = true;
      }
      if (!['QUEUED', 'PLANNING', 'AWAITING_APPROVAL'].includes(view.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Times come from the job's timeline, not from when a poll saw it: with twenty jobs at once the
  // polls are kept rare so that they do not load the gateway and the emulator they measure.
  const job = await client.waitForTerminal(submitted.id, {
    timeoutMs: JOB_TIMEOUT_MS,
    intervalMs: concurrent ? 2_000 : 100,
  });
  if (job.status !== 'DELIVERED') throw new Error(`job ${job.id} ended ${job.status}: ${job.error?.message ?? '?'}`);
  // As operators see it (the client's view leaves out the assembly's stages).
  const events = (await jobs.listEvents(job.id)).map((e) => ({
    type: e.type,
    at: e.at.toDate().toISOString(),
    data: e.data,
  }));
  if (process.env.BENCH_DEBUG) console.log(events.map((e) => `${e.at} ${e.type} ${JSON.stringify(e.data)}`).join('\n'));
  const deliveredAt = Date.parse(events.find((e) => e.type === 'job.delivered')!.at);
  return { ms: deliveredAt - submittedAt, deliveredAt, stages: stagesOf(events, submittedAt) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-bench-e2e-'));
  // --overhead: the shots go to the Replicate pool, on its protocol test server with a vendor's
  // latency, polled at the pool's own default interval (as deployed).
  const replicate = args.overhead
    ? await startReplicateServer({ apiToken: 'r8_bench_0123456789abcdef', defaultPrediction: VENDOR_CLIP })
    : undefined;
  const stack = await LocalStack.start({
    repoRoot: ROOT,
    stateDir: join(dir, 'state'),
    log: () => undefined,
    ...(replicate
      ? {
          vendorPools: {
            replicate: { REPLICATE_API_TOKEN: 'r8_bench_0123456789abcdef', REPLICATE_BASE_URL: replicate.baseUrl },
          },
          // The test server's clips are test patterns without the planned text: no OCR judge.
          serviceEnv: { qa: { QA_JUDGE: 'none' } },
        }
      : {}),
  });
  // Interrupted (Ctrl-C, a timeout): the platform's processes stop with the bench.
  const interrupted = () => void stack.stop().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const client = new GatewayClient(stack.info);
    const jobs = new JobStore(new Firestore({ projectId: stack.info.projectId }));
    const services = Object.entries(stack.info.services).filter(
      (e): e is [string, { pid: number; port: number }] => !!e[1],
    );
    const metricsPorts = services.map(([name, s]) => (name === 'gateway' ? stack.info.gatewayMetricsPort! : s.port));
    const emulatorPids = Object.values(stack.info.emulators).filter((pid): pid is number => pid !== null);
    const roots = [...services.map(([, s]) => s.pid), ...emulatorPids];

    // Warm-up: one of each (the first ffmpeg, the first Firestore queries, JIT).
    await reference(join(dir, 'warm.mp4'));
    await runJob(client, jobs, false, BRIEF, { approve: !!replicate });
    await new Promise((r) => setTimeout(r, 2_000));
    const table = processTable();
    const idle = Object.fromEntries(services.map(([name, s]) => [name, mb(treeRss(table, s.pid))]));

    if (replicate) {
      // Orchestration overhead: what the platform adds to the slowest shot's render.
      const rows: Record<string, string | number>[] = [];
      for (let i = 0; i < RUNS; i += 1) {
        const run = await runJob(client, jobs, false, BRIEF, { approve: true });
        rows.push({
          run: i + 1,
          platformMs: run.ms,
          slowestRenderMs: run.stages.slowestRenderMs!,
          overheadMs: run.ms - run.stages.slowestRenderMs!,
          ...run.stages,
        });
      }
      report('e2e-overhead', rows);
      return;
    }

    if (args.minute) {
      // Assembly seconds per output minute: a 60 s brief at the largest frame the platform
      // delivers (1:1, 1080x1080; its 16:9 is 720p), timed by the assembly's own stages.
      const long = { ...BRIEF, durationSeconds: 60, aspectRatios: ['1:1'], preset: 'brand_campaign' };
      const rows: Record<string, string | number>[] = [];
      for (let i = 0; i < RUNS; i += 1) {
        const run = await runJob(client, jobs, false, long);
        rows.push({
          run: i + 1,
          platformMs: run.ms,
          assemblyMs: run.stages.assemblyMs!,
          assemblySecondsPerOutputMinute: Number((run.stages.assemblyMs! / 1000).toFixed(2)),
          ...Object.fromEntries(Object.entries(run.stages).filter(([k]) => k.startsWith('assembly.'))),
        });
      }
      report('e2e-minute', rows);
      return;
    }

    if (CONCURRENT) {
      const refStart = Date.now();
      for (let i = 0; i < CONCURRENT; i += 1) await reference(join(dir, 'ref.mp4'));
      const refMs = Date.now() - refStart;
      const before = await messagesHandled(metricsPorts);
      const sampler = peakSampler(roots);
      const started = Date.now();
      await jobs.db.recursiveDelete(jobs.db.collection('renderCache'));
      // One tenant a job: the same brief twenty times would otherwise share its renders (the render
      // cache is per tenant) and meet the tenant's rate limits rather than the platform's.
      const tenants = new TenantStore(jobs.db);
      const clients = await Promise.all(
        Array.from({ length: CONCURRENT }, async (_, i) => {
          const tenantId = `bench-${Date.now().toString(36)}-${i}`;
          await tenants.createTenant({ tenantId, name: `Bench ${i + 1}` });
          const { key } = await tenants.createApiKey(tenantId, ['jobs:read', 'jobs:write', 'jobs:approve'], 'local');
          return new GatewayClient({ ...stack.info, apiKey: key });
        }),
      );
      const runs = await Promise.all(clients.map((c) => runJob(c, jobs, true)));
      const makespan = Math.max(...runs.map((r) => r.deliveredAt)) - started;
      const peak = sampler.stop();
      const messages = (await messagesHandled(metricsPorts)) - before;
      report('e2e-concurrent', [
        { what: `${CONCURRENT} × plain ffmpeg, back to back (reference)`, ms: refMs, ratio: 1 },
        {
          what: `${CONCURRENT} jobs at once through the local platform (makespan)`,
          ms: makespan,
          ratio: Number((makespan / refMs).toFixed(2)),
          slowestJobMs: Math.max(...runs.map((r) => r.ms)),
          messagesPerJob: Number((messages / CONCURRENT).toFixed(1)),
          platformPeakMB: mb(peak),
        },
      ]);
      console.log('idle RSS per service (MB, with children):', idle);
      return;
    }

    const rows: Record<string, string | number>[] = [];
    const refs: number[] = [];
    const ours: number[] = [];
    const peaks: number[] = [];
    const messages: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const t = Date.now();
      await reference(join(dir, 'ref.mp4'));
      refs.push(Date.now() - t);
      const before = await messagesHandled(metricsPorts);
      const sampler = peakSampler(roots);
      const run = await runJob(client, jobs);
      peaks.push(sampler.stop());
      // The last acks (job.finished) land just after DELIVERED is written.
      await new Promise((r) => setTimeout(r, 1_000));
      messages.push((await messagesHandled(metricsPorts)) - before);
      ours.push(run.ms);
      rows.push({
        run: i + 1,
        referenceMs: refs[i]!,
        platformMs: run.ms,
        ratio: Number((run.ms / refs[i]!).toFixed(2)),
        ...run.stages,
      });
    }
    const check = await probe(join(dir, 'ref.mp4'));
    console.table(rows);
    report('e2e', [
      {
        what: `plain ffmpeg (reference): ${check.video?.width}x${check.video?.height}, ${check.durationSeconds.toFixed(2)} s`,
        medianMs: median(refs),
        ratio: 1,
      },
      {
        what: 'sample brief, submit → DELIVERED (local platform)',
        medianMs: median(ours),
        ratio: Number((median(ours) / median(refs)).toFixed(2)),
        messagesPerJob: median(messages),
        platformPeakMB: mb(Math.max(...peaks)),
      },
      ...Object.entries(idle).map(([name, rss]) => ({
        what: `idle RSS: ${name} (MB)`,
        medianMs: 0,
        ratio: 0,
        rssMB: rss,
      })),
    ]);
  } finally {
    await stack.stop();
    await replicate?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
