import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { probe } from '@aiprod/media';
import { GatewayClient } from './client';
import { httpsDownload } from './https-client';
import { LocalStack } from './stack';

/** The demo's local animatic job is delivered in well under a minute; five is the give-up point. */
const DEMO_JOB_TIMEOUT_MS = 5 * 60_000;

/**
 * The main job: bring up the local platform, submit the sample brief over HTTPS, show progress,
 * download the delivered video through its signed link, check it, stop the platform. Returns
 * the absolute path of the MP4.
 */
export async function runDemo(options: {
  repoRoot: string;
  briefFile: string;
  outDir: string;
  stateDir: string;
}): Promise<string> {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;
  const say = (line: string) => process.stdout.write(`${elapsed()}  ${line}\n`);
  const brief = JSON.parse(readFileSync(options.briefFile, 'utf8')) as { durationSeconds: number };

  const stack = await LocalStack.start({ repoRoot: options.repoRoot, stateDir: options.stateDir, log: say });
  stack.writeInfo(join(options.stateDir, 'stack.json'));
  try {
    say(`platform ready: gateway ${stack.info.gatewayUrl}`);
    const client = new GatewayClient(stack.info);
    const submitted = await client.submit(brief);
    say(`submitted ${options.briefFile.split('/').pop()} as job ${submitted.id}`);
    const job = await client.waitForTerminal(submitted.id, {
      timeoutMs: DEMO_JOB_TIMEOUT_MS,
      onEvent: (e) => {
        const d = e.data;
        const detail = [
          d.status,
          d.shotId,
          d.attempt !== undefined ? `attempt ${String(d.attempt)}` : undefined,
          d.reason,
        ]
          .filter((x) => x !== undefined)
          .join(' ');
        say(`${e.type.padEnd(22)} ${detail}`);
      },
    });
    if (job.status !== 'DELIVERED')
      throw new Error(`job ${job.id} ended ${job.status}: ${job.error?.message ?? 'no reason recorded'}`);
    const output = job.outputs[0]!;
    mkdirSync(options.outDir, { recursive: true });
    const file = resolve(options.outDir, `${job.id}-${output.variant.replace(':', 'x')}.mp4`);
    await httpsDownload(output.url, file, client.caCert);
    const info = await probe(file);
    say(
      `delivered: ${info.video?.width}x${info.video?.height}, ${info.durationSeconds.toFixed(2)} s ` +
        `(brief: ${brief.durationSeconds} s), ${info.video?.codec}${info.audio ? ` + ${info.audio.codec}` : ''}, ${(info.sizeBytes / 1e6).toFixed(2)} MB`,
    );
    return file;
  } finally {
    say('stopping the platform');
    await stack.stop();
  }
}
