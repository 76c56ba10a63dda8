import type { IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { METRICS } from './metrics-catalogue';
import { forgetInstruments, observeGauge } from './metrics';

export interface TelemetryOptions {
  /** Reported as the OpenTelemetry `service.name`. */
  service: string;
  /** OTLP/HTTP base endpoint, e.g. `http://localhost:4318` (the collector sidecar on Cloud Run);
   *  `/v1/traces` and `/v1/metrics` are appended. Defaults to OTEL_EXPORTER_OTLP_ENDPOINT. Unset:
   *  nothing is pushed (metrics are still served at /metrics for a Prometheus to scrape). */
  otlpEndpoint?: string;
  /** How often metrics are pushed over OTLP (default 60 s: Cloud Monitoring's own resolution). */
  metricsExportIntervalMs?: number;
}

export interface TelemetryHandle {
  /** Serves the process's metrics in the Prometheus text format (GET /metrics). */
  metricsHandler(request: IncomingMessage, response: ServerResponse): void;
  /** Flushes pending spans and metrics (when exporting) and unregisters the global context
   *  manager, propagator, tracer and meter providers. Idempotent. */
  shutdown(): Promise<void>;
}

let current: TelemetryHandle | null = null;

/** Sets up tracing and metrics for this process. Synchronous, so it can run first thing in main.ts.
 *
 *  Metrics: a MeterProvider is always registered, read by a Prometheus exporter that the service's
 *  own HTTP server serves at /metrics (`metricsHandler`), and, with an endpoint, also pushed over
 *  OTLP/HTTP every minute (to the collector sidecar on Cloud Run).
 *
 *  Traces: without an endpoint only an AsyncLocalStorage context manager and the W3C trace-context
 *  propagator are registered: trace ids arriving with a request or a Pub/Sub message still flow
 *  into logs and onward messages, at almost no memory cost. With an endpoint the NodeSDK is
 *  started with an OTLP/HTTP trace exporter — and nothing else: no auto-instrumentations, no
 *  metrics or logs exporters of its own (the SDK would otherwise add OTLP ones by default), because
 *  every service has to idle under 120 MB RSS. The SDK and exporters (~30 MB) are only loaded then.
 *
 *  A second call while started returns the running handle unchanged. */
export function startTelemetry(opts: TelemetryOptions): TelemetryHandle {
  if (current) return current;
  const endpoint = nonEmpty(opts.otlpEndpoint) ?? nonEmpty(process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const contextManager = new AsyncLocalStorageContextManager();
  const propagator = new W3CTraceContextPropagator();

  let sdk: NodeSDK | null = null;
  if (endpoint === undefined) {
    context.setGlobalContextManager(contextManager.enable());
    propagation.setGlobalPropagator(propagator);
  } else {
    /* eslint-disable @typescript-eslint/no-require-imports -- lazy on purpose, see above */
    const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
    const { OTLPTraceExporter } =
      require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    /* eslint-enable @typescript-eslint/no-require-imports */
    sdk = new NodeSDK({
      serviceName: opts.service,
      traceExporter: new OTLPTraceExporter({ url: tracesUrl(endpoint) }),
      contextManager,
      textMapPropagator: propagator,
      instrumentations: [],
      metricReaders: [],
      logRecordProcessors: [],
    });
    sdk.start();
  }

  const meters = startMetrics(opts.service, endpoint, opts.metricsExportIntervalMs);

  let stopped: Promise<void> | null = null;
  const handle: TelemetryHandle = {
    metricsHandler: (request, response) => meters.prometheus.getMetricsRequestHandler(request, response),
    shutdown() {
      stopped ??= (async () => {
        try {
          await Promise.allSettled([sdk?.shutdown(), meters.shutdown()]);
        } finally {
          // Unregister so that the process (or the next test) can start telemetry again.
          trace.disable();
          propagation.disable();
          context.disable();
          metrics.disable();
          forgetInstruments();
          if (current === handle) current = null;
        }
      })();
      return stopped;
    },
  };
  current = handle;
  return handle;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is a base URL; the per-signal path is ours to add. */
function tracesUrl(endpoint: string): string {
  return signalUrl(endpoint, 'traces');
}

function signalUrl(endpoint: string, signal: 'traces' | 'metrics'): string {
  const base = endpoint.replace(/\/+$/, '').replace(/\/v1\/(traces|metrics)$/, '');
  return `${base}/v1/${signal}`;
}

/**
 * The meter provider: always a Prometheus reader (served by the service's own HTTP server, never a
 * second port), plus an OTLP push reader when there is a collector. The process basics are
 * observed here, so every service reports them.
 */
function startMetrics(
  service: string,
  endpoint: string | undefined,
  exportIntervalMs = 60_000,
): { prometheus: PrometheusExporter; shutdown(): Promise<void> } {
  const prometheus = new PrometheusExporter({
    preventServerStart: true,
    withoutScopeInfo: true,
    withoutTargetInfo: true,
  });
  const readers: IMetricReader[] = [prometheus];
  if (endpoint !== undefined) {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when pushing, like the trace SDK */
    const { OTLPMetricExporter } =
      require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
    /* eslint-enable @typescript-eslint/no-require-imports */
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: signalUrl(endpoint, 'metrics') }),
        exportIntervalMillis: exportIntervalMs,
      }),
    );
  }
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': service }), readers });
  metrics.setGlobalMeterProvider(provider);
  forgetInstruments();

  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const stopObserving = [
    observeGauge('processResidentMemory', () => [[process.memoryUsage.rss(), {}]]),
    observeGauge('processHeapUsed', () => [[process.memoryUsage().heapUsed, {}]]),
    observeGauge('processEventLoopDelay', () => {
      const p99 = loopDelay.percentile(99) / 1e9;
      loopDelay.reset();
      return [[Number.isFinite(p99) ? p99 : 0, {}]];
    }),
  ];
  const cpu = metrics
    .getMeter('aiprod')
    .createObservableCounter(METRICS.processCpu.name, { description: METRICS.processCpu.description });
  const readCpu = (result: { observe(value: number): void }) => {
    const { user, system } = process.cpuUsage();
    result.observe((user + system) / 1e6);
  };
  cpu.addCallback(readCpu);

  return {
    prometheus,
    async shutdown() {
      // The last push (on shutdown) still reads the observed gauges: stop observing after it.
      await provider.shutdown();
      for (const stop of stopObserving) stop();
      cpu.removeCallback(readCpu);
      loopDelay.disable();
    },
  };
}
