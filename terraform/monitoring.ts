// Reads terraform/modules/monitoring for the tests and the local platform: the PromQL of every
// dashboard widget and alert policy, with the module's variables substituted, so the very
// expressions Cloud Monitoring runs can be run against the local Prometheus (and checked by
// promtool). Parsing is hcl2json's, as in terraform/check.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { stringify } from 'yaml';

export const MONITORING_DIR = join(__dirname, 'modules', 'monitoring');

type Body = Record<string, unknown>;
const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const bodies = (v: unknown): Body[] => (Array.isArray(v) ? v.filter(isObject) : []);

export interface Dashboard {
  /** File name in dashboards/, e.g. job-funnel.json. */
  file: string;
  displayName: string;
  /** The Dashboard message as proto3 JSON (what dashboard_json holds). */
  json: Body;
}

/** Every dashboard of the module, as its JSON file. */
export function dashboards(dir = MONITORING_DIR): Dashboard[] {
  const d = join(dir, 'dashboards');
  return readdirSync(d)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const json = JSON.parse(readFileSync(join(d, file), 'utf8')) as Body;
      return { file, displayName: String(json.displayName), json };
    });
}

export interface DashboardQuery {
  /** The dashboard's display name. */
  dashboard: string;
  /** The widget's title. */
  widget: string;
  promql: string;
}

/** Every PromQL query of every dashboard widget (a widget may hold several). */
export function dashboardQueries(dir = MONITORING_DIR): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const d of dashboards(dir)) {
    const walk = (v: unknown, widget: string) => {
      if (Array.isArray(v)) v.forEach((x) => walk(x, widget));
      else if (isObject(v)) {
        const title = isObject(v.widget) && typeof v.widget.title === 'string' ? v.widget.title : widget;
        if (typeof v.prometheusQuery === 'string')
          out.push({ dashboard: d.displayName, widget: title, promql: v.prometheusQuery });
        for (const x of Object.values(v)) walk(x, title);
      }
    };
    walk(d.json, '');
  }
  return out;
}

export interface MonitoringModule {
  /** Each .tf file's hcl2json JSON, by file name. */
  files: { path: string; json: Body }[];
  /** Variable name => its default (undefined when it has none). */
  defaults: Record<string, unknown>;
  /** Local name => its expression as hcl2json gives it. */
  locals: Record<string, unknown>;
  /** Resources of one type: name => body. */
  resources(type: string): Record<string, Body>;
}

/** The module's .tf files, parsed. */
export async function loadMonitoring(dir = MONITORING_DIR): Promise<MonitoringModule> {
  const files: MonitoringModule['files'] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.tf'))
    .sort()) {
    files.push({ path: f, json: (await parse(f, readFileSync(join(dir, f), 'utf8'))) as Body });
  }
  const defaults: Record<string, unknown> = {};
  const locals: Record<string, unknown> = {};
  for (const { json } of files) {
    for (const [name, blocks] of Object.entries(isObject(json.variable) ? json.variable : {})) {
      defaults[name] = bodies(blocks)[0]?.default;
    }
    for (const l of bodies(json.locals)) Object.assign(locals, l);
  }
  return {
    files,
    defaults,
    locals,
    resources(type) {
      const out: Record<string, Body> = {};
      for (const { json } of files) {
        const named = isObject(json.resource) ? json.resource[type] : undefined;
        for (const [name, blocks] of Object.entries(isObject(named) ? named : {})) out[name] = bodies(blocks)[0]!;
      }
      return out;
    },
  };
}

export type Overrides = Record<string, string | number>;

/**
 * Terraform's `${var.x}` and `${local.x}` in a value, resolved from the variables' defaults (or
 * `overrides`) and the locals; a string that is one reference takes the referenced value's type.
 * A reference it cannot resolve (another expression, a resource attribute) is left as written.
 */
export function substitute(
  value: unknown,
  mod: Pick<MonitoringModule, 'defaults' | 'locals'>,
  overrides: Overrides = {},
): unknown {
  const lookup = (kind: string, name: string, depth: number): unknown => {
    if (kind === 'var') return name in overrides ? overrides[name] : mod.defaults[name];
    return depth > 5 ? undefined : resolve(mod.locals[name], depth + 1);
  };
  const resolve = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') {
      const whole = /^\$\{(var|local)\.([a-z0-9_]+)\}$/.exec(v);
      if (whole) return lookup(whole[1]!, whole[2]!, depth) ?? v;
      return v.replace(/\$\{(var|local)\.([a-z0-9_]+)\}/g, (ref, kind: string, name: string) => {
        const x = lookup(kind, name, depth);
        return x === undefined || isObject(x) || Array.isArray(x) ? ref : String(x);
      });
    }
    if (Array.isArray(v)) return v.map((x) => resolve(x, depth));
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, depth)]));
    return v;
  };
  return resolve(value, 0);
}

export interface AlertRule {
  /** The Prometheus alert name (the condition's alert_rule), e.g. AiprodDeadLetter. */
  name: string;
  /** The google_monitoring_alert_policy resource name, e.g. dead_letter. */
  resource: string;
  displayName: string;
  /** An instant-vector PromQL expression: the alert fires for each series it returns. */
  promql: string;
  /** How long it must hold before firing, e.g. "300s" (Prometheus `for`). */
  duration: string;
  severity: string;
  /** The docs/runbook.md anchor its documentation links to, e.g. dead-letter. */
  runbook: string;
}

/** Every alert policy's PromQL condition, with `${var.x}` from the defaults unless overridden. */
export async function alertRules(overrides: Overrides = {}, dir = MONITORING_DIR): Promise<AlertRule[]> {
  const mod = await loadMonitoring(dir);
  const rules: AlertRule[] = [];
  for (const [resource, raw] of Object.entries(mod.resources('google_monitoring_alert_policy'))) {
    const body = substitute(raw, mod, overrides) as Body;
    const conditions = bodies(body.conditions);
    if (conditions.length !== 1) throw new Error(`alert policy ${resource}: expected one condition`);
    const promql = bodies(conditions[0]!.condition_prometheus_query_language)[0];
    if (!promql) throw new Error(`alert policy ${resource}: not a PromQL condition`);
    const query = String(promql.query).trim();
    if (query.includes('${')) throw new Error(`alert policy ${resource}: unresolved reference in ${query}`);
    const doc = String(bodies(body.documentation)[0]?.content ?? '');
    rules.push({
      name: String(promql.alert_rule),
      resource,
      displayName: String(body.display_name),
      promql: query,
      duration: String(promql.duration ?? '0s'),
      severity: String(body.severity),
      runbook: /#([a-z0-9-]+)\s*$/.exec(doc)?.[1] ?? '',
    });
  }
  return rules;
}

/** A Prometheus rules file (YAML) with these alerts, for promtool or a local Prometheus. */
export function prometheusRulesFile(rules: AlertRule[], group = 'aiprod'): string {
  return stringify({
    groups: [
      {
        name: group,
        rules: rules.map((r) => ({
          alert: r.name,
          expr: r.promql,
          for: r.duration,
          labels: { severity: r.severity.toLowerCase() },
          annotations: { summary: r.displayName, runbook: `docs/runbook.md#${r.runbook}` },
        })),
      },
    ],
  });
}
