import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTelemetry } from '@aiprod/observability';

export interface MetricsProbe {
  /** The process's metrics as a Prometheus server would scrape them. */
  text(): Promise<string>;
  /** One sample's value (0 when the series does not exist): `name` as exported, labels exact. */
  value(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts telemetry in this test process (no exporter: nothing leaves it) and reads its metrics
 * through the same Prometheus handler a service serves at /metrics, over loopback.
 */
export async function startMetricsProbe(service = 'test'): Promise<MetricsProbe> {
  const telemetry = startTelemetry({ service, otlpEndpoint: '' });
  const server = createServer((req, res) => telemetry.metricsHandler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const text = async () => (await fetch(url)).text();
  return {
    text,
    async value(name, labels = {}) {
      const wanted = Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .sort();
      for (const line of (await text()).split('\n')) {
        const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
        if (!match || match[1] !== name) continue;
        const have = (match[2] ?? '')
          .split(/,(?=[a-zA-Z_]\w*=")/)
          .filter(Boolean)
          .sort();
        if (have.length === wanted.length && have.every((l, i) => l === wanted[i])) return Number(match[3]);
      }
      return 0;
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await telemetry.shutdown();
    },
  };
}
