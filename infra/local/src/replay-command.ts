import { userInfo } from 'node:os';
import { PubSub } from '@google-cloud/pubsub';
import type { Command } from 'commander';
import { JobStore } from '@aiprod/job-store';
import { replayDeadLetters } from '@aiprod/service-runtime';
import { adminFirestore } from './admin';
import type { StackInfo } from './stack';

/** `aiprod replay <subscription>`: an operator's replay of held dead letters (prints JSON). */
export function registerReplayCommand(program: Command, readInfo: () => StackInfo | null): void {
  program
    .command('replay <subscription>')
    .description("publish a subscription's held dead letters again and reopen the jobs they failed (prints JSON)")
    .option('--job <jobId>', 'only the letters of this job')
    .option('--limit <n>', 'at most this many letters', '10')
    .option('--wait-seconds <s>', 'how long to listen for held letters', '5')
    .option('--dry-run', 'list what would be replayed; change nothing')
    .action(
      async (subscription: string, opts: { job?: string; limit: string; waitSeconds: string; dryRun?: boolean }) => {
        const limit = Number(opts.limit);
        const waitSeconds = Number(opts.waitSeconds);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !(waitSeconds > 0 && waitSeconds <= 300)) {
          process.stderr.write(
            `${JSON.stringify({ error: { code: 'usage', message: '--limit 1..1000, --wait-seconds 0..300' } })}\n`,
          );
          process.exitCode = 2;
          return;
        }
        const { db } = adminFirestore(readInfo);
        const info = readInfo();
        if (!process.env.PUBSUB_EMULATOR_HOST && info) process.env.PUBSUB_EMULATOR_HOST = info.pubsubEmulatorHost;
        const pubsub = new PubSub({ projectId: process.env.GCP_PROJECT ?? info?.projectId });
        try {
          const letters = await replayDeadLetters({
            pubsub,
            jobs: new JobStore(db),
            subscription,
            operator: process.env.AIPROD_OPERATOR ?? userInfo().username,
            ...(opts.job ? { jobId: opts.job } : {}),
            limit,
            dryRun: Boolean(opts.dryRun),
            waitMs: waitSeconds * 1000,
          });
          process.stdout.write(`${JSON.stringify({ subscription, letters }, null, 2)}\n`);
        } catch (e) {
          process.stderr.write(
            `${JSON.stringify({ error: { code: 'failed', message: e instanceof Error ? e.message : String(e) } })}\n`,
          );
          process.exitCode = 1;
        } finally {
          await pubsub.close();
          await db.terminate();
        }
      },
    );
}
