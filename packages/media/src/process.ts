import { spawn } from 'node:child_process';
import { SpanKind, withSpan } from '@aiprod/observability';

/** Enough of ffmpeg's stderr to show the real error, which it prints last. */
const STDERR_TAIL_CHARS = 64 * 1024;
/** ffprobe JSON for one file is a few KB; anything near this is a runaway. */
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;
/** setTimeout fires at once for delays above 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Why a media operation failed: `exit` (ffmpeg/ffprobe refused the input or failed),
 * `timeout` and `aborted` (we killed it), `spawn` (the binary could not be started),
 * `invalid` (bad arguments or output, caught before or after running ffmpeg).
 */
export type MediaErrorKind = 'exit' | 'timeout' | 'aborted' | 'spawn' | 'invalid';

export class MediaError extends Error {
  override readonly name = 'MediaError';
  constructor(
    message: string,
    readonly kind: MediaErrorKind,
    /** The end of the tool's stderr: where ffmpeg says what went wrong. */
    readonly stderrTail = '',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** What the run is for (`probe`, `conform`, `finish_cut`…): its span's name. The span never
   *  carries the argv, whose paths and drawtext strings may hold tenants' text or signed URLs. */
  operation?: string;
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

/** One span per process, named by the operation (see RunOptions), with its outcome. */
function run(bin: 'ffmpeg' | 'ffprobe', args: string[], opts: RunOptions, captureStdout: boolean) {
  const operation = opts.operation ?? 'run';
  return withSpan(
    `${bin} ${operation}`,
    async (span) => {
      try {
        return await spawnTool(bin, args, opts, captureStdout);
      } catch (err) {
        if (err instanceof MediaError) span.setAttribute('media.error.kind', err.kind);
        throw err;
      }
    },
    { 'media.tool': bin, 'media.operation': operation },
    { kind: SpanKind.INTERNAL, tracer: '@aiprod/media' },
  );
}

function spawnTool(bin: string, args: string[], opts: RunOptions, captureStdout: boolean) {
  return new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    if (!(opts.timeoutMs > 0)) {
      reject(new MediaError(`${bin}: timeoutMs must be positive, got ${opts.timeoutMs}`, 'invalid'));
      return;
    }
    if (opts.signal?.aborted) {
      reject(new MediaError(`${bin} aborted before it started`, 'aborted', '', { cause: opts.signal.reason }));
      return;
    }
    // No shell: arguments reach ffmpeg verbatim, whatever a file name or text contains.
    const child = spawn(bin, args, { stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'] });
    let stderr = '';
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let killedFor: 'timeout' | 'aborted' | 'stdout' | undefined;
    let settled = false;

    const kill = (why: 'timeout' | 'aborted' | 'stdout') => {
      if (killedFor) return;
      killedFor = why;
      // SIGKILL: a wedged decoder may ignore SIGTERM, and there is nothing worth flushing.
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), Math.min(opts.timeoutMs, MAX_TIMER_MS));
    const onAbort = () => kill('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (error: MediaError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr });
    };

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      // Trim in batches rather than on every chunk.
      if (stderr.length > 2 * STDERR_TAIL_CHARS) stderr = stderr.slice(-STDERR_TAIL_CHARS);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT_BYTES) kill('stdout');
      else stdout.push(chunk);
    });
    child.on('error', (err) => {
      finish(new MediaError(`could not run ${bin}: ${err.message}`, 'spawn', '', { cause: err }));
    });
    child.on('close', (code, signal) => {
      stderr = stderr.slice(-STDERR_TAIL_CHARS);
      if (killedFor === 'timeout') {
        finish(new MediaError(`${bin} timed out after ${opts.timeoutMs} ms`, 'timeout', stderr));
      } else if (killedFor === 'aborted') {
        finish(new MediaError(`${bin} was aborted`, 'aborted', stderr, { cause: opts.signal?.reason }));
      } else if (killedFor === 'stdout') {
        finish(new MediaError(`${bin} wrote more than ${MAX_STDOUT_BYTES} bytes to stdout`, 'invalid', stderr));
      } else if (code !== 0) {
        const status = code === null ? `signal ${signal}` : `code ${code}`;
        finish(new MediaError(`${bin} exited with ${status}: ${lastLine(stderr)}`, 'exit', stderr));
      } else {
        finish(undefined);
      }
    });
  });
}

/** Runs ffmpeg with `args` (no shell). Rejects with a MediaError on failure, timeout or abort. */
export async function runFfmpeg(args: string[], opts: RunOptions): Promise<{ stderr: string }> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostdin', ...args], opts, false);
  return { stderr };
}

/** Runs ffprobe with `args` (no shell) and returns what it printed. ffprobe has no -nostdin;
 *  its stdin is closed instead. */
export function runFfprobe(args: string[], opts: RunOptions): Promise<{ stdout: string; stderr: string }> {
  return run('ffprobe', ['-hide_banner', ...args], opts, true);
}
