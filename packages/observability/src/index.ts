export { createLogger, LOG_LEVELS, redactFormat, type Logger, type LoggerOptions, type LogLevel } from './logger';
export { isSensitiveKey, redact, REDACTED, redactString } from './redact';
export { startTelemetry, type TelemetryHandle, type TelemetryOptions } from './telemetry';
export {
  contextFromTraceparent,
  hasSpanContext,
  injectTraceContext,
  recordExpectedFailure,
  recordSpanError,
  SpanKind,
  tracer,
  tracesRecorded,
  withExtractedContext,
  withSpan,
  type SpanRunOptions,
} from './trace-context';
export { count, observe, observeGauge, secondsSince, setGauge } from './metrics';
export {
  METRICS,
  prometheusName,
  type CounterKey,
  type GaugeKey,
  type HistogramKey,
  type LabelsOf,
  type MetricKey,
  type MetricSpec,
} from './metrics-catalogue';
