// Offline checks of the Terraform configuration (no provider download is possible in CI): every
// check is a function that returns the problems it finds, so a test can feed it a broken input
// and see it complain. terraform/checks.test.ts runs them on the real tree.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { brokenRules, splitList } from '@aiprod/config';
import { BACKENDS, type catalogueJson, type ServiceName } from '@aiprod/contracts';

export type Problem = string;
/** One parsed file: hcl2json's JSON (blocks are arrays of bodies, expressions are "${...}" strings). */
export interface TfFile {
  /** Path relative to the terraform directory, with forward slashes. */
  path: string;
  json: Hcl;
}
type Hcl = Record<string, unknown>;
type Body = Record<string, unknown>;
export type Catalogue = ReturnType<typeof catalogueJson>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bodies = (v: unknown): Body[] => (Array.isArray(v) ? v.filter(isObject) : []);
const dirOf = (f: TfFile) => dirname(f.path);

/** Every `.tf` file under `dir`, parsed; a file that does not parse is a problem, not an exception. */
export async function loadTerraform(dir: string): Promise<{ files: TfFile[]; problems: Problem[] }> {
  const paths: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === '.terraform' || e.name === 'node_modules') continue;
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.tf')) paths.push(join(d, e.name));
    }
  };
  walk(dir);
  const files: TfFile[] = [];
  const problems: Problem[] = [];
  for (const p of paths.sort()) {
    const path = relative(dir, p).split(sep).join('/');
    try {
      files.push({ path, json: (await parse(path, readFileSync(p, 'utf8'))) as Hcl });
    } catch (err) {
      problems.push(`${path}: does not parse: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (paths.length === 0) problems.push(`${dir}: no .tf files`);
  return { files, problems };
}

/** `terraform fmt -check -recursive`: the files it would rewrite (terraform is on PATH here and in CI). */
export function checkFormat(dir: string): Problem[] {
  const run = spawnSync('terraform', ['fmt', '-check', '-recursive', '-list=true', '-no-color', dir], {
    encoding: 'utf8',
    timeout: 60_000,
    // Its CLI-config warning is noise; the listed files and the exit code are the answer.
    env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1' },
  });
  if (run.error) return [`terraform fmt could not run: ${run.error.message}`];
  if (run.status === 0) return [];
  const listed = run.stdout.split('\n').filter(Boolean);
  if (listed.length === 0) return [`terraform fmt failed (exit ${String(run.status)}): ${run.stderr.trim()}`];
  return listed.map((f) => `${relative(dir, f) || f}: not formatted (run terraform fmt -recursive terraform)`);
}

/** Every variable has a type and a description. */
export function checkVariables(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  for (const f of files) {
    for (const [name, blocks] of Object.entries(isObject(f.json.variable) ? f.json.variable : {})) {
      for (const v of bodies(blocks)) {
        if (v.type === undefined) problems.push(`${f.path}: variable "${name}" has no type`);
        if (typeof v.description !== 'string' || v.description.trim() === '') {
          problems.push(`${f.path}: variable "${name}" has no description`);
        }
      }
    }
  }
  return problems;
}

/** Every module and root pins hashicorp/google to 7.x (and nothing pins another major). */
export function checkProviders(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  const dirs = new Set(files.map(dirOf));
  const pinned = new Set<string>();
  for (const f of files) {
    for (const t of bodies(f.json.terraform)) {
      for (const rp of bodies(t.required_providers)) {
        for (const [name, spec] of Object.entries(rp)) {
          if (!isObject(spec)) continue;
          if (spec.source === 'hashicorp/google' || name === 'google') {
            if (spec.source !== 'hashicorp/google')
              problems.push(`${f.path}: google provider source is not hashicorp/google`);
            if (typeof spec.version !== 'string' || !/^~>\s*7\.\d+$/.test(spec.version.trim())) {
              problems.push(`${f.path}: google provider version ${JSON.stringify(spec.version)} is not "~> 7.x"`);
            } else {
              pinned.add(dirOf(f));
            }
          } else if (name === 'google-beta') {
            problems.push(`${f.path}: google-beta is not used here`);
          }
        }
      }
    }
  }
  for (const d of dirs) if (!pinned.has(d)) problems.push(`${d}: no required_providers pin of hashicorp/google ~> 7.x`);
  return problems;
}

/** Each environment root keeps its state in GCS (`backend "gcs" {}`, configured at init). */
export function checkBackends(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  for (const root of environmentRoots(files)) {
    const ok = files
      .filter((f) => dirOf(f) === root)
      .some((f) => bodies(f.json.terraform).some((t) => isObject(t.backend) && Array.isArray(t.backend.gcs)));
    if (!ok) problems.push(`${root}: no backend "gcs" block`);
  }
  return problems;
}

export const environmentRoots = (files: TfFile[]) =>
  [...new Set(files.map(dirOf).filter((d) => /^environments\/[^/]+$/.test(d)))].sort();

/** The module that wires the whole platform; every environment root calls it and nothing else. */
export const PLATFORM = 'modules/platform';
const isWorkloadModule = (m: ModuleCall) => /^modules\/cloud-run-(service|worker-pool)$/.test(m.target);

interface Resource {
  file: string;
  type: string;
  name: string;
  body: Body;
}
function resources(files: TfFile[]): Resource[] {
  const out: Resource[] = [];
  for (const f of files) {
    if (!isObject(f.json.resource)) continue;
    for (const [type, named] of Object.entries(f.json.resource)) {
      if (!isObject(named)) continue;
      for (const [name, blocks] of Object.entries(named)) {
        for (const body of bodies(blocks)) out.push({ file: f.path, type, name, body });
      }
    }
  }
  return out;
}

/** Every Pub/Sub subscription never expires (`expiration_policy { ttl = "" }`), dead-letter ones included. */
export function checkSubscriptionsNeverExpire(files: TfFile[]): Problem[] {
  return resources(files)
    .filter((r) => r.type === 'google_pubsub_subscription')
    .flatMap((r) => {
      const policy = bodies(r.body.expiration_policy);
      return policy.length === 1 && policy[0]!.ttl === ''
        ? []
        : [
            `${r.file}: google_pubsub_subscription.${r.name} has no expiration_policy { ttl = "" } (it would be deleted after 31 idle days)`,
          ];
    });
}

/**
 * The pubsub module creates exactly the catalogue: Terraform reads the exported JSON
 * (`pnpm catalogue:export`), so the export must equal the catalogue in packages/contracts/src,
 * the module must map every field the catalogue sets, and every root must point at the export.
 */
export function checkPubsub(catalogue: Catalogue, exported: Catalogue, files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  const was = 'packages/contracts/catalogue.json (run pnpm catalogue:export)';
  const exportedTopics = new Set(exported.topics.map((t) => t.name));
  for (const t of catalogue.topics) {
    if (!exportedTopics.has(t.name)) problems.push(`topic ${t.name}: in the catalogue but not in ${was}`);
  }
  for (const t of exported.topics) {
    if (!catalogue.topics.some((c) => c.name === t.name))
      problems.push(`topic ${t.name}: in ${was} but not in the catalogue`);
  }
  const exportedSubs = new Map(exported.subscriptions.map((s) => [s.name, s]));
  for (const s of catalogue.subscriptions) {
    const e = exportedSubs.get(s.name);
    if (!e) {
      problems.push(`subscription ${s.name}: in the catalogue but not in ${was}`);
      continue;
    }
    for (const k of [
      'topic',
      'service',
      'backend',
      'deadLetterTopic',
      'deadLetterHoldSubscription',
      'deadLetterWatchSubscription',
    ] as const) {
      if (e[k] !== s[k])
        problems.push(`subscription ${s.name}: ${k} is ${String(e[k])} in ${was}, ${String(s[k])} in the catalogue`);
    }
    for (const k of Object.keys(s.policy) as (keyof typeof s.policy)[]) {
      if (e.policy[k] !== s.policy[k]) {
        problems.push(
          `subscription ${s.name}: ${k} is ${String(e.policy[k])} in ${was}, ${String(s.policy[k])} in the catalogue`,
        );
      }
    }
  }
  for (const e of exported.subscriptions) {
    if (!catalogue.subscriptions.some((s) => s.name === e.name))
      problems.push(`subscription ${e.name}: in ${was} but not in the catalogue`);
  }

  // The module maps each catalogue field onto the resources (for_each over the export).
  const mod = files.filter((f) => f.path.startsWith('modules/pubsub/'));
  const locals = JSON.stringify(mod.flatMap((f) => bodies(f.json.locals)));
  if (!locals.includes('jsondecode(file(var.catalogue_file))'))
    problems.push('modules/pubsub: does not read var.catalogue_file');
  const res = resources(mod);
  const one = (type: string, name: string) => res.find((r) => r.type === type && r.name === name)?.body;
  const expect = (what: string, body: Body | undefined, path: string[], want: unknown) => {
    let v: unknown = body;
    for (const p of path) v = Array.isArray(v) ? (v[0] as Body | undefined)?.[p] : isObject(v) ? v[p] : undefined;
    if (v !== want)
      problems.push(
        `modules/pubsub: ${what} ${path.join('.')} is ${JSON.stringify(v)}, expected ${JSON.stringify(want)}`,
      );
  };
  const topic = one('google_pubsub_topic', 'topic');
  expect('topic', topic, ['for_each'], '${local.topics}');
  expect('topic', topic, ['name'], '${each.key}');
  const dlt = one('google_pubsub_topic', 'dead_letter');
  expect('dead-letter topic', dlt, ['for_each'], '${local.subscriptions}');
  expect('dead-letter topic', dlt, ['name'], '${each.value.deadLetterTopic}');
  const sub = one('google_pubsub_subscription', 'subscription');
  expect('subscription', sub, ['for_each'], '${local.subscriptions}');
  expect('subscription', sub, ['name'], '${each.key}');
  expect('subscription', sub, ['topic'], '${google_pubsub_topic.topic[each.value.topic].id}');
  expect('subscription', sub, ['ack_deadline_seconds'], '${each.value.policy.ackDeadlineSeconds}');
  expect(
    'subscription',
    sub,
    ['dead_letter_policy', 'dead_letter_topic'],
    '${google_pubsub_topic.dead_letter[each.key].id}',
  );
  expect(
    'subscription',
    sub,
    ['dead_letter_policy', 'max_delivery_attempts'],
    '${each.value.policy.maxDeliveryAttempts}',
  );
  expect('subscription', sub, ['retry_policy', 'minimum_backoff'], '${each.value.policy.minimumBackoffSeconds}s');
  expect('subscription', sub, ['retry_policy', 'maximum_backoff'], '${each.value.policy.maximumBackoffSeconds}s');
  expect('subscription', sub, ['retain_acked_messages'], true);
  const hold = one('google_pubsub_subscription', 'dead_letter_hold');
  expect('dead-letter hold', hold, ['name'], '${each.value.deadLetterHoldSubscription}');
  expect('dead-letter hold', hold, ['topic'], '${google_pubsub_topic.dead_letter[each.key].id}');
  const watch = one('google_pubsub_subscription', 'dead_letter_watch');
  expect('dead-letter watch', watch, ['name'], '${each.value.deadLetterWatchSubscription}');
  expect('dead-letter watch', watch, ['topic'], '${google_pubsub_topic.dead_letter[each.key].id}');
  problems.push(...checkSubscriptionsNeverExpire(mod));

  const calls = moduleCalls(files, PLATFORM).filter((m) => m.target === 'modules/pubsub');
  if (calls.length !== 1) problems.push(`${PLATFORM}: calls the pubsub module ${calls.length} times, expected once`);
  for (const m of calls) {
    if (
      typeof m.body.catalogue_file !== 'string' ||
      !m.body.catalogue_file.endsWith('/packages/contracts/catalogue.json')
    ) {
      problems.push(`${PLATFORM}: module ${m.name} does not read packages/contracts/catalogue.json`);
    }
  }
  return problems;
}

interface ModuleCall {
  /** The calling directory, e.g. environments/prod or modules/platform. */
  dir: string;
  name: string;
  source: string;
  /** The called module's directory relative to the terraform directory (source resolved from dir). */
  target: string;
  body: Body;
}
function moduleCalls(files: TfFile[], dir: string): ModuleCall[] {
  const out: ModuleCall[] = [];
  for (const f of files.filter((x) => dirOf(x) === dir)) {
    if (!isObject(f.json.module)) continue;
    for (const [name, blocks] of Object.entries(f.json.module)) {
      for (const body of bodies(blocks)) {
        const source = String(body.source);
        out.push({ dir, name, source, target: posix.normalize(posix.join(dir, source)), body });
      }
    }
  }
  return out;
}

/** The module calls in modules/platform, or a problem when it has none (it holds every workload). */
function platformCalls(files: TfFile[], problems: Problem[]): ModuleCall[] {
  const calls = moduleCalls(files, PLATFORM);
  if (calls.length === 0) problems.push(`${PLATFORM}: no module calls (it holds every workload)`);
  return calls;
}

// Arguments of a module block that are Terraform's, not the module's inputs.
const META_ARGUMENTS = new Set(['source', 'version', 'providers', 'depends_on', 'count', 'for_each']);

/**
 * Each environment root is thin: it calls modules/platform once, passes every input the module
 * declares (the module has no defaults, so each environment states its sizes) and nothing it does
 * not declare, and calls no other module, since a workload wired in one root only would escape the
 * workload checks and make the environments differ in more than their values.
 */
export function checkRoots(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  const inputs = new Map<string, Body>();
  for (const f of files.filter((x) => dirOf(x) === PLATFORM)) {
    for (const [name, blocks] of Object.entries(isObject(f.json.variable) ? f.json.variable : {})) {
      for (const v of bodies(blocks)) {
        inputs.set(name, v);
        if ('default' in v)
          problems.push(`${f.path}: variable "${name}" has a default; each environment root must state it`);
      }
    }
  }
  if (inputs.size === 0) problems.push(`${PLATFORM}: declares no variables`);
  const roots = environmentRoots(files);
  if (roots.length === 0) problems.push('no environment roots under terraform/environments');
  for (const root of roots) {
    const calls = moduleCalls(files, root);
    const platform = calls.filter((m) => m.target === PLATFORM);
    if (platform.length !== 1) problems.push(`${root}: calls ${PLATFORM} ${platform.length} times, expected once`);
    for (const m of platform) {
      for (const name of inputs.keys()) {
        if (!(name in m.body)) problems.push(`${root}: module ${m.name} does not pass ${name}`);
      }
      for (const arg of Object.keys(m.body)) {
        if (!META_ARGUMENTS.has(arg) && !inputs.has(arg))
          problems.push(`${root}: module ${m.name} passes ${arg}, which ${PLATFORM} does not declare`);
      }
    }
    for (const m of calls.filter((x) => x.target !== PLATFORM)) {
      problems.push(`${root}: calls ${m.target} directly (module ${m.name}); wire it in ${PLATFORM}`);
    }
  }
  return problems;
}

/** No bucket is public: enforced public access prevention, uniform access, no allUsers grants. */
export function checkBuckets(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  const all = resources(files);
  for (const r of all.filter((x) => x.type === 'google_storage_bucket')) {
    if (r.body.public_access_prevention !== 'enforced') {
      problems.push(`${r.file}: google_storage_bucket.${r.name} does not set public_access_prevention = "enforced"`);
    }
    if (r.body.uniform_bucket_level_access !== true) {
      problems.push(`${r.file}: google_storage_bucket.${r.name} does not set uniform_bucket_level_access = true`);
    }
  }
  const publicMember = /\ball(Authenticated)?Users\b/;
  for (const r of all.filter((x) =>
    /^google_storage_(bucket|object|default_object)_(iam|acl|access_control)/.test(x.type),
  )) {
    if (publicMember.test(JSON.stringify(r.body)))
      problems.push(`${r.file}: ${r.type}.${r.name} grants allUsers/allAuthenticatedUsers`);
  }
  for (const r of all.filter((x) => /acl|access_control/.test(x.type) && x.type.startsWith('google_storage_'))) {
    problems.push(`${r.file}: ${r.type}.${r.name}: ACLs are off (uniform access); grant IAM roles instead`);
  }
  return problems;
}

// Shapes of real credentials: vendor prefixes, AIPROD's own API keys, private keys, and long
// random-looking tokens. Terraform values are names, roles and references, none of which match.
const CREDENTIAL_SHAPES: [RegExp, string][] = [
  [/aiprod_[a-z]+_[A-Za-z0-9]{20,}/, 'an AIPROD API key'],
  [/\br8_[A-Za-z0-9]{20,}/, 'a Replicate token'],
  [/\bkey_[A-Za-z0-9]{30,}/, 'a Runway key'],
  [/\bAIza[0-9A-Za-z_-]{30,}/, 'a Google API key'],
  [/\b(sk|rk|pk)[-_][A-Za-z0-9_-]{16,}/, 'a secret key'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/"private_key"\s*:/, 'a service-account key file'],
];
const looksRandom = (s: string) =>
  !s.includes('${') && /^[A-Za-z0-9+/=_-]{32,}$/.test(s) && /[0-9]/.test(s) && /[a-z]/.test(s) && /[A-Z]/.test(s);

// Secret versions whose data is a file committed in git, not a credential: Cloud Run mounts files
// only from Secret Manager, and the collector sidecar needs its config as a file.
const COMMITTED_CONFIG_VERSIONS: Record<string, string> = {
  'modules/monitoring/main.tf google_secret_manager_secret_version.collector_config':
    '${file("${path.module}/collector.yaml")}',
};
const isCommittedConfig = (r: Resource) =>
  COMMITTED_CONFIG_VERSIONS[`${r.file} ${r.type}.${r.name}`] === r.body.secret_data;

/** No secret value anywhere in Terraform: no secret versions, nothing shaped like a credential. */
export function checkNoLiteralSecrets(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  for (const r of resources(files).filter((x) => x.type === 'google_secret_manager_secret_version')) {
    if (isCommittedConfig(r)) continue;
    problems.push(
      `${r.file}: google_secret_manager_secret_version.${r.name} puts a secret value in Terraform (and its state); add versions by hand`,
    );
  }
  for (const f of files) {
    const walk = (v: unknown, at: string) => {
      if (typeof v === 'string') {
        const shape = CREDENTIAL_SHAPES.find(([re]) => re.test(v));
        if (shape) problems.push(`${f.path}: ${at} looks like ${shape[1]}`);
        else if (looksRandom(v)) problems.push(`${f.path}: ${at} looks like a literal key or token`);
      } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`));
      else if (isObject(v)) for (const [k, x] of Object.entries(v)) walk(x, at ? `${at}.${k}` : k);
    };
    walk(f.json, '');
  }
  return problems;
}

/** What the checks read of an env.ts schema (a TypeBox object is a JSON Schema object). */
export interface EnvSchema {
  properties: Record<string, object>;
  required?: string[];
}
/** The env.ts schema of each service, passed in so a test can alter one. */
export type EnvSchemas = Record<ServiceName, EnvSchema>;

const SECRET_NAME = /(_KEY|_TOKEN|_SECRET|PASSWORD|CREDENTIALS?)$/;
// Workloads that hand out V4 signed URLs (services/gateway/src/views.ts) and so sign as
// themselves; delivery's webhooks carry no signed links.
const SIGNS_URLS: readonly ServiceName[] = ['gateway'];
const IMAGE: Record<ServiceName, string> = {
  gateway: 'gateway',
  planner: 'planner',
  render: 'render',
  qa: 'qa',
  delivery: 'delivery',
};

/** Variables env.ts requires: not optional and without a default. */
export function requiredEnv(schema: EnvSchema): string[] {
  return (schema.required ?? []).filter((k) => !('default' in (schema.properties[k] ?? {})));
}

/** The workload a Cloud Run name denotes (docs/decisions/2026-12-cloud-run-shape.md). */
function workloadOf(name: string): { service: ServiceName; backend?: string; kind: 'service' | 'pool' } | undefined {
  if (name === 'aiprod-gateway') return { service: 'gateway', kind: 'service' };
  if (name === 'aiprod-planner' || name === 'aiprod-qa' || name === 'aiprod-delivery') {
    return { service: name.slice('aiprod-'.length) as ServiceName, kind: 'pool' };
  }
  const m = /^aiprod-render-(.+)$/.exec(name);
  if (m && (BACKENDS as readonly string[]).includes(m[1]!)) return { service: 'render', backend: m[1]!, kind: 'pool' };
  return undefined;
}

const stringMap = (v: unknown): Record<string, string> =>
  isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {};

/**
 * Every service and worker pool in modules/platform (which every root calls, see checkRoots): a
 * name from the decision record, its own service account, its image, every variable its env.ts
 * requires (plus the cross-field rules env.ts enforces at start-up), secrets only by
 * Secret Manager reference, and IAM that matches what it does (Vertex, bucket, URL signing).
 */
export function checkWorkloads(files: TfFile[], schemas: EnvSchemas): Problem[] {
  const problems: Problem[] = [];
  const calls = platformCalls(files, problems);
  const workloads = calls.filter(isWorkloadModule);
  const iam = calls.find((m) => m.target === 'modules/iam');
  const iamWorkloads = isObject(iam?.body.workloads) ? iam.body.workloads : {};
  if (!iam) problems.push(`${PLATFORM}: no iam module`);
  const names = workloads.map((w) => String(w.body.name));
  const deployedBackends = names.flatMap((n) => workloadOf(n)?.backend ?? []).sort();
  if (!names.includes('aiprod-gateway')) problems.push(`${PLATFORM}: no aiprod-gateway service`);
  const accounts = new Map<string, string>();
  // A literal local of the platform module stands for its value (`BACKEND_MODELS = local.backend_models`),
  // so env.ts's rules check what the workload will be given.
  const locals = Object.assign(
    {},
    ...files.filter((f) => dirOf(f) === PLATFORM).flatMap((f) => bodies(f.json.locals)),
  ) as Record<string, unknown>;
  const literal = (name: string | undefined) => {
    const value = name === undefined ? undefined : locals[name];
    return typeof value === 'string' && !value.includes('${') ? value : undefined;
  };
  const resolved = (v: string) => {
    const name = /^\$\{local\.([A-Za-z0-9_]+)\}$/.exec(v)?.[1];
    const value = name === undefined ? undefined : locals[name];
    if (typeof value !== 'string') return v;
    // A choice between literals on a literal local (`local.a == "x" ? "y" : "z"`), as the
    // translator follows the director: evaluated, so the rules see the value deployed.
    const choice = /^\$\{local\.([A-Za-z0-9_]+) == "([^"]*)" \? "([^"]*)" : "([^"]*)"\}$/.exec(value);
    const on = literal(choice?.[1]);
    if (choice && on !== undefined) return on === choice[2] ? choice[3]! : choice[4]!;
    return value;
  };
  // Every workload that reads BACKEND_MODELS must get the same value: a plan made for one model
  // and rendered on another sends a vendor what its model refuses.
  const backendModels = new Map<string, string | undefined>();
  // The gateway refuses a further language without the brief's words exactly when the planner has
  // no translator: each must be told the other's value (unset: its env.ts default).
  const translators = new Map<string, string>();
  const speechEngines = new Map<string, string>();

  for (const w of workloads) {
    const name = String(w.body.name);
    const at = `${PLATFORM}: ${name}`;
    const kind = workloadOf(name);
    if (!kind) {
      problems.push(`${at}: not a workload name from docs/decisions/2026-12-cloud-run-shape.md`);
      continue;
    }
    const wantSource = kind.kind === 'service' ? 'cloud-run-service' : 'cloud-run-worker-pool';
    if (w.target !== `modules/${wantSource}`) problems.push(`${at}: should be deployed with modules/${wantSource}`);

    // Its own service account, named as the workload.
    const sa = String(w.body.service_account_email ?? '');
    const saKey = /^\$\{module\.iam\.emails\["([^"]+)"\]\}$/.exec(sa)?.[1];
    if (saKey !== name)
      problems.push(
        `${at}: service_account_email is ${JSON.stringify(sa)}, expected its own account module.iam.emails["${name}"]`,
      );
    if (accounts.has(sa)) problems.push(`${at}: shares its service account with ${accounts.get(sa)!}`);
    accounts.set(sa, name);
    const grant = iamWorkloads[name];
    if (!isObject(grant)) problems.push(`${at}: no service account in the iam module's workloads`);
    else if (grant.service !== kind.service)
      problems.push(`${at}: iam workloads say service ${String(grant.service)}, expected ${kind.service}`);

    // An image from the aiprod repository, the right one for the service.
    const image = String(w.body.image ?? '');
    if (!new RegExp(`/${IMAGE[kind.service]}:[^/]+$`).test(image) || !image.includes('${local.images}')) {
      problems.push(
        `${at}: image ${JSON.stringify(image)} is not the ${IMAGE[kind.service]} image of the aiprod repository`,
      );
    }

    // Environment: what env.ts requires, and the rules it checks across fields.
    const env = Object.fromEntries(Object.entries(stringMap(w.body.env)).map(([k, v]) => [k, resolved(v)]));
    const secretEnv = stringMap(w.body.secret_env);
    const has = (k: string) => k in env || k in secretEnv;
    const schema = schemas[kind.service];
    for (const k of requiredEnv(schema)) if (!has(k)) problems.push(`${at}: env.ts requires ${k} but it is not set`);
    for (const k of [...Object.keys(env), ...Object.keys(secretEnv)]) {
      if (!(k in schema.properties)) problems.push(`${at}: sets ${k}, which its env.ts does not read`);
    }
    const prop = (k: string) => schema.properties[k] as { default?: unknown } | undefined;
    // The rules across settings that env.ts declares (parseEnv enforces them at start-up), so a
    // deployment that would not start is refused here. A secret counts as set when it is mounted.
    const mounted = Object.fromEntries(Object.keys(secretEnv).map((k) => [k, 'from-secret-manager']));
    for (const problem of brokenRules(schema, { ...env, ...mounted })) problems.push(`${at}: ${problem}`);
    if (prop('STORAGE_KIND') && (env.STORAGE_KIND ?? String(prop('STORAGE_KIND')!.default)) === 'local')
      problems.push(`${at}: STORAGE_KIND=local has no place on Cloud Run (instances share no disk)`);
    if (prop('ENABLED_BACKENDS')) {
      const value = env.ENABLED_BACKENDS;
      const listed = value === undefined ? undefined : [...new Set(splitList(value))].sort();
      if (JSON.stringify(listed) !== JSON.stringify(deployedBackends)) {
        problems.push(
          `${at}: ENABLED_BACKENDS is ${JSON.stringify(value)}, expected the deployed render pools ${deployedBackends.join(',')}`,
        );
      }
    }
    if (prop('BACKEND_MODELS')) backendModels.set(name, env.BACKEND_MODELS);
    if (prop('SPEECH_ENGINE'))
      speechEngines.set(name, env.SPEECH_ENGINE ?? `${String(prop('SPEECH_ENGINE')!.default)} (default)`);
    if (prop('PLANNER_TRANSLATOR'))
      translators.set(name, env.PLANNER_TRANSLATOR ?? `${String(prop('PLANNER_TRANSLATOR')!.default)} (default)`);
    if (kind.service === 'render') {
      if (env.RENDER_BACKEND !== kind.backend) {
        problems.push(`${at}: RENDER_BACKEND is ${JSON.stringify(env.RENDER_BACKEND)}, expected ${kind.backend!}`);
      }
    }
    for (const [k, v] of Object.entries(secretEnv)) {
      if (!/^\$\{module\.secrets\.ids\["[^"]+"\]\}$/.test(v))
        problems.push(`${at}: secret_env ${k} is not a module.secrets reference`);
    }
    for (const k of Object.keys(env)) {
      if (SECRET_NAME.test(k))
        problems.push(`${at}: ${k} is a secret and must come from Secret Manager (secret_env), not a literal`);
    }

    // IAM that matches what the code does.
    if (isObject(grant)) {
      const needsVertex =
        env.PLANNER_DIRECTOR === 'gemini' ||
        env.QA_JUDGE === 'gemini' ||
        (kind.service === 'planner' && env.PLANNER_TRANSLATOR === 'gemini') ||
        (kind.service === 'render' && kind.backend === 'veo');
      if (needsVertex !== (grant.vertex === true)) {
        problems.push(
          `${at}: ${needsVertex ? 'calls Vertex AI but has no' : 'does not call Vertex AI but has'} roles/aiplatform.user`,
        );
      }
      const usesBucket = has('STORAGE_BUCKET');
      if (usesBucket !== (typeof grant.bucket_role === 'string')) {
        problems.push(`${at}: ${usesBucket ? 'uses the bucket but has no' : 'has no bucket but has a'} bucket role`);
      }
      const signs = SIGNS_URLS.includes(kind.service);
      if (signs !== (grant.signs_urls === true)) {
        problems.push(
          `${at}: ${signs ? 'signs URLs but cannot sign as itself' : 'does not sign URLs but holds token creator on itself'}`,
        );
      }
    }
  }
  for (const key of Object.keys(iamWorkloads)) {
    if (!names.includes(key)) problems.push(`${PLATFORM}: iam module has an account for ${key}, which is not deployed`);
  }
  if (new Set(backendModels.values()).size > 1) {
    const seen = [...backendModels].map(([n, v]) => `${n}=${JSON.stringify(v ?? null)}`).join(', ');
    problems.push(`${PLATFORM}: BACKEND_MODELS differs between the planner and the render pools (${seen})`);
  }
  if (new Set(speechEngines.values()).size > 1) {
    const seen = [...speechEngines].map(([n, v]) => `${n}=${v}`).join(', ');
    problems.push(`${PLATFORM}: SPEECH_ENGINE differs between the gateway, the planner and delivery (${seen})`);
  }
  if (new Set(translators.values()).size > 1) {
    const seen = [...translators].map(([n, v]) => `${n}=${v}`).join(', ');
    problems.push(`${PLATFORM}: PLANNER_TRANSLATOR differs between the gateway and the planner (${seen})`);
  }
  return problems;
}

/**
 * Each secret is readable by exactly the workloads that mount it (and the deployer only for a
 * secret no workload mounts, the smoke key): a vendor key reaches its one pool and no other.
 */
export function checkSecretAccess(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  const calls = platformCalls(files, problems);
  const secretsCall = calls.find((m) => m.target === 'modules/secrets');
  const secrets = isObject(secretsCall?.body.secrets) ? secretsCall.body.secrets : {};
  const mounts = new Map<string, Set<string>>();
  for (const w of calls.filter(isWorkloadModule)) {
    for (const [k, ref] of Object.entries(stringMap(w.body.secret_env))) {
      const id = /^\$\{module\.secrets\.ids\["([^"]+)"\]\}$/.exec(ref)?.[1];
      if (!id) continue; // reported by checkWorkloads
      if (!(id in secrets))
        problems.push(
          `${PLATFORM}: ${String(w.body.name)} mounts ${k} from ${id}, which the secrets module does not create`,
        );
      mounts.set(id, (mounts.get(id) ?? new Set()).add(String(w.body.name)));
    }
  }
  for (const [id, spec] of Object.entries(secrets)) {
    const accessors = stringMap(isObject(spec) ? spec.accessors : undefined);
    const mounted = mounts.get(id) ?? new Set<string>();
    for (const [label, member] of Object.entries(accessors)) {
      const wantMember =
        label === 'aiprod-deployer' ? '${module.iam.deployer_member}' : `\${module.iam.members["${label}"]}`;
      if (member !== wantMember)
        problems.push(`${PLATFORM}: ${id}: accessor ${label} is ${JSON.stringify(member)}, expected ${wantMember}`);
      const allowed = mounted.has(label) || (label === 'aiprod-deployer' && mounted.size === 0);
      if (!allowed) problems.push(`${PLATFORM}: ${id} is readable by ${label}, which does not mount it`);
    }
    for (const name of mounted) {
      if (!(name in accessors)) problems.push(`${PLATFORM}: ${name} mounts ${id} but is not granted access to it`);
    }
  }
  return problems;
}

/** The workload that pulls a subscription, named as the pubsub module's `owner` local names it. */
export const subscriptionOwner = (s: { service: string; backend?: string }) =>
  s.backend ? `aiprod-${s.service}-${s.backend}` : `aiprod-${s.service}`;

/**
 * Every subscription in the catalogue has its consumer deployed in modules/platform, and the iam module
 * gets its subscriber and publisher grants from the pubsub module (which derives them from the
 * same catalogue), so a new subscriber or publisher needs no hand-written grant.
 */
export function checkConsumers(catalogue: Catalogue, files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  const mod = files.filter((f) => f.path.startsWith('modules/pubsub/'));
  const owner = JSON.stringify(mod.flatMap((f) => bodies(f.json.locals)).find((l) => 'owner' in l)?.owner ?? '');
  if (!owner.includes('aiprod-${s.service}-${s.backend}') || !owner.includes('aiprod-${s.service}')) {
    problems.push('modules/pubsub: local.owner does not name workloads aiprod-<service>[-<backend>]');
  }
  const calls = platformCalls(files, problems);
  const deployed = new Set(calls.filter(isWorkloadModule).map((m) => String(m.body.name)));
  for (const s of catalogue.subscriptions) {
    const name = subscriptionOwner(s);
    if (!deployed.has(name)) problems.push(`${PLATFORM}: nothing pulls ${s.name}: no workload ${name}`);
  }
  const iam = calls.find((m) => m.target === 'modules/iam');
  if (iam?.body.subscription_owners !== '${module.pubsub.subscription_owners}') {
    problems.push(`${PLATFORM}: the iam module's subscription_owners do not come from module.pubsub`);
  }
  if (iam?.body.topic_publishers !== '${module.pubsub.topic_publishers}') {
    problems.push(`${PLATFORM}: the iam module's topic_publishers do not come from module.pubsub`);
  }
  return problems;
}

/**
 * Rights to read or acknowledge messages are granted per subscription, never project-wide: a
 * project-level grant of a custom role that can consume would let its holder (the deployer,
 * which runs the repository's tests) pull every queue of the platform.
 */
export function checkNoProjectWideConsume(files: TfFile[]): Problem[] {
  const consuming = new Set(
    resources(files)
      .filter((r) => r.type === 'google_project_iam_custom_role')
      .filter((r) => JSON.stringify(r.body.permissions ?? []).includes('pubsub.subscriptions.consume'))
      .map((r) => `google_project_iam_custom_role.${r.name}`),
  );
  return resources(files)
    .filter((r) => r.type === 'google_project_iam_member')
    .flatMap((r) => {
      const role = String(r.body.role ?? '');
      const custom = [...consuming].find((c) => role.includes(c));
      const predefined = /roles\/pubsub\.(subscriber|editor|admin)\b/.test(role);
      return custom || predefined
        ? [
            `${r.file}: google_project_iam_member.${r.name} grants ${custom ?? role} project-wide (grant it per subscription)`,
          ]
        : [];
    });
}

/**
 * No Cloud Run secret volume mounts "latest", nor leaves its version out (which mounts the latest
 * too). A secret volume is read when an instance starts, so a new version would reach the new
 * instances of revisions already running: a change (a bad collector config, on which the
 * application container waits) with no new revision, no startup probe before traffic and no
 * canary. A version number, set directly or through a variable without a "latest" default, makes
 * a new version a new revision. (Secret environment variables keep "latest" on purpose: vendor keys
 * are rotated by adding a version by hand, outside Terraform.)
 */
export function checkSecretVolumesPinned(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  for (const f of files) {
    const defaults = new Map<string, unknown>();
    for (const g of files.filter((x) => dirOf(x) === dirOf(f))) {
      for (const [name, blocks] of Object.entries(isObject(g.json.variable) ? g.json.variable : {}))
        defaults.set(name, bodies(blocks)[0]?.default);
    }
    const versionProblem = (version: unknown): string | undefined => {
      if (version === undefined) return 'no version (the latest is mounted)';
      if (version === 'latest') return 'version "latest"';
      const variable = /^\$\{var\.([a-z0-9_]+)\}$/.exec(String(version))?.[1];
      if (variable && defaults.get(variable) === 'latest') return `var.${variable}, whose default is "latest"`;
      return undefined;
    };
    for (const r of resources([f])) {
      // Secret volumes wherever the resource's template has them (a service's, a pool's, a job's
      // nested template), written out or as dynamic blocks.
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) {
          v.forEach(walk);
          return;
        }
        if (!isObject(v)) return;
        const dynamic = isObject(v.dynamic) ? bodies(v.dynamic.volumes).flatMap((d) => bodies(d.content)) : [];
        for (const volume of [...bodies(v.volumes), ...dynamic]) {
          for (const secret of bodies(volume.secret)) {
            const items = bodies(secret.items);
            const at = `${r.file}: ${r.type}.${r.name}: secret volume ${String(volume.name)}`;
            if (items.length === 0) problems.push(`${at} mounts the secret without items (the latest version)`);
            for (const item of items) {
              const wrong = versionProblem(item.version);
              if (wrong) problems.push(`${at} mounts ${wrong}; mount a version number`);
            }
          }
        }
        Object.values(v).forEach(walk);
      };
      walk(r.body);
    }
  }
  return problems;
}

/**
 * Telemetry reaches Cloud Monitoring and Cloud Trace: modules/platform calls the monitoring module
 * once, lets every workload account read the collector config, and passes that config (the
 * version Terraform wrote, by number) to every service and pool; each workload module runs the collector sidecar (the application waiting for
 * it, pointed at it by OTEL_EXPORTER_OTLP_ENDPOINT); the iam module lets every workload account
 * write metrics and spans.
 */
export function checkTelemetry(files: TfFile[]): Problem[] {
  const problems: Problem[] = [];
  const calls = platformCalls(files, problems);
  const monitoring = calls.filter((m) => m.target === 'modules/monitoring');
  if (monitoring.length !== 1)
    problems.push(`${PLATFORM}: calls the monitoring module ${monitoring.length} times, expected once`);
  for (const m of monitoring) {
    if (m.body.collector_readers !== '${module.iam.members}')
      problems.push(
        `${PLATFORM}: module ${m.name}: collector_readers is not every workload account (module.iam.members)`,
      );
  }
  for (const w of calls.filter(isWorkloadModule)) {
    const output = (name: string) => `\${module.${monitoring[0]?.name ?? 'monitoring'}.${name}}`;
    if (w.body.collector_config_secret !== output('collector_config_secret'))
      problems.push(`${PLATFORM}: ${String(w.body.name)} does not mount the monitoring module's collector config`);
    if (w.body.collector_config_version !== output('collector_config_version'))
      problems.push(
        `${PLATFORM}: ${String(w.body.name)} does not mount the collector config's version Terraform wrote (collector_config_version)`,
      );
  }
  for (const mod of ['modules/cloud-run-service', 'modules/cloud-run-worker-pool']) {
    const res = resources(files.filter((f) => dirOf(f) === mod)).filter(
      (r) => r.type === 'google_cloud_run_v2_service' || r.type === 'google_cloud_run_v2_worker_pool',
    );
    if (res.length === 0) problems.push(`${mod}: no Cloud Run resource`);
    for (const r of res) {
      const template = bodies(r.body.template)[0] ?? {};
      const containers = bodies(template.containers);
      const [app, ...sidecars] = containers;
      const collector = sidecars.find((c) => c.name === 'collector');
      const at = `${mod}: ${r.type}.${r.name}`;
      if (app?.name !== 'app') problems.push(`${at}: the first container is not "app"`);
      else {
        const env = bodies(app.env).find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT');
        if (env?.value !== 'http://localhost:4318')
          problems.push(
            `${at}: app does not send OTLP to the sidecar (OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318)`,
          );
        if (JSON.stringify(app.depends_on) !== '["collector"]')
          problems.push(`${at}: app does not wait for the collector`);
      }
      if (!collector) {
        problems.push(`${at}: no collector sidecar`);
        continue;
      }
      if (collector.image !== '${var.collector_image}')
        problems.push(`${at}: the collector image is not var.collector_image`);
      const mount = bodies(collector.volume_mounts)[0];
      const volume = bodies(template.volumes).find((v) => v.name === mount?.name);
      const secret = bodies(volume?.secret)[0];
      if (secret?.secret !== '${var.collector_config_secret}')
        problems.push(`${at}: the collector does not mount var.collector_config_secret`);
      if (bodies(secret?.items)[0]?.version !== '${var.collector_config_version}')
        problems.push(`${at}: the collector does not mount var.collector_config_version`);
      if (bodies(collector.startup_probe).length !== 1) problems.push(`${at}: the collector has no startup probe`);
    }
  }
  const iam = JSON.stringify(files.filter((f) => dirOf(f) === 'modules/iam').map((f) => f.json));
  for (const role of ['roles/monitoring.metricWriter', 'roles/cloudtrace.agent']) {
    if (!iam.includes(role)) problems.push(`modules/iam: workload accounts are not granted ${role}`);
  }
  return problems;
}
