import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { subscriptions } from '@aiprod/contracts';
import { METRICS, prometheusName, type MetricSpec } from '@aiprod/observability';
import {
  MONITORING_DIR,
  alertRules,
  dashboardQueries,
  dashboards,
  loadMonitoring,
  prometheusRulesFile,
  substitute,
  type MonitoringModule,
} from './monitoring';
import { checkMessage, dashboardV1, monitoringV3 } from './proto-shape';

let mod: MonitoringModule;
const v3 = monitoringV3();
const dash = dashboardV1();
const AlertPolicy = v3.lookupType('google.monitoring.v3.AlertPolicy');
const Service = v3.lookupType('google.monitoring.v3.Service');
const Slo = v3.lookupType('google.monitoring.v3.ServiceLevelObjective');
const Dashboard = dash.lookupType('google.monitoring.dashboard.v1.Dashboard');
const blocks = { blocksAsLists: true };
beforeAll(async () => {
  mod = await loadMonitoring();
});

// Terraform arguments that are not fields of the message (they name where it lives).
const without = (body: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(Object.entries(body).filter(([k]) => !keys.includes(k)));
const alertAsProto = (body: Record<string, unknown>) =>
  without(substitute(body, mod) as Record<string, unknown>, ['project']);
const serviceAsProto = (body: Record<string, unknown>) => ({
  ...without(substitute(body, mod) as Record<string, unknown>, ['project', 'service_id']),
  custom: {},
});
/** google_monitoring_slo's flattened arguments, put back where the message has them. */
function sloAsProto(raw: Record<string, unknown>): Record<string, unknown> {
  const body = substitute(raw, mod) as Record<string, unknown>;
  const out = without(body, ['project', 'service', 'slo_id', 'rolling_period_days', 'request_based_sli']);
  if (body.rolling_period_days !== undefined) out.rolling_period = `${Number(body.rolling_period_days) * 86400}s`;
  if (body.request_based_sli !== undefined) out.service_level_indicator = [{ request_based: body.request_based_sli }];
  return out;
}

describe("dashboards, alert policies and SLOs parse as Google's message types", () => {
  it('has the six dashboards, each a Dashboard message', () => {
    expect(dashboards().map((d) => d.file)).toEqual([
      'backend-health.json',
      'backlog-and-dead-letters.json',
      'cost-and-spend.json',
      'job-funnel.json',
      'stage-latency.json',
      'webhooks.json',
    ]);
    for (const d of dashboards()) expect([d.file, checkMessage(Dashboard, d.json)]).toEqual([d.file, []]);
    const resource = mod.resources('google_monitoring_dashboard').dashboard!;
    expect(Object.keys(resource).sort()).toEqual(['dashboard_json', 'for_each', 'project']);
  });

  it('has every alert policy as an AlertPolicy message', () => {
    const policies = mod.resources('google_monitoring_alert_policy');
    expect(Object.keys(policies).length).toBe(7);
    for (const [name, body] of Object.entries(policies)) {
      expect([name, checkMessage(AlertPolicy, alertAsProto(body), '$', blocks)]).toEqual([name, []]);
    }
  });

  it('has every custom service as a Service and every SLO as a ServiceLevelObjective', () => {
    const services = mod.resources('google_monitoring_custom_service');
    expect(Object.keys(services).sort()).toEqual(['gateway', 'jobs']);
    for (const body of Object.values(services))
      expect(checkMessage(Service, serviceAsProto(body), '$', blocks)).toEqual([]);
    const slos = mod.resources('google_monitoring_slo');
    expect(Object.keys(slos).sort()).toEqual(['gateway_availability', 'gateway_latency', 'jobs_within_deadline']);
    for (const [name, body] of Object.entries(slos)) {
      expect([name, checkMessage(Slo, sloAsProto(body), '$', blocks)]).toEqual([name, []]);
    }
  });

  it('fails a dashboard with an unknown field, a wrong type, a bad enum or two members of a oneof', () => {
    const d = dashboards()[0]!.json;
    interface Tile {
      width: unknown;
      widget: {
        text?: unknown;
        xyChart: { dataSets: { plotType: string; timeSeriesQuery: Record<string, unknown> }[] };
      };
    }
    const copy = () => JSON.parse(JSON.stringify(d)) as { mosaicLayout: { tiles: Tile[] } };
    const unknown = copy();
    unknown.mosaicLayout.tiles[1]!.widget.xyChart.dataSets[0]!.timeSeriesQuery.promQuery = 'up';
    expect(checkMessage(Dashboard, unknown)).toEqual([
      '$.mosaicLayout.tiles[1].widget.xyChart.dataSets[0].timeSeriesQuery.promQuery: no such field in google.monitoring.dashboard.v1.TimeSeriesQuery',
    ]);
    const wrongType = copy();
    wrongType.mosaicLayout.tiles[1]!.width = '24';
    expect(checkMessage(Dashboard, wrongType)).toEqual(['$.mosaicLayout.tiles[1].width: "24" is not a int32']);
    const badEnum = copy();
    badEnum.mosaicLayout.tiles[1]!.widget.xyChart.dataSets[0]!.plotType = 'PIE';
    expect(checkMessage(Dashboard, badEnum)).toEqual([
      expect.stringContaining('$.mosaicLayout.tiles[1].widget.xyChart.dataSets[0].plotType: "PIE" is not a value of'),
    ]);
    const twoOneof = copy();
    twoOneof.mosaicLayout.tiles[1]!.widget.text = { content: 'x' };
    expect(checkMessage(Dashboard, twoOneof)).toEqual([
      '$.mosaicLayout.tiles[1].widget: xyChart and text are one oneof (content)',
    ]);
  });

  it('fails an alert policy or an SLO with an unknown field, a wrong type or a bad enum', () => {
    const body = alertAsProto(mod.resources('google_monitoring_alert_policy').dead_letter!);
    expect(checkMessage(AlertPolicy, { ...body, severity: 'PAGE' }, '$', blocks)).toEqual([
      expect.stringContaining('$.severity: "PAGE" is not a value of google.monitoring.v3.AlertPolicy.Severity'),
    ]);
    expect(checkMessage(AlertPolicy, { ...body, runbook: 'x' }, '$', blocks)).toEqual([
      '$.runbook: no such field in google.monitoring.v3.AlertPolicy',
    ]);
    expect(checkMessage(AlertPolicy, { ...body, alert_strategy: [{ auto_close: '30 minutes' }] }, '$', blocks)).toEqual(
      ['$.alert_strategy[0].auto_close: "30 minutes" is not a google.protobuf.Duration'],
    );
    const slo = sloAsProto(mod.resources('google_monitoring_slo').gateway_latency!);
    expect(checkMessage(Slo, { ...slo, goal: '0.99' }, '$', blocks)).toEqual(['$.goal: "0.99" is not a double']);
    expect(checkMessage(Slo, { ...slo, calendar_period: 'MONTH' }, '$', blocks)).toEqual([
      '$: rolling_period and calendar_period are one oneof (period)',
    ]);
  });
});

// The exported series of every catalogue metric: counters with _total, histograms as their
// _bucket/_sum/_count series, gauges as named.
const SERIES = new Map<string, MetricSpec>();
for (const spec of Object.values(METRICS) as MetricSpec[]) {
  if (spec.kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) SERIES.set(spec.name + s, spec);
  else SERIES.set(prometheusName(spec), spec);
}
const ALWAYS = ['job', 'instance', 'le'];
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** The metric names and label names a PromQL expression refers to, and what is wrong with them. */
function promqlProblems(q: string): string[] {
  const problems: string[] = [];
  const s = q.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const grouping = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;
  const used = new Set<MetricSpec>();
  for (const m of s.matchAll(/([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g)) {
    const spec = m[1] ? SERIES.get(m[1]) : undefined;
    if (!spec) continue; // the name itself is checked below
    for (const l of m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) {
      if (!spec.labels.includes(l[1]!) && !ALWAYS.includes(l[1]!)) problems.push(`${m[1]!} has no label ${l[1]!}`);
    }
  }
  const bare = s
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(grouping, ' ');
  for (const m of bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(?!\w)(\s*\()?/g)) {
    const name = m[1]!;
    if (m[2] || KEYWORDS.has(name.toLowerCase())) continue; // a function call or a keyword
    const spec = SERIES.get(name);
    if (spec) used.add(spec);
    else problems.push(`${name} is not a series of the metric catalogue`);
  }
  const labels = new Set([...ALWAYS, ...[...used].flatMap((x) => x.labels)]);
  for (const g of s.matchAll(grouping)) {
    for (const l of g[1]!
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      if (!labels.has(l))
        problems.push(`grouping by ${l}, a label none of ${[...used].map((x) => x.name).join(', ')} has`);
    }
  }
  if (used.size === 0) problems.push('names no catalogue metric');
  return problems;
}

describe('every query names catalogue metrics and their labels', () => {
  it('holds for every dashboard widget and every alert', async () => {
    const queries = [...dashboardQueries().map((q) => q.promql), ...(await alertRules()).map((r) => r.promql)];
    expect(queries.length).toBeGreaterThan(30);
    for (const q of queries) expect([q, promqlProblems(q)]).toEqual([q, []]);
  });

  it('fails an unknown metric, a counter without _total, a label the metric lacks, a grouping by it', () => {
    expect(promqlProblems('sum(rate(aiprod_render_attempts[5m]))')).toEqual([
      'aiprod_render_attempts is not a series of the metric catalogue',
      'names no catalogue metric',
    ]);
    expect(promqlProblems('aiprod_dead_letters_total{backend="veo"} > 0')).toEqual([
      'aiprod_dead_letters_total has no label backend',
    ]);
    expect(promqlProblems('sum by (tenant) (aiprod_render_cost_usd_total)')).toEqual([
      'grouping by tenant, a label none of aiprod_render_cost_usd has',
    ]);
    expect(promqlProblems('histogram_quantile(0.9, sum by (le) (rate(aiprod_job_cost_usd_bucket[1h])))')).toEqual([]);
  });

  it('uses subscription label values of the topic catalogue only', () => {
    const names = new Set(subscriptions().map((s) => s.name));
    const all = dashboardQueries()
      .map((q) => q.promql)
      .join('\n');
    for (const m of all.matchAll(/subscription\s*=~?\s*"([^"]+)"/g)) expect(names.has(m[1]!)).toBe(true);
  });
});

describe('alert rules for Prometheus', () => {
  it('renders every alert with the variables substituted, and overrides them', async () => {
    const rules = await alertRules();
    expect(rules.map((r) => r.name).sort()).toEqual([
      'AiprodAvailabilityFastBurn',
      'AiprodAvailabilitySlowBurn',
      'AiprodBackendErrorRatio',
      'AiprodBudgetBurn',
      'AiprodCircuitOpen',
      'AiprodDeadLetter',
      'AiprodOldestUnacked',
    ]);
    const by = Object.fromEntries(rules.map((r) => [r.name, r]));
    expect(by.AiprodOldestUnacked!.promql).toBe(
      'max by (subscription) (aiprod_pubsub_oldest_unacked_age_seconds) > 1800',
    );
    // The multiwindow burn rates for the 99.5 % objective: 14.4x over 1 h and 5 min, 6x over 6 h and 30 min.
    expect(by.AiprodAvailabilityFastBurn!.promql).toContain('[1h]');
    expect(by.AiprodAvailabilityFastBurn!.promql).toContain('[5m]');
    expect(by.AiprodAvailabilityFastBurn!.promql).toContain('> 14.4 * (1 - 0.995)');
    expect(by.AiprodAvailabilitySlowBurn!.promql).toContain('> 6 * (1 - 0.995)');
    expect(by.AiprodAvailabilitySlowBurn!.promql).toMatch(/\[6h\][\s\S]*\[30m\]/);
    for (const r of rules) {
      expect(r.promql).toMatch(/(>|>=|==)\s*[\d(]/); // a condition, so it returns only the firing series
      expect(r.duration).toMatch(/^\d+s$/);
      expect(['CRITICAL', 'ERROR', 'WARNING']).toContain(r.severity);
    }
    const tight = await alertRules({ oldest_unacked_bound_seconds: 5, circuit_open_seconds: 30 });
    const t = Object.fromEntries(tight.map((r) => [r.name, r]));
    expect(t.AiprodOldestUnacked!.promql).toBe('max by (subscription) (aiprod_pubsub_oldest_unacked_age_seconds) > 5');
    expect(t.AiprodCircuitOpen!.promql).toContain('[30s]');
  });

  it('notifies the channels given, closes incidents itself, and does not wait for the series to exist', () => {
    for (const body of Object.values(mod.resources('google_monitoring_alert_policy'))) {
      expect(body.notification_channels).toBe('${var.notification_channels}');
      expect((body.alert_strategy as { auto_close: string }[])[0]!.auto_close).toBe('${local.auto_close}');
      const cond = (body.conditions as { condition_prometheus_query_language: Record<string, unknown>[] }[])[0]!;
      expect(cond.condition_prometheus_query_language[0]!.disable_metric_validation).toBe(true);
    }
  });
});

describe('promtool accepts every expression', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-promtool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const check = (name: string, yaml: string) => {
    const file = join(dir, name);
    writeFileSync(file, yaml);
    return spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
  };

  it('checks the alerts as a Prometheus rules file', async () => {
    const run = check('alerts.yml', prometheusRulesFile(await alertRules()));
    expect(run.error).toBeUndefined();
    expect([run.status, run.stdout + run.stderr]).toEqual([0, expect.stringContaining('SUCCESS: 7 rules found')]);
  });

  it('checks every dashboard query as a recording rule', () => {
    const queries = dashboardQueries();
    const yaml = JSON.stringify({
      groups: [
        {
          name: 'dashboards',
          rules: queries.map((q, i) => ({ record: `aiprod_dashboard:query:${i}`, expr: q.promql })),
        },
      ],
    });
    const run = check('dashboards.yml', yaml);
    expect([run.status, run.stdout + run.stderr]).toEqual([
      0,
      expect.stringContaining(`SUCCESS: ${queries.length} rules found`),
    ]);
  });

  it('fails an expression Prometheus cannot parse', () => {
    const run = check(
      'broken.yml',
      prometheusRulesFile([
        {
          name: 'X',
          resource: 'x',
          displayName: 'x',
          promql: 'sum by (a (up)',
          duration: '0s',
          severity: 'ERROR',
          runbook: 'x',
        },
      ]),
    );
    expect(run.status).not.toBe(0);
  });
});

const RUNBOOK = readFileSync(join(__dirname, '..', 'docs', 'runbook.md'), 'utf8');
/** Heading anchor as GitHub renders it. */
const slug = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
function sections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = md.split('\n');
  lines.forEach((line, i) => {
    const m = /^(#{1,6})\s+(.*)$/.exec(line);
    if (!m) return;
    const end = lines.findIndex((l, j) => j > i && new RegExp(`^#{1,${m[1]!.length}}\\s`).test(l));
    out.set(slug(m[2]!), lines.slice(i, end === -1 ? undefined : end).join('\n'));
  });
  return out;
}

describe('docs/runbook.md', () => {
  it('has a section for every alert, naming the alert and a dashboard that exists', async () => {
    const found = sections(RUNBOOK);
    const names = dashboards().map((d) => d.displayName);
    for (const r of await alertRules()) {
      const section = found.get(r.runbook);
      expect([r.name, r.runbook, section !== undefined]).toEqual([r.name, r.runbook, true]);
      expect(section).toContain(r.displayName);
      expect(names.some((n) => section!.includes(n))).toBe(true);
      expect(section).toMatch(/aiprod ops /);
    }
  });

  it('finds a missing section and a missing dashboard', () => {
    const found = sections('# R\n\n## Alerts\n\n### Dead letter\n\nOpen AIPROD — Nowhere.\n');
    expect(found.get('dead-letter')).toContain('AIPROD — Nowhere');
    expect(found.get('circuit-breaker-open')).toBeUndefined();
    expect(dashboards().some((d) => found.get('dead-letter')!.includes(d.displayName))).toBe(false);
  });
});

describe('the collector config', () => {
  const config = parseYaml(readFileSync(join(MONITORING_DIR, 'collector.yaml'), 'utf8')) as {
    receivers: { otlp: { protocols: { http: { endpoint: string } } } };
    exporters: Record<string, unknown>;
    extensions: { health_check: { endpoint: string } };
    service: {
      extensions: string[];
      pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
    };
    processors: Record<string, unknown>;
  };

  it('receives OTLP/HTTP on localhost:4318 and exports metrics to Managed Prometheus and spans to Cloud Trace', () => {
    expect(config.receivers.otlp.protocols.http.endpoint).toBe('localhost:4318');
    expect(config.service.pipelines.metrics!.exporters).toEqual(['googlemanagedprometheus']);
    expect(config.service.pipelines.traces!.exporters).toEqual(['googlecloud']);
    for (const p of Object.values(config.service.pipelines)) {
      expect(p.receivers).toEqual(['otlp']);
      expect(p.processors[0]).toBe('memory_limiter');
      for (const x of p.processors) expect(Object.keys(config.processors)).toContain(x);
      for (const x of p.exporters) expect(Object.keys(config.exporters)).toContain(x);
    }
    // The sidecar's startup probe (cloud-run modules) asks this port.
    expect(config.extensions.health_check.endpoint).toBe('0.0.0.0:13133');
    expect(config.service.extensions).toEqual(['health_check']);
  });
});
