/**
 * The catalogue of metrics: every metric the platform records is named, typed, described and
 * labelled here once, and nowhere else. Dashboards, alerts and SLOs (terraform/modules/monitoring)
 * query these names in PromQL, locally against Prometheus and in the cloud against Cloud
 * Monitoring, so a rename here is a rename there (the monitoring tests check every name they use
 * exists in this catalogue).
 *
 * Names are the Prometheus names minus the `_total` the exporters add to counters. No OpenTelemetry
 * unit is set: the name carries it (`_seconds`, `_usd`, `_bytes`), because the Prometheus exporter
 * and Google's collector would otherwise disagree on whether to append it.
 *
 * Labels are low-cardinality by design: never a job, shot or message id (those are in traces and
 * logs). `tenant` appears only on spend, where the number of tenants is the point.
 */

export type MetricKind = 'counter' | 'histogram' | 'gauge';

export interface MetricSpec {
  readonly name: string;
  readonly kind: MetricKind;
  readonly description: string;
  readonly labels: readonly string[];
  /** Histogram bucket bounds; the SDK's defaults otherwise. */
  readonly buckets?: readonly number[];
}

/** Seconds, from a Firestore write to a full job: wide enough for a vendor render (minutes). */
const LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Seconds, a gateway request: the latency SLO's threshold (0.5 s) is a bucket bound. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const USD_BUCKETS = [0, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100];

export const METRICS = {
  // Jobs: the funnel and its stages.
  jobTransitions: {
    name: 'aiprod_job_transitions',
    kind: 'counter',
    description: 'Job state changes, by the state left and the state entered (the job funnel).',
    labels: ['from', 'to', 'preset'],
  },
  jobStateDuration: {
    name: 'aiprod_job_state_duration_seconds',
    kind: 'histogram',
    description: 'Time a job spent in a state, recorded when it leaves it (stage latency).',
    labels: ['state', 'preset'],
    buckets: LATENCY_BUCKETS,
  },
  jobsFinished: {
    name: 'aiprod_jobs_finished',
    kind: 'counter',
    description:
      "Jobs that reached a terminal state; within_deadline says whether production time (approval wait excluded) met the preset's delivery deadline.",
    labels: ['preset', 'status', 'reason', 'within_deadline'],
  },
  jobDuration: {
    name: 'aiprod_job_duration_seconds',
    kind: 'histogram',
    description: 'Production time of a finished job: created to terminal, approval wait excluded.',
    labels: ['preset', 'status'],
    buckets: LATENCY_BUCKETS,
  },
  jobCost: {
    name: 'aiprod_job_cost_usd',
    kind: 'histogram',
    description: 'What a delivered job cost in vendor spend.',
    labels: ['preset'],
    buckets: USD_BUCKETS,
  },

  // Approval.
  approvalsIgnored: {
    name: 'aiprod_approvals_ignored',
    kind: 'counter',
    description:
      'job.approved messages the planner did not act on, by why: not_recorded (no approval recorded by the gateway), not_current (another plan version), not_waiting (the job is past AWAITING_APPROVAL).',
    labels: ['why'],
  },

  // Rendering.
  renderAttempts: {
    name: 'aiprod_render_attempts',
    kind: 'counter',
    description: 'Shot render attempts started, by the backend that took them.',
    labels: ['backend'],
  },
  renderTries: {
    name: 'aiprod_render_tries',
    kind: 'counter',
    description: 'Finished vendor tasks (tries) inside attempts, by backend and outcome.',
    labels: ['backend', 'outcome'],
  },
  renderFailures: {
    name: 'aiprod_render_failures',
    kind: 'counter',
    description: 'Failed tries, by backend and error class.',
    labels: ['backend', 'error_class'],
  },
  renderFallbacks: {
    name: 'aiprod_render_fallbacks',
    kind: 'counter',
    description: 'Attempts handed from one backend to another by the fallback policy.',
    labels: ['from_backend', 'to_backend'],
  },
  renderBusyReroutes: {
    name: 'aiprod_render_busy_reroutes',
    kind: 'counter',
    description:
      'Attempts moved to another backend because their vendor held the task back for its capacity (THROTTLED): not failures.',
    labels: ['from_backend', 'to_backend'],
  },
  renderCost: {
    name: 'aiprod_render_cost_usd',
    kind: 'counter',
    description: 'Vendor spend booked in the cost ledger, by backend.',
    labels: ['backend'],
  },
  vendorRequestDuration: {
    name: 'aiprod_vendor_request_duration_seconds',
    kind: 'histogram',
    description: 'Latency of each vendor API call, by backend, operation and outcome (ok, or the error class).',
    labels: ['backend', 'operation', 'outcome'],
    buckets: LATENCY_BUCKETS,
  },
  circuitBreakerState: {
    name: 'aiprod_circuit_breaker_state',
    kind: 'gauge',
    description: "A render pool's circuit breaker for its vendor: 0 closed, 0.5 half-open, 1 open.",
    labels: ['backend'],
  },

  // QA.
  qaChecks: {
    name: 'aiprod_qa_checks',
    kind: 'counter',
    description: 'QA check results on clips, by check and verdict (pass or fail).',
    labels: ['check', 'verdict'],
  },

  // Money.
  tenantSpendCapRatio: {
    name: 'aiprod_tenant_spend_cap_ratio',
    kind: 'gauge',
    description: "A tenant's booked spend this month over its monthly cap (tenants with a cap only).",
    labels: ['tenant'],
  },

  // Webhooks.
  webhookDeliveries: {
    name: 'aiprod_webhook_deliveries',
    kind: 'counter',
    description: 'Webhook delivery attempts to clients, by outcome (delivered, retry, gave_up).',
    labels: ['outcome'],
  },

  // Retention.
  retentionDeletions: {
    name: 'aiprod_retention_deletions',
    kind: 'counter',
    description:
      "The retention sweeper's decisions, by what expired (intermediate, outputs, record) and mode (deleted, dry_run).",
    labels: ['class', 'mode'],
  },

  // Pub/Sub.
  pubsubMessages: {
    name: 'aiprod_pubsub_messages',
    kind: 'counter',
    description: 'Messages handled, by subscription and outcome (ack, nack, permanent, invalid).',
    labels: ['subscription', 'outcome'],
  },
  pubsubHandleDuration: {
    name: 'aiprod_pubsub_handle_duration_seconds',
    kind: 'histogram',
    description: 'Time a handler spent on a message, by subscription and outcome.',
    labels: ['subscription', 'outcome'],
    buckets: LATENCY_BUCKETS,
  },
  pubsubRedeliveries: {
    name: 'aiprod_pubsub_redeliveries',
    kind: 'counter',
    description: 'Messages received again (delivery attempt above 1), by subscription.',
    labels: ['subscription'],
  },
  pubsubOldestUnackedAge: {
    name: 'aiprod_pubsub_oldest_unacked_age_seconds',
    kind: 'gauge',
    description:
      'Age (since publish) of the oldest message this process holds unacked, by subscription; 0 when it holds none.',
    labels: ['subscription'],
  },
  deadLetters: {
    name: 'aiprod_dead_letters',
    kind: 'counter',
    description: 'Messages that reached a dead-letter topic, by the subscription that gave up on them.',
    labels: ['subscription'],
  },

  // Gateway.
  httpRequests: {
    name: 'aiprod_http_requests',
    kind: 'counter',
    description: 'Gateway requests, by route template, method and status code.',
    labels: ['route', 'method', 'code'],
  },
  httpRequestDuration: {
    name: 'aiprod_http_request_duration_seconds',
    kind: 'histogram',
    description: 'Gateway request latency, by route template and method.',
    labels: ['route', 'method'],
    buckets: REQUEST_BUCKETS,
  },
  auditEventsDropped: {
    name: 'aiprod_audit_events_dropped',
    kind: 'counter',
    description:
      'Audit-trail records the gateway did not store, by why: buffer_full (writes fell behind; the access log still has the request) or write_failed.',
    labels: ['reason'],
  },

  // The process.
  processResidentMemory: {
    name: 'aiprod_process_resident_memory_bytes',
    kind: 'gauge',
    description: 'Resident set size of the process.',
    labels: [],
  },
  processHeapUsed: {
    name: 'aiprod_process_heap_used_bytes',
    kind: 'gauge',
    description: 'V8 heap in use.',
    labels: [],
  },
  processCpu: {
    name: 'aiprod_process_cpu_seconds',
    kind: 'counter',
    description: 'CPU time used by the process (user and system).',
    labels: [],
  },
  processEventLoopDelay: {
    name: 'aiprod_process_event_loop_delay_seconds',
    kind: 'gauge',
    description: 'p99 event-loop delay over the last collection interval.',
    labels: [],
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof METRICS;
type KeysOfKind<K extends MetricKind> = {
  [M in MetricKey]: (typeof METRICS)[M]['kind'] extends K ? M : never;
}[MetricKey];
export type CounterKey = KeysOfKind<'counter'>;
export type HistogramKey = KeysOfKind<'histogram'>;
export type GaugeKey = KeysOfKind<'gauge'>;

/** The labels a metric takes, all of them, as strings. */
export type LabelsOf<K extends MetricKey> = { [L in (typeof METRICS)[K]['labels'][number]]: string };

/** The Prometheus name of a metric as exported (counters gain `_total`). */
export const prometheusName = (spec: MetricSpec): string =>
  spec.kind === 'counter' ? `${spec.name}_total` : spec.name;
