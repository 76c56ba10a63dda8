import { isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';
import winston from 'winston';
import { redact } from './redact';

/** Levels, most severe first, each with its Cloud Logging severity. npm-style names (warn, not
 *  warning) so that the usual logger.warn/info/debug calls work; critical and notice added. */
export const LOG_LEVELS = { critical: 0, error: 1, warn: 2, notice: 3, info: 4, debug: 5 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

const SEVERITY: Record<LogLevel, string> = {
  critical: 'CRITICAL',
  error: 'ERROR',
  warn: 'WARNING',
  notice: 'NOTICE',
  info: 'INFO',
  debug: 'DEBUG',
};

/** A winston Logger with our levels. Only the levels in LOG_LEVELS exist at run time (winston's
 *  own typings also list npm/syslog ones such as http or crit: do not call those). */
export type Logger = {
  critical: winston.LeveledLogMethod;
  notice: winston.LeveledLogMethod;
  child(meta: Record<string, unknown>): Logger;
} & winston.Logger;

export interface LoggerOptions {
  /** serviceContext.service, for Error Reporting and filtering. */
  service: string;
  /** Minimum level; default LOG_LEVEL from the environment, else 'info'. */
  level?: string;
  /** For `logging.googleapis.com/trace`; default GOOGLE_CLOUD_PROJECT / GCLOUD_PROJECT. */
  projectId?: string;
  /** Where the JSON lines go; default stdout (Cloud Run ships it to Cloud Logging). */
  stream?: NodeJS.WritableStream;
}

// The symbol winston (triple-beam) reads the final line from; Symbol.for avoids a direct dependency.
const MESSAGE = Symbol.for('message');

/** Meta keys lifted into Cloud Logging labels (indexed, cheap to filter on). */
const LABEL_KEYS = ['jobId', 'tenantId'] as const;

/** Redaction as a winston format: the message and every meta field, recursively (see redact).
 *  It returns a new info object instead of mutating: with `logger.error(err)` winston hands the
 *  caller's own Error through as `info`, and its message must not change under them. */
export const redactFormat = winston.format((info) => {
  const out: winston.Logform.TransformableInfo = { ...info }; // own string and symbol keys (level)
  if (info instanceof Error) {
    // message, stack and cause are not enumerable on an Error, so the spread missed them.
    out.message = info.message;
    out.stack = info.stack;
    if (info.cause !== undefined) out.cause = info.cause;
  }
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(out)) fields[key] = out[key];
  const clean = redact(fields) as Record<string, unknown>;
  for (const key of Object.keys(clean)) out[key] = clean[key];
  return out;
});

/** Renders one line of Google Cloud Logging structured JSON. Runs after redactFormat.
 *  Formats run synchronously inside the log call (the Stream transport never pushes back on the
 *  logger; a slow stdout buffers below it), so the active span and the clock read here are the
 *  caller's. A transport that applied backpressure would break that: don't add one. */
function cloudLoggingFormat(opts: { service: string; projectId: string | undefined }): winston.Logform.Format {
  return winston.format((info) => render(info, opts))();
}

function render(info: winston.Logform.TransformableInfo, opts: { service: string; projectId: string | undefined }) {
  const { level, message, stack, ...meta } = info as winston.Logform.TransformableInfo & { stack?: unknown };
  const entry: Record<string, unknown> = { ...meta };
  const labels: Record<string, string> = {};
  for (const key of LABEL_KEYS) {
    const value = entry[key];
    if (typeof value === 'string' || typeof value === 'number') {
      labels[key] = String(value);
      delete entry[key];
    }
  }
  const stackTrace = typeof stack === 'string' ? stack : (errorStack(meta.err) ?? errorStack(meta.error));
  // Shape fields last: meta cannot spoof severity, time or trace.
  Object.assign(entry, {
    severity: SEVERITY[level as LogLevel] ?? 'DEFAULT',
    message: typeof message === 'string' ? message : message === undefined ? '' : JSON.stringify(message),
    time: new Date().toISOString(),
    serviceContext: { service: opts.service },
  });
  if (stackTrace !== undefined) entry.stack_trace = stackTrace; // picked up by Error Reporting
  if (Object.keys(labels).length > 0) entry['logging.googleapis.com/labels'] = labels;
  const span = activeSpanContext();
  if (span) {
    entry['logging.googleapis.com/trace'] =
      opts.projectId === undefined ? span.traceId : `projects/${opts.projectId}/traces/${span.traceId}`;
    entry['logging.googleapis.com/spanId'] = span.spanId;
    entry['logging.googleapis.com/trace_sampled'] = (span.traceFlags & 1) === 1;
  }
  info[MESSAGE] = stringify(entry);
  return info;
}

function errorStack(value: unknown): string | undefined {
  const stack = typeof value === 'object' && value !== null ? (value as { stack?: unknown }).stack : undefined;
  return typeof stack === 'string' ? stack : undefined;
}

function activeSpanContext(): SpanContext | undefined {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && isSpanContextValid(ctx) ? ctx : undefined;
}

function stringify(entry: Record<string, unknown>): string {
  try {
    return JSON.stringify(entry);
  } catch {
    // redact() output is JSON-safe; this is a last resort so that a log call can never throw.
    return JSON.stringify({ severity: entry.severity, message: '[unserializable log entry]', time: entry.time });
  }
}

/** Creates a logger writing one Cloud Logging JSON object per line. Pass structured meta
 *  (`logger.info('shot rendered', { jobId, shotId })`); printf-style interpolation is not
 *  enabled on purpose, as it would turn objects into strings before key-based redaction. */
export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? nonEmpty(process.env.LOG_LEVEL) ?? 'info';
  if (!(level in LOG_LEVELS)) {
    throw new Error(
      `unknown log level ${JSON.stringify(level)}; expected one of ${Object.keys(LOG_LEVELS).join(', ')}`,
    );
  }
  const projectId =
    opts.projectId ?? nonEmpty(process.env.GOOGLE_CLOUD_PROJECT) ?? nonEmpty(process.env.GCLOUD_PROJECT);
  const logger = winston.createLogger({
    levels: LOG_LEVELS,
    level,
    format: winston.format.combine(redactFormat(), cloudLoggingFormat({ service: opts.service, projectId })),
    transports: [new winston.transports.Stream({ stream: opts.stream ?? process.stdout })],
  });
  return logger as Logger;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
