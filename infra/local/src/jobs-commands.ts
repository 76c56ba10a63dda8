import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { unwrap, type Brief, type components, type JobEstimate, type JobView, type Problem } from '@aiprod/client';
import { downloadFiles, filesOf } from './jobs-files';
import { jobIdArg, openJobsConnection, reportFailure, type JobsConnection } from './jobs-client';
import { watchJob, type ProgressOutput } from './jobs-progress';
import { emit, table, usage } from './ops-context';
import type { StackInfo } from './stack';

interface Json {
  json?: boolean;
}

function readBrief(file: string): Brief {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch {
    throw usage(`cannot read the brief ${file}`);
  }
  try {
    return JSON.parse(text) as Brief;
  } catch {
    throw usage(`the brief ${file} is not JSON`);
  }
}

/** How long `jobs estimate` follows a 202 (the planner still planning) before giving up. */
const ESTIMATE_FOLLOW_MS = 120_000;

/**
 * The planner prices a brief asynchronously: the gateway answers 200 when it has the estimate in
 * time, else 202 with the estimate's URL, which is polled (as Retry-After says) for a bounded time.
 */
export async function estimateOf(client: JobsConnection['client'], brief: Brief): Promise<JobEstimate> {
  const deadline = Date.now() + ESTIMATE_FOLLOW_MS;
  let result = await client.POST('/v1/estimates', { body: brief });
  while (result.response.status === 202) {
    const { estimateId } = result.data as unknown as { estimateId: string };
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new Error(`the estimate is still being planned; ask again later: GET /v1/estimates/${estimateId}`);
    }
    const header = Number(result.response.headers.get('retry-after') ?? NaN);
    const retryAfterMs = (Number.isFinite(header) && header >= 0 ? header : 2) * 1000;
    await new Promise((r) => setTimeout(r, Math.min(retryAfterMs, left)));
    result = (await client.GET('/v1/estimates/{id}', { params: { path: { id: estimateId } } })) as typeof result;
  }
  return unwrap(result) as JobEstimate;
}

/** Progress goes where it does not mix with the result: stdout for people, stderr beside --json. */
const progressOut = (json: boolean | undefined): ProgressOutput => {
  const stream = json ? process.stderr : process.stdout;
  return { tty: stream.isTTY === true, write: (text) => void stream.write(text) };
};

/** What an approval refusal means for the person at the terminal. */
function approvalHint(problem: Problem | null, status: number): string | undefined {
  if (status === 428) return 'the gateway needs If-Match with the plan version: review the plan, then approve it';
  if (status === 412) {
    return `the plan has changed since the version you approved${problem?.detail ? ` (${problem.detail})` : ''}: review it again with "aiprod jobs plan <id>" and approve the version you reviewed`;
  }
  return undefined;
}

async function finish(conn: JobsConnection, job: JobView, opts: Json & { dir?: string }): Promise<void> {
  if (job.status !== 'DELIVERED') process.exitCode = 1;
  if (opts.json) return emit(true, job, () => '');
  if (job.status !== 'DELIVERED') {
    process.stdout.write(`${job.id} ${job.status}${job.error ? `: ${job.error.message}` : ''}\n`);
    return;
  }
  const outputs = unwrap(await conn.client.GET('/v1/jobs/{id}/outputs', { params: { path: { id: job.id } } }));
  const files = await downloadFiles(filesOf(outputs), resolve(opts.dir ?? join('out', job.id)));
  process.stdout.write(`${job.id} DELIVERED ($${job.costUsd.toFixed(2)}); files:\n`);
  for (const f of files) process.stdout.write(`${f.path}\n`);
}

/**
 * `aiprod jobs …`: a client's commands, through the typed SDK against the gateway of
 * .aiprod/stack.json (or AIPROD_GATEWAY_URL + AIPROD_API_KEY). Failures print a problem document
 * on stderr: exit 2 when called wrongly, 1 when the API refused or the job did not deliver.
 */
export function registerJobsCommands(program: Command, readInfo: () => StackInfo | null): void {
  const jobs = program
    .command('jobs')
    .description("a client's job commands: submit, estimate, plan, watch, approve, cancel, download, open")
    .showHelpAfterError(false)
    .configureOutput({ outputError: (text) => reportFailure(usage(text.replace(/^error:\s*/, '').trim())) });
  const run =
    <A extends unknown[]>(body: (conn: () => JobsConnection, ...args: A) => Promise<void>, hint = approvalHint) =>
    async (...args: A) => {
      let conn: JobsConnection | undefined;
      try {
        await body(() => (conn ??= openJobsConnection(readInfo)), ...args);
      } catch (e) {
        reportFailure(e, hint);
      }
    };
  const idOf = (job: { id: string }) => job.id;

  jobs
    .command('submit <brief>')
    .description('submit a brief (a JSON file); --watch follows it to the end and downloads the files')
    .option('--watch', 'show live progress until the job is over; then print the files’ paths')
    .option('--dir <dir>', 'with --watch: where the files go (default out/<job id>)')
    .option('--json', 'print the job as JSON (with --watch: the finished job)')
    .action(
      run(async (conn, file: string, opts: Json & { watch?: boolean; dir?: string }) => {
        const brief = readBrief(file);
        const c = conn();
        const job = unwrap(await c.client.POST('/v1/jobs', { body: brief })) as JobView;
        if (!opts.watch)
          return emit(
            opts.json,
            job,
            () => `submitted ${job.id} (${job.status})\nfollow it: aiprod jobs watch ${job.id}`,
          );
        if (!opts.json) process.stdout.write(`submitted ${idOf(job)}\n`);
        await finish(c, await watchJob(c, job.id, progressOut(opts.json)), opts);
      }),
    );

  jobs
    .command('estimate <brief>')
    .description('price a brief without creating a job')
    .option('--json', 'print the estimate as JSON')
    .action(
      run(async (conn, file: string, opts: Json) => {
        const brief = readBrief(file);
        const e = await estimateOf(conn().client, brief);
        emit(opts.json, e, () =>
          [
            `estimate: $${e.totalUsd.toFixed(2)} with expected retakes (first pass $${e.firstPassUsd.toFixed(2)}, worst case $${e.worstCaseUsd.toFixed(2)})`,
            table(['shot', 'backend', 'seconds', 'expected $'], e.shots.map(shotRow)),
            ...e.notes,
          ].join('\n'),
        );
      }),
    );

  jobs
    .command('plan <id>')
    .description("a job's storyboard: every shot, its prompts and costs, and the plan version to approve")
    .option('--json', 'print the plan as JSON')
    .action(
      run(async (conn, raw: string, opts: Json) => {
        const id = jobIdArg(raw);
        const plan = unwrap(await conn().client.GET('/v1/jobs/{id}/plan', { params: { path: { id } } }));
        emit(opts.json, plan, () => planText(plan));
      }),
    );

  jobs
    .command('watch <id>')
    .description('live progress of a job (stage, shots done, cost so far) until it is over')
    .option('--json', 'print the finished job as JSON')
    .action(
      run(async (conn, raw: string, opts: Json) => {
        const id = jobIdArg(raw);
        const job = await watchJob(conn(), id, progressOut(opts.json));
        if (job.status !== 'DELIVERED') process.exitCode = 1;
        emit(opts.json, job, () => `${job.id} ${job.status}${job.error ? `: ${job.error.message}` : ''}`);
      }),
    );

  jobs
    .command('approve <id>')
    .description('approve the plan version you reviewed (sent as If-Match); a changed plan is refused')
    // Required: approving "whatever the plan is now" would defeat If-Match, and pay for a version
    // someone changed after you looked (`aiprod jobs plan <id>` shows the version).
    .requiredOption('--version <n>', 'the plan version you reviewed (aiprod jobs plan <id> shows it)')
    .option('--json', 'print the job as JSON')
    .action(
      run(async (conn, raw: string, opts: Json & { version: string }) => {
        const id = jobIdArg(raw);
        if (!/^[1-9]\d{0,8}$/.test(opts.version)) {
          throw usage('--version must be a plan version: a whole number from 1');
        }
        const c = conn();
        const etag = `"${opts.version}"`;
        const job = unwrap(
          await c.client.POST('/v1/jobs/{id}/approve', { params: { path: { id }, header: { 'If-Match': etag } } }),
        ) as JobView;
        emit(opts.json, job, () => `approved plan version ${etag.replace(/"/g, '')} of ${job.id} (${job.status})`);
      }),
    );

  jobs
    .command('cancel <id>')
    .description('cancel a job that has not finished')
    .option('--json', 'print the job as JSON')
    .action(
      run(async (conn, raw: string, opts: Json) => {
        const id = jobIdArg(raw);
        const job = unwrap(await conn().client.POST('/v1/jobs/{id}/cancel', { params: { path: { id } } })) as JobView;
        emit(opts.json, job, () => `${job.id} ${job.status}`);
      }),
    );

  jobs
    .command('download <id>')
    .description("download a delivered job's files (every variant, poster, contact sheet), sizes verified")
    .option('--dir <dir>', 'where the files go (default out/<job id>)')
    .option('--json', 'print the files as JSON')
    .action(
      run(async (conn, raw: string, opts: Json & { dir?: string }) => {
        const id = jobIdArg(raw);
        const outputs = unwrap(await conn().client.GET('/v1/jobs/{id}/outputs', { params: { path: { id } } }));
        const files = await downloadFiles(filesOf(outputs), resolve(opts.dir ?? join('out', id)));
        emit(opts.json, { jobId: id, files }, () => files.map((f) => f.path).join('\n'));
      }),
    );

  jobs
    .command('open <id>')
    .description("print a signed, expiring link to the job's review page (no API key needed to open it)")
    .option('--json', 'print the link and its expiry as JSON')
    .action(
      run(async (conn, raw: string, opts: Json) => {
        const id = jobIdArg(raw);
        const link = unwrap(
          await conn().client.POST('/v1/jobs/{id}/review-link', { params: { path: { id } }, body: {} }),
        );
        emit(opts.json, link, () => `${link.url}\n(expires ${link.expiresAt})`);
      }),
    );
}

const shotRow = (s: JobEstimate['shots'][number]) => [s.shotId, s.backend, s.durationSeconds, money(s.expectedUsd)];
const money = (v: unknown) => (typeof v === 'number' ? v.toFixed(2) : null);

type PlanView = components['schemas']['Plan'];

function planText(plan: PlanView): string {
  const t = plan.totals;
  return [
    `plan version ${plan.version} of ${plan.jobId} (${plan.status}): ${plan.shots.length} shots` +
      (t ? `; expected $${t.expectedUsd.toFixed(2)}, worst case $${t.worstCaseUsd.toFixed(2)}` : ''),
    table(
      ['shot', 'seconds', 'camera', 'backend', 'expected $', 'purpose'],
      plan.shots.map((s) => [s.id, s.durationSeconds, s.camera, s.backend, money(s.cost?.expectedUsd), s.purpose]),
    ),
    ...(plan.preview
      ? [`preview (version ${plan.preview.planVersion}): ${plan.preview.status} ${plan.preview.url ?? ''}`.trimEnd()]
      : []),
    plan.status === 'AWAITING_APPROVAL'
      ? `approve it: aiprod jobs approve ${plan.jobId} --version ${plan.version}`
      : '',
  ].join('\n');
}
