#!/usr/bin/env node
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { runDemo } from './demo';
import { LocalStack, stopStack, type StackInfo } from './stack';

const repoRoot = resolve(__dirname, '..', '..', '..');
const stateDir = resolve(process.env.AIPROD_STATE_DIR ?? join(repoRoot, '.aiprod'));
const stackFile = join(stateDir, 'stack.json');
const readInfo = (): StackInfo | null =>
  existsSync(stackFile) ? (JSON.parse(readFileSync(stackFile, 'utf8')) as StackInfo) : null;

const program = new Command('aiprod').description('AIPROD local platform and tools').showHelpAfterError();

program
  .command('up')
  .description('start the local platform and write .aiprod/stack.json; returns once everything is healthy')
  .action(async () => {
    if (readInfo()) throw new Error(`a stack is already recorded in ${stackFile}; run "pnpm stack:down" first`);
    const stack = await LocalStack.start({ repoRoot, stateDir, log: (l) => process.stdout.write(`${l}\n`) });
    stack.writeInfo(stackFile);
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

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`aiprod: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
