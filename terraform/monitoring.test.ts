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
  type AlertRule,
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
// Google Cloud system metrics a query may read besides the catalogue: each by its exact PromQL name
// (Google's mapping of the Cloud Monitoring type: the first "/" becomes ":", every other "/" and "."
// "_") with the labels it has there, its monitored resource's. An exact list, not a pattern: any
// other name is still a typo until it is added here. They have no series locally, so a query must
// still name a catalogue metric (checked below) to run, and to mean something, against Prometheus.
const GOOGLE_SYSTEM_METRICS: Record<string, readonly string[]> = {
  // pubsub.googleapis.com/subscription/oldest_unacked_message_age, on resource pubsub_subscription.
  'pubsub_googleapis_com:subscription_oldest_unacked_message_age': ['project_id', 'subscription_id'],
};
const labelsOf = (name: string): readonly string[] | undefined =>
  SERIES.get(name)?.labels ?? GOOGLE_SYSTEM_METRICS[name];
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
  // What the expression reads, catalogue and Google metrics alike: names (for messages) and labels.
  const usedNames = new Set<string>();
  const labels = new Set<string>(ALWAYS);
  for (const m of s.matchAll(/([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g)) {
    const own = m[1] ? labelsOf(m[1]) : undefined;
    if (!own) continue; // the name itself is checked below
    for (const l of m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) {
      if (!own.includes(l[1]!) && !ALWAYS.includes(l[1]!)) problems.push(`${m[1]!} has no label ${l[1]!}`);
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
    else if (!(name in GOOGLE_SYSTEM_METRICS)) problems.push(`${name} is not a series of the metric catalogue`);
    if (spec || name in GOOGLE_SYSTEM_METRICS) usedNames.add(spec?.name ?? name);
    for (const l of labelsOf(name) ?? []) labels.add(l);
  }
  // label_replace(v, dst, replacement, src, regex): reads src, and its result has dst.
  const replaced = [
    ...q.matchAll(/,\s*"([^"]*)"\s*,\s*"(?:[^"\\]|\\.)*"\s*,\s*"([^"]*)"\s*,\s*"(?:[^"\\]|\\.)*"\s*\)/g),
  ];
  for (const r of replaced) {
    if (!labels.has(r[2]!))
      problems.push(`label_replace reads ${r[2]!}, a label none of ${[...usedNames].join(', ')} has`);
  }
  for (const r of replaced) labels.add(r[1]!);
  for (const g of s.matchAll(grouping)) {
    for (const l of g[1]!
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      if (!labels.has(l)) problems.push(`grouping by ${l}, a label none of ${[...usedNames].join(', ')} has`);
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

  it('allows exactly the listed Google system metrics, with their own labels, beside a catalogue metric', () => {
    const ours = 'max by (subscription) (aiprod_pubsub_oldest_unacked_age_seconds)';
    const google = (name: string, src = 'subscription_id') =>
      `${ours} or max by (subscription) (label_replace(${name}, "subscription", "$1", "${src}", "(.*)"))`;
    expect(promqlProblems(google('pubsub_googleapis_com:subscription_oldest_unacked_message_age'))).toEqual([]);
    // Another Google metric, or a near name, is not let through.
    expect(promqlProblems(google('pubsub_googleapis_com:subscription_num_undelivered_messages'))).toEqual([
      'pubsub_googleapis_com:subscription_num_undelivered_messages is not a series of the metric catalogue',
      'label_replace reads subscription_id, a label none of aiprod_pubsub_oldest_unacked_age_seconds has',
    ]);
    expect(promqlProblems(google('pubsub_googleapis_com:subscription_oldest_unacked_message_age_by_region'))).toEqual([
      'pubsub_googleapis_com:subscription_oldest_unacked_message_age_by_region is not a series of the metric catalogue',
      'label_replace reads subscription_id, a label none of aiprod_pubsub_oldest_unacked_age_seconds has',
    ]);
    // Labels it does not have: in a selector, read by label_replace, grouped by.
    const age = 'pubsub_googleapis_com:subscription_oldest_unacked_message_age';
    expect(promqlProblems(`${ours} or max by (subscription) (${age}{subscription="x"})`)).toEqual([
      `${age} has no label subscription`,
    ]);
    expect(promqlProblems(google(age, 'subscription_name'))).toEqual([
      `label_replace reads subscription_name, a label none of aiprod_pubsub_oldest_unacked_age_seconds, ${age} has`,
    ]);
    expect(promqlProblems(`${ours} or max by (topic_id) (${age})`)).toEqual([
      `grouping by topic_id, a label none of aiprod_pubsub_oldest_unacked_age_seconds, ${age} has`,
    ]);
    // Alone it has no series locally: a query must name a catalogue metric too.
    expect(promqlProblems(`max by (subscription_id) (${age}) > 1800`)).toEqual(['names no catalogue metric']);
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
    expect(by.AiprodOldestUnacked!.promql).toMatch(
      /^max by \(subscription\) \(aiprod_pubsub_oldest_unacked_age_seconds\) > 1800\s+or\s+max by \(subscription\) \([\s\S]*pubsub_googleapis_com:subscription_oldest_unacked_message_age[\s\S]*\) > 1800$/,
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
    expect(t.AiprodOldestUnacked!.promql.match(/> 5$/gm)).toHaveLength(2); // both halves
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

/**
 * `promtool test rules`: the alerts as the local Prometheus loads them, evaluated over synthetic
 * series. `expected` maps an alert name to the label sets it must fire with at `evalTime`
 * (besides its rule labels); an empty list means it must not fire. Returns promtool's verdict.
 */
function promtoolScenario(
  rules: AlertRule[],
  input: Record<string, string>,
  evalTime: string,
  expected: Record<string, Record<string, string>[]>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-promtool-test-'));
  try {
    const rulesYaml = prometheusRulesFile(rules);
    writeFileSync(join(dir, 'alerts.yml'), rulesYaml);
    const loaded = (
      parseYaml(rulesYaml) as {
        groups: { rules: { alert: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[];
      }
    ).groups[0]!.rules;
    const test = {
      rule_files: ['alerts.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: Object.entries(input).map(([series, values]) => ({ series, values })),
          alert_rule_test: Object.entries(expected).map(([alertname, alerts]) => {
            const rule = loaded.find((r) => r.alert === alertname)!;
            return {
              eval_time: evalTime,
              alertname,
              exp_alerts: alerts.map((labels) => ({
                exp_labels: { ...rule.labels, ...labels },
                exp_annotations: rule.annotations,
              })),
            };
          }),
        },
      ],
    };
    writeFileSync(join(dir, 'test.yml'), JSON.stringify(test));
    const run = spawnSync('promtool', ['test', 'rules', join(dir, 'test.yml')], { encoding: 'utf8', timeout: 30_000 });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the alerts fire on what they are for (promtool test rules)', () => {
  let rules: AlertRule[];
  beforeAll(async () => {
    rules = await alertRules();
  });
  /** The same rules with one alert's expression replaced, to show a scenario tells them apart. */
  const withExpr = (name: string, promql: string) => rules.map((r) => (r.name === name ? { ...r, promql } : r));

  it("pages on Pub/Sub's own oldest-unacked age when no consumer reports one, once per subscription", () => {
    const runway = 'aiprod.render.runway.v1.render-runway';
    const planner = 'aiprod.job.requested.v1.planner';
    const qa = 'aiprod.shot.rendered.v1.qa';
    const google = 'pubsub_googleapis_com:subscription_oldest_unacked_message_age';
    const input = {
      // The Runway pool is crash-looping: no gauge of ours, only Pub/Sub's age, past the bound.
      [`${google}{project_id="p",subscription_id="${runway}"}`]: '2000+60x10',
      // The planner reports it too: one alert, not two.
      [`${google}{project_id="p",subscription_id="${planner}"}`]: '2000+60x10',
      [`aiprod_pubsub_oldest_unacked_age_seconds{job="planner",instance="i1",subscription="${planner}"}`]: '1900+60x10',
      // Below the bound: nothing.
      [`${google}{project_id="p",subscription_id="${qa}"}`]: '100x10',
    };
    const expected = { AiprodOldestUnacked: [{ subscription: planner }, { subscription: runway }] };
    expect(promtoolScenario(rules, input, '5m', expected)).toEqual({ status: 0, output: expect.any(String) });
    // The consumer-side gauge alone misses the crash-looping pool.
    const oursOnly = withExpr(
      'AiprodOldestUnacked',
      'max by (subscription) (aiprod_pubsub_oldest_unacked_age_seconds) > 1800',
    );
    const missed = promtoolScenario(oursOnly, input, '5m', expected);
    expect(missed.status).not.toBe(0);
    expect(missed.output).toContain('AiprodOldestUnacked');
  });

  describe("the gateway's burn rates leave Cloud Run's probes out", () => {
    // Seven hours at one sample a minute: the slow burn's 6 h window is full.
    const minutes = 7 * 60;
    const counter = (perMinute: number) => `0+${perMinute}x${minutes}`;
    const requests = (route: string, code: string) =>
      `aiprod_http_requests_total{job="gateway",instance="i1",route="${route}",method="GET",code="${code}"}`;
    const burns = (fire: boolean) => ({
      AiprodAvailabilityFastBurn: fire ? [{}] : [],
      AiprodAvailabilitySlowBurn: fire ? [{}] : [],
    });
    const countingProbes = () =>
      rules.map((r) =>
        r.name.startsWith('AiprodAvailability')
          ? {
              ...r,
              promql: r.promql
                .replaceAll(',route!~"/healthz|/readyz"', '')
                .replaceAll('{route!~"/healthz|/readyz"}', ''),
            }
          : r,
      );

    it('fires on 10 % errors of real traffic, however many probes succeed beside it', () => {
      const input = {
        [requests('/v1/jobs/:id', '500')]: counter(1),
        [requests('/v1/jobs/:id', '200')]: counter(9),
        // Liveness and readiness checks of a few instances: four times the real traffic.
        [requests('/healthz', '200')]: counter(30),
        [requests('/readyz', '200')]: counter(10),
      };
      expect(promtoolScenario(rules, input, `${minutes}m`, burns(true))).toEqual({
        status: 0,
        output: expect.any(String),
      });
      // Counted, the probes dilute 10 % errors to 2 %: neither alert fires.
      expect(promtoolScenario(countingProbes(), input, `${minutes}m`, burns(false)).status).toBe(0);
    });

    it('does not fire on /readyz answering 503 while instances drain', () => {
      const input = {
        [requests('/v1/jobs', '202')]: counter(20),
        [requests('/readyz', '503')]: counter(5),
      };
      expect(promtoolScenario(rules, input, `${minutes}m`, burns(false)).status).toBe(0);
      expect(promtoolScenario(countingProbes(), input, `${minutes}m`, burns(true)).status).toBe(0);
    });
  });
});

/**
 * The part of the Monitoring filter language the SLOs use (cloud.google.com/monitoring/api/v3/filters):
 * comparisons `<selector> = <value>` or `<selector> != <value>`, ANDed (by juxtaposition or AND),
 * where a value is a string or starts_with / ends_with / one_of of strings. Anything else throws,
 * so a filter this cannot read fails the test rather than passing unexamined.
 */
function filterMatches(filter: string, series: Record<string, string>): boolean {
  const token =
    /\s*(?:(AND)\b|([a-z]+(?:\.[a-z_]+)+)\s*(!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(starts_with|ends_with|one_of)\(((?:\s*"(?:[^"\\]|\\.)*"\s*,?)+)\)))/y;
  let at = 0;
  let all = true;
  while (at < filter.trimEnd().length) {
    token.lastIndex = at;
    const m = token.exec(filter);
    if (!m) throw new Error(`cannot read the filter at: ${filter.slice(at)}`);
    at = token.lastIndex;
    if (m[1]) continue;
    const value = series[m[2]!];
    const args = [...(m[6] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]!);
    const matched =
      value !== undefined &&
      (m[4] !== undefined
        ? value === m[4]
        : m[5] === 'starts_with'
          ? value.startsWith(args[0]!)
          : m[5] === 'ends_with'
            ? value.endsWith(args[0]!)
            : args.includes(value));
    all &&= m[3] === '=' ? matched : !matched;
  }
  return all;
}

describe('the SLO filters select the series they mean', () => {
  const gmp = (metric: string, labels: Record<string, string>) => ({
    'resource.type': 'prometheus_target',
    'metric.type': `prometheus.googleapis.com/${metric}`,
    ...Object.fromEntries(Object.entries(labels).map(([k, v]) => [`metric.labels.${k}`, v])),
  });
  const filters = (name: string) => {
    const slo = substitute(mod.resources('google_monitoring_slo')[name]!, mod) as {
      request_based_sli: { good_total_ratio?: Record<string, string>[]; distribution_cut?: Record<string, string>[] }[];
    };
    const sli = slo.request_based_sli[0]!;
    return { ...sli.good_total_ratio?.[0], ...sli.distribution_cut?.[0] };
  };

  it("counts the gateway's requests but not Cloud Run's probes, in availability and latency", () => {
    const { bad_service_filter: bad, total_service_filter: total } = filters('gateway_availability');
    const request = (route: string, code: string) =>
      gmp('aiprod_http_requests_total/counter', { route, code, method: 'GET' });
    expect(filterMatches(bad!, request('/v1/jobs/:id', '500'))).toBe(true);
    expect(filterMatches(bad!, request('/v1/jobs/:id', '404'))).toBe(false);
    expect(filterMatches(total!, request('/v1/jobs/:id', '404'))).toBe(true);
    expect(filterMatches(total!, request('unmatched', '401'))).toBe(true);
    for (const probe of ['/healthz', '/readyz']) {
      expect([probe, filterMatches(total!, request(probe, '200'))]).toEqual([probe, false]);
      expect([probe, filterMatches(bad!, request(probe, '503'))]).toEqual([probe, false]);
    }
    expect(filterMatches(bad!, gmp('aiprod_jobs_finished_total/counter', { code: '500' }))).toBe(false);
    const latency = filters('gateway_latency').distribution_filter!;
    const histogram = (route: string) =>
      gmp('aiprod_http_request_duration_seconds/histogram', { route, method: 'GET' });
    expect(filterMatches(latency, histogram('/v1/jobs'))).toBe(true);
    expect(filterMatches(latency, histogram('/healthz'))).toBe(false);
    expect(filterMatches(latency, histogram('/readyz'))).toBe(false);
  });

  it('counts delivered and failed jobs, not cancelled ones, and good ones only within their deadline', () => {
    const { good_service_filter: good, total_service_filter: total } = filters('jobs_within_deadline');
    const job = (status: string, within: string) =>
      gmp('aiprod_jobs_finished_total/counter', { status, within_deadline: within, preset: 'social_quick' });
    expect(filterMatches(good!, job('DELIVERED', 'true'))).toBe(true);
    expect(filterMatches(good!, job('DELIVERED', 'false'))).toBe(false);
    expect(filterMatches(total!, job('FAILED', 'false'))).toBe(true);
    expect(filterMatches(total!, job('CANCELLED', 'false'))).toBe(false);
  });

  it('refuses a filter it cannot read', () => {
    expect(() => filterMatches('metric.labels.route =~ "/v1"', {})).toThrow(/cannot read the filter/);
    expect(() => filterMatches('metric.labels.code = regex("5")', {})).toThrow(/cannot read the filter/);
    expect(
      filterMatches('metric.labels.route != "/healthz" AND metric.labels.code = one_of("500", "503")', {
        'metric.labels.route': '/v1/jobs',
        'metric.labels.code': '503',
      }),
    ).toBe(true);
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
