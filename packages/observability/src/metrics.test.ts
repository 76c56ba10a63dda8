import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { count, observe, observeGauge, setGauge } from './metrics';
import { METRICS, prometheusName } from './metrics-catalogue';
import { startTelemetry, type TelemetryHandle } from './telemetry';

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('the metrics catalogue', () => {
  const specs = Object.values(METRICS);

  it('names every metric once, in the Prometheus alphabet, under the aiprod_ prefix', () => {
    const names = specs.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^aiprod_[a-z][a-z0-9_]*[a-z0-9]$/);
    // The exporters add `_total` to counters: a name that already has it would be exported twice over.
    for (const spec of specs) expect(spec.name.endsWith('_total')).toBe(false);
  });

  it('gives every metric a description and valid, distinct, bounded labels', () => {
    for (const spec of specs) {
      expect(spec.description.length).toBeGreaterThan(10);
      expect(new Set(spec.labels).size).toBe(spec.labels.length);
      for (const label of spec.labels) expect(label).toMatch(/^[a-z][a-z0-9_]*$/);
      // Ids would make a series per job: they belong in traces and logs, never in labels.
      expect(spec.labels.filter((l) => /(^|_)id$/.test(l) || ['job', 'shot', 'message'].includes(l))).toEqual([]);
    }
  });
});

describe('startTelemetry: metrics served as Prometheus text', () => {
  let handle: TelemetryHandle;
  let server: Server;
  let url: string;
  beforeAll(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    handle = startTelemetry({ service: 'planner' });
    server = createServer((req, res) => handle.metricsHandler(req, res));
    url = `http://127.0.0.1:${await listen(server)}/metrics`;
  });
  afterAll(async () => {
    await close(server);
    await handle.shutdown();
  });

  it('exports counters with _total, histograms with buckets, gauges, and the process basics', async () => {
    count('jobTransitions', { from: 'QUEUED', to: 'PLANNING', preset: 'social_quick' });
    count('jobTransitions', { from: 'QUEUED', to: 'PLANNING', preset: 'social_quick' });
    observe('jobStateDuration', 0.3, { state: 'QUEUED', preset: 'social_quick' });
    setGauge('circuitBreakerState', 1, { backend: 'runway' });
    const stop = observeGauge('pubsubOldestUnackedAge', () => [[42, { subscription: 'aiprod.qa.check' }]]);

    const text = await (await fetch(url)).text();
    stop();
    expect(text).toContain('aiprod_job_transitions_total{from="QUEUED",to="PLANNING",preset="social_quick"} 2');
    expect(text).toMatch(
      /aiprod_job_state_duration_seconds_bucket\{state="QUEUED",preset="social_quick",le="0\.5"\} 1/,
    );
    expect(text).toContain('aiprod_circuit_breaker_state{backend="runway"} 1');
    expect(text).toContain('aiprod_pubsub_oldest_unacked_age_seconds{subscription="aiprod.qa.check"} 42');
    expect(text).toMatch(/aiprod_process_resident_memory_bytes \d{6,}/);
    expect(text).toMatch(/aiprod_process_cpu_seconds_total \d/);
    for (const name of ['aiprod_job_transitions_total', 'aiprod_circuit_breaker_state'])
      expect(text).toContain(`# TYPE ${name.replace(/_total$/, '')}`);
  });

  it('exports each catalogue name as prometheusName says', async () => {
    count('deadLetters', { subscription: 's' });
    const text = await (await fetch(url)).text();
    expect(text).toContain(`${prometheusName(METRICS.deadLetters)}{subscription="s"} 1`);
  });
});
