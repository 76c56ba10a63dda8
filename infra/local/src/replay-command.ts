import type { Command } from 'commander';
import { openOpsContext, problemJson, usage, workSubscription, type OpsContext } from './ops-context';
import { redriveDeadLetters } from './ops-dlq';
import type { StackInfo } from './stack';

/**
 * `aiprod replay <subscription>`: the old name of `aiprod ops dlq redrive … --json`. Kept for
 * scripts written before `ops`: same options, same exit codes (2 called wrongly, 1 failed), the
 * same JSON on stdout (plus `topic`, `dryRun` and each letter's job context). Its errors changed:
 * stderr now carries a problem document like every `ops` command's, not the old
 * `{"error":{"code","message"}}`; a script that parses it must read `type` and `detail`.
 */
export function registerReplayCommand(program: Command, readInfo: () => StackInfo | null): void {
  program
    .command('replay <subscription>')
    .description('the same as "aiprod ops dlq redrive <subscription> --json" (its old name)')
    .option('--job <jobId>', 'only the letters of this job')
    .option('--limit <n>', 'at most this many letters', '10')
    .option('--wait-seconds <s>', 'how long to listen for held letters', '5')
    .option('--dry-run', 'list what would be replayed; change nothing')
    .action(
      async (subscription: string, opts: { job?: string; limit: string; waitSeconds: string; dryRun?: boolean }) => {
        let ctx: OpsContext | undefined;
        try {
          const limit = Number(opts.limit);
          const waitSeconds = Number(opts.waitSeconds);
          if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !(waitSeconds > 0 && waitSeconds <= 300))
            throw usage('--limit 1..1000, --wait-seconds 0..300');
          workSubscription(subscription);
          ctx = openOpsContext({}, readInfo);
          const result = await redriveDeadLetters(ctx, {
            subscription,
            ...(opts.job ? { jobId: opts.job } : {}),
            limit,
            waitSeconds,
            dryRun: Boolean(opts.dryRun),
          });
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } catch (e) {
          const { problem, exitCode } = problemJson(e);
          process.stderr.write(`${JSON.stringify(problem)}\n`);
          process.exitCode = exitCode;
        } finally {
          await ctx?.close();
        }
      },
    );
}
