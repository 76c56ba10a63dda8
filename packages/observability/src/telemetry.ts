import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { NodeSDK } from '@opentelemetry/sdk-node';

export interface TelemetryOptions {
  /** Reported as the OpenTelemetry `service.name`. */
  service: string;
  /** OTLP/HTTP base endpoint, e.g. `http://otel-collector:4318`; `/v1/traces` is appended unless
   *  already present. Defaults to OTEL_EXPORTER_OTLP_ENDPOINT. Unset: nothing is exported. */
  otlpEndpoint?: string;
}

export interface TelemetryHandle {
  /** Flushes pending spans (when exporting) and unregisters the global context manager,
   *  propagator and tracer provider. Idempotent. */
  shutdown(): Promise<void>;
}

let current: TelemetryHandle | null = null;

/** Sets up tracing for this process. Synchronous, so it can run first thing in main.ts.
 *
 *  Without an endpoint only an AsyncLocalStorage context manager and the W3C trace-context
 *  propagator are registered: trace ids arriving with a request or a Pub/Sub message still flow
 *  into logs and onward messages, at almost no memory cost. With an endpoint the NodeSDK is
 *  started with an OTLP/HTTP trace exporter — and nothing else: no auto-instrumentations, no
 *  metrics or logs exporters (the SDK would otherwise add OTLP ones by default), because every
 *  service has to idle under 120 MB RSS. The SDK and exporter (~30 MB) are only loaded then.
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

  let stopped: Promise<void> | null = null;
  const handle: TelemetryHandle = {
    shutdown() {
      stopped ??= (async () => {
        try {
          await sdk?.shutdown();
        } finally {
          // Unregister so that the process (or the next test) can start telemetry again.
          trace.disable();
          propagation.disable();
          context.disable();
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
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}
