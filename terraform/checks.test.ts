import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { envSchema, rulesOf, type EnvRule } from '@aiprod/config';
import { catalogueJson } from '@aiprod/contracts';
import { DeliveryEnv } from '../services/delivery/src/env';
import { GatewayEnv } from '../services/gateway/src/env';
import { PlannerEnv } from '../services/planner/src/env';
import { QaEnv } from '../services/qa/src/env';
import { RenderEnv } from '../services/render/src/env';
import {
  checkBackends,
  checkBuckets,
  checkConsumers,
  checkFormat,
  checkNoLiteralSecrets,
  checkNoProjectWideConsume,
  checkProviders,
  checkRoots,
  checkSecretAccess,
  checkSecretVolumesPinned,
  checkPubsub,
  checkSubscriptionsNeverExpire,
  checkTelemetry,
  checkVariables,
  checkWorkloads,
  loadTerraform,
  requiredEnv,
  type Catalogue,
  type EnvSchemas,
  type TfFile,
} from './check';

const dir = __dirname;
const schemas: EnvSchemas = {
  gateway: GatewayEnv,
  planner: PlannerEnv,
  render: RenderEnv,
  qa: QaEnv,
  delivery: DeliveryEnv,
};
const exported = JSON.parse(
  readFileSync(join(dir, '..', 'packages', 'contracts', 'catalogue.json'), 'utf8'),
) as Catalogue;

let files: TfFile[];
beforeAll(async () => {
  const loaded = await loadTerraform(dir);
  expect(loaded.problems).toEqual([]);
  files = loaded.files;
});

/** The real tree with one file's text changed (and re-parsed), for the checks to catch. */
async function edited(path: string, change: (text: string) => string): Promise<TfFile[]> {
  const before = readFileSync(join(dir, path), 'utf8');
  const after = change(before);
  expect(after).not.toBe(before); // the edit really happened
  const json = (await parse(path, after)) as TfFile['json'];
  return files.map((f) => (f.path === path ? { path, json } : f));
}
const snippet = async (path: string, hcl: string): Promise<TfFile> => ({
  path,
  json: (await parse(path, hcl)) as TfFile['json'],
});

describe('terraform offline checks: the real tree passes', () => {
  it('parses every .tf file, staging and prod roots included', () => {
    const paths = files.map((f) => f.path);
    for (const m of [
      'pubsub',
      'firestore',
      'cloud-run-service',
      'cloud-run-worker-pool',
      'storage',
      'iam',
      'secrets',
      'artifact-registry',
      'monitoring',
      'platform',
    ]) {
      expect(paths).toContain(`modules/${m}/main.tf`);
    }
    expect(paths).toContain('environments/staging/main.tf');
    expect(paths).toContain('environments/prod/main.tf');
    expect(paths.some((p) => p.startsWith('environments/dev/'))).toBe(false);
  });

  it('keeps each environment root thin: one call of modules/platform with every input', () => {
    expect(checkRoots(files)).toEqual([]);
  });

  it('is formatted as terraform fmt would', () => {
    expect(checkFormat(dir)).toEqual([]);
  });

  it('types and describes every variable, pins google 7.x everywhere, keeps state in GCS', () => {
    expect(checkVariables(files)).toEqual([]);
    expect(checkProviders(files)).toEqual([]);
    expect(checkBackends(files)).toEqual([]);
  });

  it('creates exactly the topic catalogue, and no subscription ever expires', () => {
    expect(checkPubsub(catalogueJson(), exported, files)).toEqual([]);
    expect(checkSubscriptionsNeverExpire(files)).toEqual([]);
    expect(checkConsumers(catalogueJson(), files)).toEqual([]);
  });

  it('keeps every bucket private and every secret out of Terraform', () => {
    expect(checkBuckets(files)).toEqual([]);
    expect(checkNoLiteralSecrets(files)).toEqual([]);
    expect(checkNoProjectWideConsume(files)).toEqual([]);
    expect(checkSecretAccess(files)).toEqual([]);
  });

  it('runs the collector sidecar beside every workload, with its config and its write roles', () => {
    expect(checkTelemetry(files)).toEqual([]);
  });

  it('mounts every secret volume at a version number, never "latest"', () => {
    expect(checkSecretVolumesPinned(files)).toEqual([]);
  });

  it('gives every service and pool its own account, its image and what its env.ts requires', () => {
    expect(requiredEnv(RenderEnv)).toEqual(expect.arrayContaining(['GCP_PROJECT', 'RENDER_BACKEND']));
    expect(checkWorkloads(files, schemas)).toEqual([]);
  });
});

describe('terraform offline checks bite', () => {
  it('reports a file that does not parse', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tf-check-'));
    try {
      writeFileSync(join(tmp, 'broken.tf'), 'resource "google_storage_bucket" "b" {\n  name = \n');
      const { problems } = await loadTerraform(tmp);
      expect(problems).toEqual([expect.stringMatching(/^broken\.tf: does not parse/)]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('reports a file terraform fmt would rewrite', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tf-fmt-'));
    try {
      writeFileSync(join(tmp, 'ugly.tf'), 'variable "x" {\ntype=string\n  description = "x"\n}\n');
      expect(checkFormat(tmp)).toEqual([expect.stringMatching(/^ugly\.tf: not formatted/)]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('reports a catalogue topic (and subscription) that Terraform would not create', () => {
    const base = catalogueJson();
    const extra = {
      ...base,
      topics: [...base.topics, { ...base.topics[0]!, name: 'aiprod.job.archived.v1' }],
      subscriptions: [
        ...base.subscriptions,
        { ...base.subscriptions[0]!, name: 'aiprod.job.archived.v1.delivery', topic: 'aiprod.job.archived.v1' },
      ],
    } as Catalogue;
    expect(checkPubsub(extra, exported, files)).toEqual([
      expect.stringContaining(
        'topic aiprod.job.archived.v1: in the catalogue but not in packages/contracts/catalogue.json',
      ),
      expect.stringContaining('subscription aiprod.job.archived.v1.delivery: in the catalogue but not in'),
    ]);
  });

  it('reports a catalogue subscriber with no workload deployed to pull it', () => {
    const base = catalogueJson();
    const sora = {
      ...base,
      subscriptions: [
        ...base.subscriptions,
        { ...base.subscriptions[0]!, name: 'aiprod.render.sora.v1.render-sora', service: 'render', backend: 'sora' },
      ],
    } as Catalogue;
    expect(checkConsumers(sora, files)).toEqual([
      'modules/platform: nothing pulls aiprod.render.sora.v1.render-sora: no workload aiprod-render-sora',
    ]);
  });

  it("reports a subscription whose ack deadline differs from the catalogue's", () => {
    const base = catalogueJson();
    const changed = {
      ...base,
      subscriptions: base.subscriptions.map((s, i) =>
        i === 0 ? { ...s, policy: { ...s.policy, ackDeadlineSeconds: 600 } } : s,
      ),
    } as Catalogue;
    expect(checkPubsub(changed, exported, files)).toEqual([
      expect.stringMatching(/ackDeadlineSeconds is 30 in packages\/contracts\/catalogue.json.*, 600 in the catalogue/),
    ]);
  });

  it('reports a pubsub module that drops a catalogue setting', async () => {
    const broken = await edited('modules/pubsub/main.tf', (t) =>
      t.replace('max_delivery_attempts = each.value.policy.maxDeliveryAttempts', 'max_delivery_attempts = 5'),
    );
    expect(checkPubsub(catalogueJson(), exported, broken)).toEqual([expect.stringContaining('max_delivery_attempts')]);
  });

  it('reports a subscription without expiration_policy { ttl = "" }', async () => {
    const broken = await edited('modules/pubsub/main.tf', (t) =>
      t.replace(
        /(resource "google_pubsub_subscription" "dead_letter_hold"[\s\S]*?)expiration_policy \{\s*ttl = ""\s*\}/,
        '$1',
      ),
    );
    expect(checkSubscriptionsNeverExpire(broken)).toEqual([
      expect.stringContaining('google_pubsub_subscription.dead_letter_hold'),
    ]);
    const ttl = await snippet(
      'x.tf',
      'resource "google_pubsub_subscription" "s" {\n  expiration_policy {\n    ttl = "2678400s"\n  }\n}\n',
    );
    expect(checkSubscriptionsNeverExpire([ttl])).toHaveLength(1);
  });

  it('reports a public bucket: allUsers, or public access prevention not enforced', async () => {
    const grant = await snippet(
      'modules/storage/public.tf',
      'resource "google_storage_bucket_iam_member" "world" {\n  bucket = "b"\n  role   = "roles/storage.objectViewer"\n  member = "allUsers"\n}\n',
    );
    expect(checkBuckets([...files, grant])).toEqual([expect.stringContaining('grants allUsers/allAuthenticatedUsers')]);
    const inherited = await edited('modules/storage/main.tf', (t) => t.replace('"enforced"', '"inherited"'));
    expect(checkBuckets(inherited)).toEqual([expect.stringContaining('public_access_prevention')]);
  });

  it('reports a secret written as a literal', async () => {
    const literal = await edited('modules/platform/main.tf', (t) =>
      t.replace(
        'RENDER_BACKEND   = "runway"',
        'RENDER_BACKEND   = "runway"\n    RUNWAY_API_KEY   = "key_9f3Kq27XbLpV0sWd4TzR8mYc1HnJ6uAe"',
      ),
    );
    expect(checkNoLiteralSecrets(literal)).toEqual([expect.stringContaining('looks like a Runway key')]);
    expect(checkWorkloads(literal, schemas)).toEqual([
      expect.stringContaining('aiprod-render-runway: RUNWAY_API_KEY is a secret and must come from Secret Manager'),
    ]);
    const version = await snippet(
      'modules/secrets/v.tf',
      'resource "google_secret_manager_secret_version" "v" {\n  secret      = "s"\n  secret_data = var.value\n}\n',
    );
    expect(checkNoLiteralSecrets([...files, version])).toEqual([
      expect.stringContaining('puts a secret value in Terraform'),
    ]);
  });

  it('reports a vendor secret readable by, or mounted into, a pool other than its own', async () => {
    const broken = await edited('modules/platform/main.tf', (t) =>
      t
        .replace(
          '{ "aiprod-render-replicate" = module.iam.members["aiprod-render-replicate"] }',
          '{ "aiprod-render-replicate" = module.iam.members["aiprod-render-replicate"], "aiprod-render-veo" = module.iam.members["aiprod-render-veo"] }',
        )
        .replace(
          'VERTEX_LOCATION  = var.veo_location\n  }',
          'VERTEX_LOCATION  = var.veo_location\n  }\n  secret_env = {\n    RUNWAY_API_KEY = module.secrets.ids["aiprod-runway-api-key"]\n  }',
        ),
    );
    expect(checkSecretAccess(broken)).toEqual([
      'modules/platform: aiprod-replicate-api-token is readable by aiprod-render-veo, which does not mount it',
      'modules/platform: aiprod-render-veo mounts aiprod-runway-api-key but is not granted access to it',
    ]);
  });

  it("reports a variable a service's env.ts requires that the platform module does not set", () => {
    // QA_REFERENCE_MODEL added to qa's env.ts as required (no Optional, no default).
    const stricter = {
      ...schemas,
      qa: {
        properties: { ...QaEnv.properties, QA_REFERENCE_MODEL: { type: 'string', minLength: 1 } },
        required: [...(QaEnv.required ?? []), 'QA_REFERENCE_MODEL'],
      },
    };
    expect(checkWorkloads(files, stricter)).toEqual([
      'modules/platform: aiprod-qa: env.ts requires QA_REFERENCE_MODEL but it is not set',
    ]);
  });

  it('reports a shared service account, a missing image, a wrong backend list and a missing vendor secret', async () => {
    const broken = await edited('modules/platform/main.tf', (t) =>
      t
        .replace(
          /service_account_email(\s+)= module\.iam\.emails\["aiprod-qa"\]/,
          'service_account_email$1= module.iam.emails["aiprod-delivery"]',
        )
        .replace(/image(\s+)= "\$\{local\.images\}\/planner:\$\{var\.image_tag\}"/, 'image$1= "nginx"')
        .replace(
          'PLANNER_TRANSLATOR = local.planner_translator\n    ENABLED_BACKENDS   = "local,runway,veo,replicate"',
          'PLANNER_TRANSLATOR = local.planner_translator\n    ENABLED_BACKENDS   = "local,veo"',
        )
        .replace(/secret_env = \{\s*REPLICATE_API_TOKEN = [^\n]+\n\s*\}/, ''),
    );
    expect(checkWorkloads(broken, schemas)).toEqual([
      expect.stringContaining('aiprod-planner: image "nginx" is not the planner image'),
      expect.stringContaining(
        'aiprod-planner: ENABLED_BACKENDS is "local,veo", expected the deployed render pools local,replicate,runway,veo',
      ),
      expect.stringContaining('aiprod-qa: service_account_email'),
      expect.stringContaining('aiprod-qa: shares its service account with aiprod-delivery'),
      expect.stringContaining(
        'aiprod-render-replicate: RENDER_BACKEND=replicate requires REPLICATE_API_TOKEN (missing: REPLICATE_API_TOKEN)',
      ),
    ]);
  });

  it('reports a workload that breaks a rule its env.ts declares across settings', async () => {
    // The rules come from env.ts itself (the ones parseEnv enforces at start-up), not a copy here.
    const broken = await edited('modules/platform/main.tf', (t) =>
      t.replace(
        /(module "delivery" \{[\s\S]*?STORAGE_KIND {3}= "gcs"\n)\s*STORAGE_BUCKET = module\.storage\.name\n/,
        '$1',
      ),
    );
    expect(checkWorkloads(broken, schemas)).toEqual([
      'modules/platform: aiprod-delivery: STORAGE_KIND=gcs requires STORAGE_BUCKET (missing: STORAGE_BUCKET)',
      'modules/platform: aiprod-delivery: has no bucket but has a bucket role',
    ]);
  });

  it('reports BACKEND_MODELS naming a model the catalogue lacks, or differing between workloads', async () => {
    const unknown = await edited('modules/platform/main.tf', (t) => t.replace('runway=gen4.5,', 'runway=gen9,'));
    const problems = checkWorkloads(unknown, schemas);
    // The planner and all four render pools read the one local; each is refused by its env.ts rule.
    expect(problems.filter((p) => p.includes('the vendor catalogue has no runway model "gen9"'))).toHaveLength(5);
    const differs = await edited('modules/platform/main.tf', (t) =>
      t.replace(
        /(RENDER_BACKEND {3}= "veo"\n[\s\S]*?)BACKEND_MODELS {3}= local\.backend_models/,
        '$1BACKEND_MODELS   = "veo=veo-3.1-generate-001"',
      ),
    );
    expect(checkWorkloads(differs, schemas)).toEqual([
      expect.stringMatching(
        /BACKEND_MODELS differs between the planner and the render pools .*aiprod-render-veo="veo=veo-3\.1-generate-001"/,
      ),
    ]);
  });

  it('reports a planner and delivery told different SPEECH_ENGINE values (a line measured with one voice, spoken by another)', async () => {
    expect(checkWorkloads(files, schemas)).toEqual([]);
    const literal = await edited('modules/platform/main.tf', (t) =>
      t.replace(
        /(module "delivery" \{[\s\S]*?)SPEECH_ENGINE {2}= local\.speech_engine/,
        '$1SPEECH_ENGINE  = "espeak-ng"',
      ),
    );
    expect(checkWorkloads(literal, schemas)).toEqual([
      'modules/platform: SPEECH_ENGINE differs between the gateway, the planner and delivery (aiprod-delivery=espeak-ng, aiprod-gateway=google-tts, aiprod-planner=google-tts)',
    ]);
    const unset = await edited('modules/platform/main.tf', (t) =>
      t.replace(/(module "delivery" \{[\s\S]*?)\n\s*SPEECH_ENGINE {2}= local\.speech_engine/, '$1'),
    );
    expect(checkWorkloads(unset, schemas)).toEqual([
      'modules/platform: SPEECH_ENGINE differs between the gateway, the planner and delivery (aiprod-delivery=espeak-ng (default), aiprod-gateway=google-tts, aiprod-planner=google-tts)',
    ]);
  });

  it('reports a gateway and a planner told different PLANNER_TRANSLATOR values, and a translator without Vertex', async () => {
    // The gateway as it reads the setting: the planner's own definition of it, with the gateway's rules.
    const reading: EnvSchemas = {
      ...schemas,
      gateway: envSchema(
        { ...GatewayEnv.properties, PLANNER_TRANSLATOR: PlannerEnv.properties.PLANNER_TRANSLATOR },
        rulesOf(GatewayEnv) as readonly EnvRule<keyof typeof GatewayEnv.properties & string>[],
      ),
    };
    expect(checkWorkloads(files, reading)).toEqual([]);
    // The gateway told otherwise, by a literal or by leaving it to its default.
    const literal = await edited('modules/platform/main.tf', (t) =>
      t.replace(
        /(ENABLED_BACKENDS = "local,runway,veo,replicate"\n\s*# What the planner translates with[^\n]*\n\s*)PLANNER_TRANSLATOR = local\.planner_translator/,
        '$1PLANNER_TRANSLATOR = "none"',
      ),
    );
    expect(checkWorkloads(literal, reading)).toEqual([
      'modules/platform: PLANNER_TRANSLATOR differs between the gateway and the planner (aiprod-gateway=none, aiprod-planner=gemini)',
    ]);
    const unset = await edited('modules/platform/main.tf', (t) =>
      t.replace(/\n\s*# What the planner translates with[^\n]*\n\s*PLANNER_TRANSLATOR = local\.planner_translator/, ''),
    );
    expect(checkWorkloads(unset, reading)).toEqual([
      'modules/platform: PLANNER_TRANSLATOR differs between the gateway and the planner (aiprod-gateway=none (default), aiprod-planner=gemini)',
    ]);
    // A local director with the gemini translator still calls Vertex: the role must stay.
    const localDirector = await edited('modules/platform/main.tf', (t) =>
      t
        .replace('planner_director   = "gemini"', 'planner_director   = "local"')
        .replace('? "gemini" : "none"', '? "none" : "gemini"')
        .replace(
          '{ service = "planner", bucket_role = "roles/storage.objectUser", vertex = true }',
          '{ service = "planner", bucket_role = "roles/storage.objectUser" }',
        ),
    );
    expect(checkWorkloads(localDirector, reading)).toEqual([
      'modules/platform: aiprod-planner: calls Vertex AI but has no roles/aiplatform.user',
    ]);
  });

  it('reports IAM that does not match what a workload does', async () => {
    const broken = await edited('modules/platform/main.tf', (t) =>
      t
        .replace(
          '{ service = "planner", bucket_role = "roles/storage.objectUser", vertex = true }',
          '{ service = "planner", bucket_role = "roles/storage.objectUser" }',
        )
        .replace(
          '{ service = "delivery", bucket_role = "roles/storage.objectUser" }',
          '{ service = "delivery", bucket_role = "roles/storage.objectUser", signs_urls = true }',
        ),
    );
    expect(checkWorkloads(broken, schemas)).toEqual([
      'modules/platform: aiprod-delivery: does not sign URLs but holds token creator on itself',
      'modules/platform: aiprod-planner: calls Vertex AI but has no roles/aiplatform.user',
    ]);
  });

  it('reports an untyped or undescribed variable and a provider outside 7.x', async () => {
    const v = await snippet(
      'modules/x/variables.tf',
      'variable "a" {\n  type = string\n}\nvariable "b" {\n  description = "b"\n}\n',
    );
    expect(checkVariables([v])).toEqual([
      'modules/x/variables.tf: variable "a" has no description',
      'modules/x/variables.tf: variable "b" has no type',
    ]);
    const undescribed = await edited('modules/platform/variables.tf', (t) =>
      t.replace(/(variable "media_retention_days" \{\s*type\s*=\s*number)\s*description\s*=\s*"[^"]*"/, '$1'),
    );
    expect(checkVariables(undescribed)).toEqual([
      'modules/platform/variables.tf: variable "media_retention_days" has no description',
    ]);
    const old = await edited('modules/storage/versions.tf', (t) => t.replace('~> 7.0', '~> 6.0'));
    expect(checkProviders(old)).toEqual([
      'modules/storage/versions.tf: google provider version "~> 6.0" is not "~> 7.x"',
      'modules/storage: no required_providers pin of hashicorp/google ~> 7.x',
    ]);
  });

  it('reports a root that does not call modules/platform, or leaves out an input', async () => {
    const none = await edited('environments/prod/main.tf', (t) => t.replace(/module "platform" \{[\s\S]*?\n\}\n/, ''));
    expect(checkRoots(none)).toEqual(['environments/prod: calls modules/platform 0 times, expected once']);
    const partial = await edited('environments/staging/main.tf', (t) =>
      t
        .replace(/\n\s*media_retention_days\s*=\s*\d+/, '')
        .replace('image_tag      = var.image_tag', 'tag = var.image_tag'),
    );
    expect(checkRoots(partial)).toEqual([
      'environments/staging: module platform does not pass image_tag',
      'environments/staging: module platform does not pass media_retention_days',
      'environments/staging: module platform passes tag, which modules/platform does not declare',
    ]);
  });

  it('reports a root that wires a module itself, and a platform input with a default', async () => {
    const wired = await edited('environments/staging/main.tf', (t) =>
      t.concat(
        '\nmodule "render_sora" {\n  source = "../../modules/cloud-run-worker-pool"\n  name   = "aiprod-render-sora"\n}\n',
      ),
    );
    expect(checkRoots(wired)).toEqual([
      'environments/staging: calls modules/cloud-run-worker-pool directly (module render_sora); wire it in modules/platform',
    ]);
    const defaulted = await edited('modules/platform/variables.tf', (t) =>
      t.replace(/(variable "deletion_protection" \{[^}]*?type\s*=\s*bool)/, '$1\n  default     = false'),
    );
    expect(checkRoots(defaulted)).toEqual([
      'modules/platform/variables.tf: variable "deletion_protection" has a default; each environment root must state it',
    ]);
  });

  it('reports the workload checks on a tree without modules/platform instead of passing', () => {
    const without = files.filter((f) => !f.path.startsWith('modules/platform/'));
    expect(checkWorkloads(without, schemas)).toEqual([
      'modules/platform: no module calls (it holds every workload)',
      'modules/platform: no iam module',
      'modules/platform: no aiprod-gateway service',
    ]);
    expect(checkConsumers(catalogueJson(), without)).toEqual(
      expect.arrayContaining(['modules/platform: no module calls (it holds every workload)']),
    );
    expect(checkSecretAccess(without)).toEqual(['modules/platform: no module calls (it holds every workload)']);
  });
});

describe('pull rights', () => {
  it('reports a project-wide grant of a role that can consume messages', async () => {
    const broadRole = await edited('modules/iam/main.tf', (t) =>
      t.replace(
        '"pubsub.subscriptions.list",\n  ]',
        '"pubsub.subscriptions.list",\n    "pubsub.subscriptions.consume",\n  ]',
      ),
    );
    expect(checkNoProjectWideConsume(broadRole)).toEqual([
      'modules/iam/main.tf: google_project_iam_member.deployer_snapshots grants google_project_iam_custom_role.snapshotter project-wide (grant it per subscription)',
    ]);
    const subscriber = await snippet(
      'modules/iam/extra.tf',
      'resource "google_project_iam_member" "x" {\n  project = "p"\n  role    = "roles/pubsub.subscriber"\n  member  = "user:a@example.com"\n}\n',
    );
    expect(checkNoProjectWideConsume([...files, subscriber])).toEqual([
      'modules/iam/extra.tf: google_project_iam_member.x grants roles/pubsub.subscriber project-wide (grant it per subscription)',
    ]);
  });
});

describe('telemetry', () => {
  it('reports a workload without the collector config, a module without the sidecar, and a missing write role', async () => {
    const unwired = await edited('modules/platform/main.tf', (t) =>
      t.replace(
        /\n\s*collector_config_secret\s*= module\.monitoring\.collector_config_secret(?=\n\s*collector_config_version[^\n]*\n\s*image\s*= "\$\{local\.images\}\/qa:)/,
        '',
      ),
    );
    expect(checkTelemetry(unwired)).toEqual([
      "modules/platform: aiprod-qa does not mount the monitoring module's collector config",
    ]);
    const noSidecar = await edited('modules/cloud-run-worker-pool/main.tf', (t) =>
      t.replace('depends_on = ["collector"]', '').replace('name  = "collector"', 'name  = "otel"'),
    );
    expect(checkTelemetry(noSidecar)).toEqual([
      'modules/cloud-run-worker-pool: google_cloud_run_v2_worker_pool.pool: app does not wait for the collector',
      'modules/cloud-run-worker-pool: google_cloud_run_v2_worker_pool.pool: no collector sidecar',
    ]);
    const noEndpoint = await edited('modules/cloud-run-service/main.tf', (t) =>
      t.replace('value = "http://localhost:4318"', 'value = "http://localhost:4317"'),
    );
    expect(checkTelemetry(noEndpoint)).toEqual([
      'modules/cloud-run-service: google_cloud_run_v2_service.service: app does not send OTLP to the sidecar (OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318)',
    ]);
    const noTrace = await edited('modules/iam/main.tf', (t) => t.replace(', "roles/cloudtrace.agent"', ''));
    expect(checkTelemetry(noTrace)).toEqual(['modules/iam: workload accounts are not granted roles/cloudtrace.agent']);
  });

  it('reports a secret volume that mounts "latest", or no version, and a workload not given the version', async () => {
    const at =
      'modules/cloud-run-service/main.tf: google_cloud_run_v2_service.service: secret volume otel-collector-config';
    const latest = await edited('modules/cloud-run-service/main.tf', (t) =>
      t.replace('version = var.collector_config_version', 'version = "latest"'),
    );
    expect(checkSecretVolumesPinned(latest)).toEqual([`${at} mounts version "latest"; mount a version number`]);
    expect(checkTelemetry(latest)).toEqual([
      'modules/cloud-run-service: google_cloud_run_v2_service.service: the collector does not mount var.collector_config_version',
    ]);
    const noItems = await edited('modules/cloud-run-worker-pool/main.tf', (t) => t.replace(/\n\s*items \{[^}]*\}/, ''));
    expect(checkSecretVolumesPinned(noItems)).toEqual([
      'modules/cloud-run-worker-pool/main.tf: google_cloud_run_v2_worker_pool.pool: secret volume otel-collector-config mounts the secret without items (the latest version)',
    ]);
    const latestDefault = await edited('modules/cloud-run-service/variables.tf', (t) =>
      t.replace(/(variable "collector_config_version" \{\n\s*type\s*= string)/, '$1\n  default = "latest"'),
    );
    expect(checkSecretVolumesPinned(latestDefault)).toEqual([
      `${at} mounts var.collector_config_version, whose default is "latest"; mount a version number`,
    ]);
    const dynamic = await snippet(
      'modules/job/main.tf',
      'resource "google_cloud_run_v2_job" "j" {\n  template {\n    template {\n      dynamic "volumes" {\n        for_each = ["a"]\n        content {\n          name = "v"\n          secret {\n            secret = "s"\n            items {\n              version = "latest"\n              path    = "x"\n            }\n          }\n        }\n      }\n    }\n  }\n}\n',
    );
    expect(checkSecretVolumesPinned([...files, dynamic])).toEqual([
      'modules/job/main.tf: google_cloud_run_v2_job.j: secret volume v mounts version "latest"; mount a version number',
    ]);
    const unversioned = await edited('modules/platform/main.tf', (t) =>
      t.replace(
        /\n\s*collector_config_version\s*= module\.monitoring\.collector_config_version(?=\n\s*image\s*= "\$\{local\.images\}\/qa:)/,
        '',
      ),
    );
    expect(checkTelemetry(unversioned)).toEqual([
      "modules/platform: aiprod-qa does not mount the collector config's version Terraform wrote (collector_config_version)",
    ]);
  });

  it('allows the committed collector config as a secret version, and no other version', async () => {
    const other = await edited('modules/monitoring/main.tf', (t) =>
      t.replace('file("${path.module}/collector.yaml")', 'file("${path.module}/keys.yaml")'),
    );
    expect(checkNoLiteralSecrets(other)).toEqual([
      'modules/monitoring/main.tf: google_secret_manager_secret_version.collector_config puts a secret value in Terraform (and its state); add versions by hand',
    ]);
  });
});
