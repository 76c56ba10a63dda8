import type { Command } from 'commander';
import {
  emit,
  isoTime,
  openOpsContext,
  problemJson,
  snapshotName,
  table,
  usage,
  workSubscription,
  type OpsContext,
} from './ops-context';
import { listDeadLetters, redriveDeadLetters, showDeadLetter } from './ops-dlq';
import { JOB_STAGES, jobTimeline, replayJobStage } from './ops-job';
import { seekReplays, type SeekReplayResult, type SeekTarget } from './ops-replay';
import { createSnapshot, deleteSnapshot, listSnapshots } from './ops-snapshot';
import type { StackInfo } from './stack';

interface Common {
  json?: boolean;
  project?: string;
}

const wholeNumber = (name: string, raw: string, max: number) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw usage(`${name} must be a whole number from 1 to ${max}`);
  return n;
};

function replayText(r: SeekReplayResult): string {
  const n = r.redeliveries.count === null ? 'an unknown number of' : String(r.redeliveries.count);
  const verb = r.seeked ? 'seeked' : 'would seek';
  const to = 'time' in r.target ? r.target.time : `snapshot ${r.target.snapshot}`;
  return [
    `${r.subscription}: ${verb} to ${to}; ${n} message(s) of ${r.redeliveries.jobs.length} job(s) to be redelivered`,
    `  (based on ${r.redeliveries.basedOn})`,
    `  ${r.note}`,
  ].join('\n');
}

/**
 * `aiprod ops …`: operator commands. Each prints a short text, or one JSON document with --json;
 * a failure prints a problem document (type, title, detail, exitCode) on stderr and exits 2 when
 * the command was called wrongly, 1 when the operation failed.
 */
export function registerOpsCommands(program: Command, readInfo: () => StackInfo | null): void {
  const fail = (error: unknown) => {
    const { problem, exitCode } = problemJson(error);
    process.stderr.write(`${JSON.stringify(problem)}\n`);
    process.exitCode = exitCode;
  };
  const ops = program
    .command('ops')
    .description('operator commands: replay by seek, snapshots, dead letters, job timelines and replays')
    .showHelpAfterError(false)
    .configureOutput({
      // Commander's own usage errors (a missing argument, an unknown option), as problem documents.
      outputError: (text) => fail(usage(text.replace(/^error:\s*/, '').trim())),
    });
  /**
   * Runs one command. Its body checks its arguments first and then calls `open()` for the
   * project's clients, so a wrong call is reported as such whatever the environment.
   */
  const run =
    <A extends unknown[]>(body: (open: () => OpsContext, ...args: A) => Promise<void>) =>
    async (...args: A) => {
      const opts = args.find((a): a is Common => typeof a === 'object' && a !== null && !Array.isArray(a)) ?? {};
      let ctx: OpsContext | undefined;
      try {
        await body(() => (ctx ??= openOpsContext(opts, readInfo)), ...args);
      } catch (e) {
        fail(e);
      } finally {
        await ctx?.close();
      }
    };
  const common = (c: Command) =>
    c
      .option('--json', 'print one JSON document')
      .option('--project <id>', 'the Google Cloud project (default: GCP_PROJECT, or the local stack)');

  common(
    ops
      .command('replay <subscriptions...>')
      .description(
        'seek subscriptions back to a time or a snapshot: Pub/Sub delivers again what they acked since. ' +
          'A seek to a time also acknowledges (drops) the messages published before it and not yet acked; ' +
          'each seek first takes an undo snapshot, printed with the way back',
      )
      .option('--to-time <iso>', 'an ISO 8601 time with its zone')
      .option('--to-snapshot <name>', 'a snapshot (see ops snapshot)')
      .option('--dry-run', 'count what would be redelivered; take no snapshot, seek nothing'),
  ).action(
    run(async (open, subs: string[], o: Common & { toTime?: string; toSnapshot?: string; dryRun?: boolean }) => {
      if (Boolean(o.toTime) === Boolean(o.toSnapshot)) throw usage('give exactly one of --to-time and --to-snapshot');
      const target: SeekTarget = o.toTime
        ? { time: isoTime('--to-time', o.toTime) }
        : { snapshot: snapshotName(o.toSnapshot!) };
      subs.forEach(workSubscription);
      const replays = await seekReplays(open(), { subscriptions: subs, target, dryRun: Boolean(o.dryRun) });
      emit(o.json, { replays }, () => replays.map(replayText).join('\n'));
    }),
  );

  const snapshot = ops.command('snapshot').description("a subscription's ack state, to seek back to");
  common(snapshot.command('create <subscription> <name>').description('snapshot a subscription now')).action(
    run(async (open, subscription: string, name: string, o: Common) => {
      workSubscription(subscription);
      snapshotName(name);
      const row = await createSnapshot(open(), subscription, name);
      emit(o.json, row, () => `created snapshot ${row.name} of ${row.subscription} at ${row.createdAt}`);
    }),
  );
  common(snapshot.command('list').description("the project's snapshots")).action(
    run(async (open, o: Common) => {
      const rows = await listSnapshots(open());
      emit(o.json, { snapshots: rows }, () =>
        table(
          ['NAME', 'SUBSCRIPTION', 'CREATED', 'BY', 'EXPIRES'],
          rows.map((r) => [r.name, r.subscription ?? r.topic, r.createdAt, r.createdBy, r.expireTime]),
        ),
      );
    }),
  );
  common(snapshot.command('delete <name>').description('delete a snapshot')).action(
    run(async (open, name: string, o: Common) => {
      snapshotName(name);
      const done = await deleteSnapshot(open(), name);
      emit(o.json, done, () => `deleted snapshot ${done.deleted}`);
    }),
  );

  const dlq = ops.command('dlq').description('dead letters, with their jobs');
  common(
    dlq
      .command('list')
      .description('dead letters on record, newest first')
      .option('--subscription <name>', 'only this subscription')
      .option('--limit <n>', 'at most this many', '50'),
  ).action(
    run(async (open, o: Common & { subscription?: string; limit: string }) => {
      const limit = wholeNumber('--limit', o.limit, 1000);
      if (o.subscription) workSubscription(o.subscription);
      const rows = await listDeadLetters(open(), {
        limit,
        ...(o.subscription ? { subscription: o.subscription } : {}),
      });
      emit(o.json, { deadLetters: rows }, () =>
        table(
          ['ID', 'AT', 'JOB', 'TENANT', 'STATE', 'REASON', 'REPLAYED'],
          rows.map((r) => [
            r.id,
            r.at,
            r.job?.jobId,
            r.job?.tenantId,
            r.job?.status,
            r.job?.failureReason,
            r.replayed ? 'yes' : 'no',
          ]),
        ),
      );
    }),
  );
  common(dlq.command('show <id>').description('one dead letter: its body and its job')).action(
    run(async (open, id: string, o: Common) => {
      const letter = await showDeadLetter(open(), id);
      emit(o.json, letter, () =>
        [
          `${letter.id} (${letter.topic}) dead-lettered ${letter.at}${letter.replayed ? `, replayed by ${letter.replayedBy}` : ''}`,
          letter.job
            ? `job ${letter.job.jobId} of ${letter.job.tenantId}: ${letter.job.status} ${letter.job.failureReason ?? ''} ${letter.job.failureMessage ?? ''}`
            : 'no job',
          `data: ${letter.data}`,
          ...letter.recentEvents.map((e) => `  ${e.at}  ${e.type}`),
        ].join('\n'),
      );
    }),
  );
  common(
    dlq
      .command('redrive <subscription>')
      .description("publish a subscription's held dead letters to their original topic and reopen their jobs")
      .option('--job <jobId>', 'only the letters of this job')
      .option('--limit <n>', 'at most this many letters', '10')
      .option('--wait-seconds <s>', 'how long to listen for held letters', '5')
      .option('--dry-run', 'list what would be redriven; change nothing'),
  ).action(
    run(
      async (
        open,
        subscription: string,
        o: Common & { job?: string; limit: string; waitSeconds: string; dryRun?: boolean },
      ) => {
        workSubscription(subscription);
        const limit = wholeNumber('--limit', o.limit, 1000);
        const waitSeconds = Number(o.waitSeconds);
        if (!(waitSeconds > 0 && waitSeconds <= 300)) throw usage('--wait-seconds must be more than 0 and at most 300');
        const result = await redriveDeadLetters(open(), {
          subscription,
          ...(o.job ? { jobId: o.job } : {}),
          limit,
          waitSeconds,
          dryRun: Boolean(o.dryRun),
        });
        emit(o.json, result, () =>
          table(
            ['MESSAGE', 'JOB', 'OUTCOME', 'JOB STATE'],
            result.letters.map((l) => [
              l.messageId,
              l.jobId,
              l.outcome,
              l.job && 'to' in l.job ? `${l.job.from} -> ${l.job.to}` : l.jobContext?.status,
            ]),
          ),
        );
      },
    ),
  );

  const job = ops.command('job').description("one job's history and replays");
  common(
    job.command('timeline <jobId>').description('events, attempts, vendor tries, QA and costs, in time order'),
  ).action(
    run(async (open, jobId: string, o: Common) => {
      const timeline = await jobTimeline(open(), jobId);
      emit(o.json, timeline, () =>
        [
          `job ${jobId} (${timeline.job.tenantId}): ${timeline.job.status}, $${timeline.job.costUsd.toFixed(2)}`,
          table(
            ['AT', 'KIND', 'WHAT', 'SHOT', 'DETAIL'],
            timeline.entries.map((e) => [e.at, e.kind, e.what, e.shotId, JSON.stringify(e.data).slice(0, 100)]),
          ),
        ].join('\n'),
      );
    }),
  );
  common(
    job
      .command('replay <jobId>')
      .description(`re-emit the message that starts a stage (${JOB_STAGES.join(', ')})`)
      .requiredOption('--from <stage>', `one of ${JOB_STAGES.join(', ')}`)
      .option('--shot <shotId>', 'render and qa: only this shot')
      .option('--dry-run', 'list what would be published; publish nothing'),
  ).action(
    run(async (open, jobId: string, o: Common & { from: string; shot?: string; dryRun?: boolean }) => {
      if (!(JOB_STAGES as readonly string[]).includes(o.from))
        throw usage(`--from must be one of ${JOB_STAGES.join(', ')} (got "${o.from}")`);
      const result = await replayJobStage(open(), {
        jobId,
        stage: o.from,
        ...(o.shot ? { shotId: o.shot } : {}),
        dryRun: Boolean(o.dryRun),
      });
      emit(o.json, result, () =>
        [
          `${result.dryRun ? 'would re-emit' : 're-emitted'} stage ${result.stage} of job ${jobId} (${result.status}):`,
          ...result.published.map((p) => `  ${p.topic}${p.shotId ? ` ${p.shotId}` : ''} ${p.messageId ?? ''}`),
        ].join('\n'),
      );
    }),
  );
}
