import { randomBytes } from 'node:crypto';

/** A project id no other suite uses, so suites never share emulator state. */
export const uniqueProjectId = (prefix: string) =>
  `${prefix.replace(/[^a-z0-9-]/g, '-').slice(0, 16)}-${randomBytes(4).toString('hex')}`;

export function requireEmulators(): { pubsub: string; firestore: string } {
  const pubsub = process.env.PUBSUB_EMULATOR_HOST;
  const firestore = process.env.FIRESTORE_EMULATOR_HOST;
  if (!pubsub || !firestore) throw new Error('emulators are not running: jest globalSetup should have started them');
  return { pubsub, firestore };
}

/** Polls until `probe` returns a value that is not undefined; bounded in time. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
  throw new Error(
    `timed out after ${options.timeoutMs} ms waiting for ${options.what}${last ? `: ${String(last)}` : ''}`,
  );
}

/** A logger that keeps what it is told, for tests that assert on logging. */
export function memoryLog(): {
  lines: { level: string; message: string; meta?: Record<string, unknown> }[];
  log: {
    debug(m: string, meta?: Record<string, unknown>): void;
    info(m: string, meta?: Record<string, unknown>): void;
    warn(m: string, meta?: Record<string, unknown>): void;
    error(m: string, meta?: Record<string, unknown>): void;
    child(meta: Record<string, unknown>): ReturnType<typeof memoryLog>['log'];
  };
} {
  const lines: { level: string; message: string; meta?: Record<string, unknown> }[] = [];
  const make = (bound: Record<string, unknown>): ReturnType<typeof memoryLog>['log'] => {
    const at = (level: string) => (message: string, meta?: Record<string, unknown>) => {
      lines.push({ level, message, meta: { ...bound, ...meta } });
    };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (meta) => make({ ...bound, ...meta }),
    };
  };
  return { lines, log: make({}) };
}

export * from './defects';
export * from './vertex-server';
export * from './vendors/veo-server';
export * from './vendors/common';
export * from './vendors/runway-server';
export * from './vendors/replicate-server';
export * from './vendors/billing';
