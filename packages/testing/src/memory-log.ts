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
