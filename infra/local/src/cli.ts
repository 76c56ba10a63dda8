#!/usr/bin/env node
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { registerAdminCommands } from './admin';
import { registerJobsCommands } from './jobs-commands';
import { registerReplayCommand } from './replay-command';
import { registerOpsCommands } from './ops';
import { runDemo } from './demo';
import { runQaCommand, UsageError, type QaCommandOptions } from './qa-command';
import { setLocalWebhook, verifyWebhookCommand } from './webhook-commands';
import { stopStack, type StackInfo } from './stack';
import { stackUp } from './stack-up';
import { describeVendorTestServers } from './vendor-servers';
import { registerStackCommands } from './stack-commands';

const repoRoot = resolve(__dirname, '..', '..', '..');
const stateDir = resolve(process.env.AIPROD_STATE_DIR ?? join(repoRoot, '.aiprod'));
const stackFile = join(stateDir, 'stack.json');
const readInfo = (): StackInfo | null =>
  existsSync(stackFile) ? (JSON.parse(readFileSync(stackFile, 'utf8')) as StackInfo) : null;

const program = new Command('aiprod').description('AIPROD local platform and tools').showHelpAfterError();
// Usage errors exit 2 (so scripts can tell "rejected" from "called wrongly"); help exits 0.
program.exitOverride((error) => {
  process.exit(error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2);
});

program
  .command('up')
  .description('start the local platform and write .aiprod/stack.json; returns once everything is healthy')
  .option(
    '--vendor-test-servers',
    "also run the Runway, Veo and Replicate pools, against the vendors' protocol test servers (no paid account)",
  )
  .option(
    '--backend-models <list>',
    'the model per render pool, as BACKEND_MODELS (e.g. replicate=bytedance/seedance-1-lite), for the planner and the pools alike',
  )
  .action(async (opts: { vendorTestServers?: boolean; backendModels?: string }) => {
    if (readInfo()) throw new Error(`a stack is already recorded in ${stackFile}; run "pnpm stack:down" first`);
    const stack = await stackUp({
      repoRoot,
      stateDir,
      prometheus: {},
      vendorTestServers: Boolean(opts.vendorTestServers),
      ...(opts.backendModels ? { backendModels: opts.backendModels } : {}),
      log: (l) => process.stdout.write(`${l}\n`),
    });
    stack.writeInfo(stackFile);
    process.stdout.write(`metrics: ${stack.info.prometheus!.url} (Prometheus, scraping every service)\n`);
    if (stack.info.vendorTestServers) {
      process.stdout.write(`${describeVendorTestServers(stack.info.vendorTestServers).join('\n')}\n`);
    }
    process.stdout.write(`ready: ${stack.info.gatewayUrl} (details in ${stackFile})\n`);
  });

program
  .command('down')
  .description('stop every process the local platform started')
  .action(async () => {
    const info = readInfo();
    if (!info) {
      process.stdout.write('no stack is running\n');
      return;
    }
    await stopStack(info);
    rmSync(stackFile);
    process.stdout.write('stopped\n');
  });

program
  .command('demo')
  .description('start the platform, render the sample brief into a video, stop the platform; prints the MP4 path last')
  .option('--brief <file>', 'the brief to submit', join(repoRoot, 'examples', 'briefs', 'aurora-15s.json'))
  .option('--out <dir>', 'where to write the delivered video', join(repoRoot, 'out'))
  .action(async (opts: { brief: string; out: string }) => {
    if (readInfo()) throw new Error(`a stack is already running (${stackFile}); run "pnpm stack:down" first`);
    const demoState = join(stateDir, 'demo');
    rmSync(demoState, { recursive: true, force: true });
    const file = await runDemo({
      repoRoot,
      briefFile: resolve(opts.brief),
      outDir: resolve(opts.out),
      stateDir: demoState,
    });
    process.stdout.write(`${file}\n`);
  });

program
  .command('verify-webhook')
  .description(
    'check a received webhook the way a client must: signature and timestamp; exit 0 valid, 1 invalid, 2 usage error',
  )
  .requiredOption('--secret <whsec>', 'the endpoint secret (whsec_…)')
  .requiredOption('--body <file>', 'the raw request body, byte for byte')
  .option(
    '--header <name: value>',
    'a received header (repeat for webhook-id, webhook-timestamp, webhook-signature)',
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .option('--tolerance <seconds>', 'how old a timestamp may be', '300')
  .action((opts: { secret: string; body: string; header: string[]; tolerance: string }) => {
    const result = verifyWebhookCommand({ ...opts, body: resolve(opts.body) });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exitCode = result.ok ? 0 : 1;
  });

program
  .command('webhook-set <url>')
  .description("send the local development tenant's job webhooks to <url>; prints the signing secret once, as JSON")
  .action(async (url: string) => {
    const info = readInfo();
    if (!info) throw new UsageError('no local platform is running: "pnpm stack:up" first');
    process.stdout.write(`${JSON.stringify(await setLocalWebhook(info, url), null, 2)}\n`);
  });

program
  .command('qa <file>')
  .description(
    "run the platform's QA checks on a video file; prints a JSON report; exit 0 pass, 1 rejected, 2 usage error",
  )
  .option('--plan <shot.json>', 'the planned shot (a shot spec as JSON) to check against')
  .option('--preset <name>', 'the preset whose thresholds apply', 'social_quick')
  .option('--judge <kind>', 'semantic judge: local (OCR and plan conformance) or none', 'local')
  .option('--expect-audio', 'the file must carry sound')
  .action(async (file: string, opts: QaCommandOptions) => {
    const report = await runQaCommand(resolve(file), { ...opts, ...(opts.plan ? { plan: resolve(opts.plan) } : {}) });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.exitCode = report.verdict === 'pass' ? 0 : 1;
  });

registerAdminCommands(program, readInfo);
registerReplayCommand(program, readInfo);
registerOpsCommands(program, readInfo);
registerJobsCommands(program, readInfo);
registerStackCommands(program, readInfo);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`aiprod: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
