/** The logging surface this package needs; a winston logger from @aiprod/observability fits it. */
export interface Log {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
  child(meta: Record<string, unknown>): Log;
}
