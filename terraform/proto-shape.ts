// Strict shape checks of JSON against Google's published protobuf message types, as the
// monitoring client packages ship them: an unknown field, a wrong scalar type, a bad enum name or
// two members of one oneof is a problem. Cloud Monitoring would reject such a dashboard, alert
// policy or SLO only at `terraform apply`; this finds it offline.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

export type Problem = string;

/** google.monitoring.v3 (alert policies, services, SLOs), loaded from the .proto files of
 *  @google-cloud/monitoring with their original snake_case field names (Terraform's). */
export function monitoringV3(): protobuf.Root {
  const pkg = dirname(require.resolve('@google-cloud/monitoring')); // build/src
  const protos = join(pkg, '..', 'protos');
  // google/api, google/type and google/rpc imports ship with google-gax, the client's runtime.
  const gaxMain = require.resolve('google-gax', { paths: [pkg] }); // build/src/index.js
  const gaxProtos = join(dirname(gaxMain), '..', 'protos');
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const base of [protos, gaxProtos]) if (existsSync(join(base, target))) return join(base, target);
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(['google/monitoring/v3/alert.proto', 'google/monitoring/v3/service.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

/** google.monitoring.dashboard.v1 from @google-cloud/monitoring-dashboards' JSON descriptors,
 *  whose field names are the proto3 JSON (camelCase) names dashboard_json uses. */
export function dashboardV1(): protobuf.Root {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a JSON descriptor, not code
  const json = require('@google-cloud/monitoring-dashboards/build/protos/protos.json') as protobuf.INamespace;
  const root = protobuf.Root.fromJSON(json);
  root.resolveAll();
  return root;
}

export interface ShapeOptions {
  /** Accept a one-element array for a singular message field: a Terraform block in hcl2json. */
  blocksAsLists?: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const INT = /^-?\d+$/;
// proto3 JSON of the well-known types used by the monitoring messages.
const WELL_KNOWN: Record<string, (v: unknown) => boolean> = {
  'google.protobuf.Duration': (v) => typeof v === 'string' && /^-?\d+(\.\d{1,9})?s$/.test(v),
  'google.protobuf.Timestamp': (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
  'google.protobuf.FieldMask': (v) => typeof v === 'string',
  'google.protobuf.BoolValue': (v) => typeof v === 'boolean',
  'google.protobuf.StringValue': (v) => typeof v === 'string',
  'google.protobuf.DoubleValue': (v) => typeof v === 'number',
  'google.protobuf.FloatValue': (v) => typeof v === 'number',
  'google.protobuf.Int32Value': (v) => Number.isInteger(v),
  'google.protobuf.UInt32Value': (v) => Number.isInteger(v) && (v as number) >= 0,
  'google.protobuf.Int64Value': (v) => Number.isInteger(v) || (typeof v === 'string' && INT.test(v)),
  'google.protobuf.Empty': (v) => isObject(v) && Object.keys(v).length === 0,
  'google.protobuf.Struct': (v) => isObject(v),
  'google.protobuf.Value': () => true,
};

function scalarOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'bytes':
      return typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v);
    case 'bool':
      return typeof v === 'boolean';
    case 'double':
    case 'float':
      return typeof v === 'number' || v === 'NaN' || v === 'Infinity' || v === '-Infinity';
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return Number.isInteger(v);
    case 'uint32':
    case 'fixed32':
      return Number.isInteger(v) && (v as number) >= 0;
    case 'int64':
    case 'sint64':
    case 'sfixed64':
    case 'uint64':
    case 'fixed64':
      return Number.isInteger(v) || (typeof v === 'string' && INT.test(v));
    default:
      return false;
  }
}

/** The problems of `value` as a `type` message, each with its JSON path. */
export function checkMessage(type: protobuf.Type, value: unknown, at = '$', opts: ShapeOptions = {}): Problem[] {
  const wk = WELL_KNOWN[type.fullName.slice(1)];
  if (wk) return wk(value) ? [] : [`${at}: ${JSON.stringify(value)} is not a ${type.fullName.slice(1)}`];
  if (!isObject(value)) return [`${at}: expected a ${type.name} object, got ${JSON.stringify(value)}`];
  const problems: Problem[] = [];
  for (const [key, v] of Object.entries(value)) {
    const field = type.fields[key];
    if (!field) {
      problems.push(`${at}.${key}: no such field in ${type.fullName.slice(1)}`);
      continue;
    }
    problems.push(...checkField(field, v, `${at}.${key}`, opts));
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.fieldsArray.filter((f) => value[f.name] !== undefined && value[f.name] !== null);
    if (set.length > 1) problems.push(`${at}: ${set.map((f) => f.name).join(' and ')} are one oneof (${oneof.name})`);
  }
  return problems;
}

function checkField(field: protobuf.Field, v: unknown, at: string, opts: ShapeOptions): Problem[] {
  field.resolve();
  if (field instanceof protobuf.MapField) {
    if (!isObject(v)) return [`${at}: expected a map, got ${JSON.stringify(v)}`];
    return Object.entries(v).flatMap(([k, x]) => checkSingle(field, x, `${at}.${k}`, opts));
  }
  if (field.repeated) {
    if (!Array.isArray(v)) return [`${at}: expected a list, got ${JSON.stringify(v)}`];
    return v.flatMap((x, i) => checkSingle(field, x, `${at}[${i}]`, opts));
  }
  if (opts.blocksAsLists && field.resolvedType instanceof protobuf.Type && Array.isArray(v)) {
    if (v.length !== 1) return [`${at}: a single ${field.type} given ${v.length} times`];
    return checkSingle(field, v[0], `${at}[0]`, opts);
  }
  return checkSingle(field, v, at, opts);
}

function checkSingle(field: protobuf.Field, v: unknown, at: string, opts: ShapeOptions): Problem[] {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return checkMessage(t, v, at, opts);
  if (t instanceof protobuf.Enum) {
    return typeof v === 'string' && v in t.values
      ? []
      : [`${at}: ${JSON.stringify(v)} is not a value of ${t.fullName.slice(1)} (${Object.keys(t.values).join(', ')})`];
  }
  return scalarOk(field.type, v) ? [] : [`${at}: ${JSON.stringify(v)} is not a ${field.type}`];
}
