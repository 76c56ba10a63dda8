import {
  metrics as otelMetrics,
  type Attributes,
  type Counter,
  type Gauge,
  type Histogram,
  type Meter,
  type ObservableCallback,
  type ObservableGauge,
} from '@opentelemetry/api';
import {
  METRICS,
  type CounterKey,
  type GaugeKey,
  type HistogramKey,
  type LabelsOf,
  type MetricKey,
} from './metrics-catalogue';

/**
 * Recording against the catalogue. Code records through the OpenTelemetry API's global meter, so
 * a process that never started telemetry (a unit test, a CLI) records into a no-op at no cost;
 * main.ts starts telemetry first and every service records into its MeterProvider.
 *
 * The API has no proxy for meters (as it has for tracers): instruments made before the provider is
 * registered would stay no-ops forever. So they are made on first use and forgotten whenever
 * telemetry starts or stops (`forgetInstruments`).
 */

type Instrument = Counter | Histogram | Gauge | ObservableGauge;
let instruments = new Map<MetricKey, Instrument>();

const meter = (): Meter => otelMetrics.getMeter('aiprod');

/** Called by startTelemetry and its shutdown: instruments of the previous provider are stale. */
export function forgetInstruments(): void {
  instruments = new Map();
}

function instrument<I extends Instrument>(key: MetricKey, make: (m: Meter) => I): I {
  let found = instruments.get(key) as I | undefined;
  if (!found) {
    found = make(meter());
    instruments.set(key, found);
  }
  return found;
}

/** Adds to a counter (1 by default). */
export function count<K extends CounterKey>(key: K, labels: LabelsOf<K>, value = 1): void {
  const spec = METRICS[key];
  instrument(key, (m) => m.createCounter(spec.name, { description: spec.description })).add(
    value,
    labels as Attributes,
  );
}

/** Records one value in a histogram. */
export function observe<K extends HistogramKey>(key: K, value: number, labels: LabelsOf<K>): void {
  const spec = METRICS[key];
  instrument(key, (m) =>
    m.createHistogram(spec.name, {
      description: spec.description,
      advice: { explicitBucketBoundaries: [...spec.buckets] },
    }),
  ).record(value, labels as Attributes);
}

/** Sets a gauge that keeps its last value per label set (circuit state, spend ratio). */
export function setGauge<K extends GaugeKey>(key: K, value: number, labels: LabelsOf<K>): void {
  const spec = METRICS[key];
  (instrument(key, (m) => m.createGauge(spec.name, { description: spec.description })) as Gauge).record(
    value,
    labels as Attributes,
  );
}

/**
 * A gauge read at collection time (oldest unacked message age, process memory). Several callers
 * may observe one gauge (one consumer per subscription), each with its own labels. Returns the
 * function that stops observing (a closed consumer must not report a frozen age).
 */
export function observeGauge<K extends GaugeKey>(
  key: K,
  read: () => ReadonlyArray<readonly [number, LabelsOf<K>]>,
): () => void {
  const spec = METRICS[key];
  const gauge = instrument(key, (m) =>
    m.createObservableGauge(spec.name, { description: spec.description }),
  ) as ObservableGauge;
  const callback: ObservableCallback = (result) => {
    for (const [value, labels] of read()) result.observe(value, labels as Attributes);
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}

/** Seconds elapsed since a start time taken with `performance.now()`. */
export const secondsSince = (startMs: number): number => (performance.now() - startMs) / 1000;
