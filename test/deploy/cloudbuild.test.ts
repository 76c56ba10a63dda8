import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parse } from '@cdktf/hcl2json';
import { join } from 'node:path';
import {
  ancestors,
  canaryTargets,
  checkImageBuilds,
  checkStepOrder,
  decidedNames,
  imageBuilds,
  parseCloudBuild,
  read,
  repoRoot,
  type CloudBuild,
} from './checks';

/** Offline checks of cloudbuild.yaml against the repository and the Cloud Run decision record. */
const text = read('cloudbuild.yaml');
const build = parseCloudBuild(text);
const services = readdirSync(join(repoRoot, 'services')).filter((d) =>
  existsSync(join(repoRoot, 'services', d, 'package.json')),
);
const decided = decidedNames(read('docs/decisions/2026-12-cloud-run-shape.md'));
const canary = canaryTargets(read('scripts/deploy/canary.sh'));
const readFile = (path: string) => {
  const file = join(repoRoot, path);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
};
const imageOptions = { expectedImages: decided.images, services, readFile };
const clone = (): CloudBuild => structuredClone(build);

describe('cloudbuild.yaml', () => {
  it('reads the decision record (guarding the checks below against an empty list)', () => {
    expect(decided.images).toEqual(['gateway', 'planner', 'render', 'qa', 'delivery']);
    expect(decided.service).toEqual(['aiprod-gateway']);
    expect(decided.pools).toHaveLength(7);
  });

  it('parses, runs as the deployer account, and orders every step by id and waitFor', () => {
    expect(build.serviceAccount).toBe(
      'projects/$PROJECT_ID/serviceAccounts/aiprod-deployer@$PROJECT_ID.iam.gserviceaccount.com',
    );
    expect(checkStepOrder(build)).toEqual([]);
  });

  it('builds each of the five images once, from a Dockerfile, target and build arg that exist, and pushes it', () => {
    const builds = imageBuilds(build).filter((b) => !b.image.endsWith('/ci'));
    expect(builds.map((b) => b.image.split('/').at(-1)).sort()).toEqual([...decided.images].sort());
    expect(checkImageBuilds(builds, imageOptions)).toEqual([]);
    // ffmpeg and espeak-ng only where they run (the planner probes the client's music and
    // measures the voice-over lines it writes).
    const target = (s: string) => builds.find((b) => b.buildArgs.SERVICE === s)?.target;
    expect(['render', 'qa', 'delivery', 'planner'].map(target)).toEqual(Array(4).fill('media-service'));
    expect(['gateway'].map(target)).toEqual(['service']);
  });

  it('builds the CI image from build/ci/Dockerfile and runs the tests, lint and typecheck in it', () => {
    const ci = imageBuilds(build).find((b) => b.image.endsWith('/ci'));
    expect(ci?.dockerfile).toBe('build/ci/Dockerfile');
    expect(readFile(ci!.dockerfile)).toBeDefined();
    const step = (id: string) => build.steps.find((s) => s.id === id)!;
    for (const id of ['test', 'lint', 'typecheck']) {
      expect(step(id).name).toBe(`${ci!.image}:$SHORT_SHA`);
      expect(ancestors(build, id).has('ci-image')).toBe(true);
    }
    expect([step('test').entrypoint, ...(step('test').args ?? [])]).toEqual(['npm', 'test']);
  });

  it('deploys the service and every worker pool the decision record names, each with a built image', () => {
    expect(canary.service).toBe('aiprod-gateway');
    expect(canary.pools.map((p) => p.pool).sort()).toEqual([...decided.pools].sort());
    for (const { image } of canary.pools) expect(decided.images).toContain(image);
    const script = read('scripts/deploy/canary.sh');
    // The image each is deployed with is the tag this build pushed.
    expect(script).toContain('--image="$IMAGE_REPO/gateway:$TAG"');
    expect(script).toContain('--image="$IMAGE_REPO/$image:$TAG"');
  });

  it("deploys exactly the worker pools Terraform creates (the platform module's worker-pool calls)", async () => {
    const hcl = (await parse('main.tf', read('terraform/modules/platform/main.tf'))) as {
      module: Record<string, { source: string; name: string }[]>;
    };
    const terraformPools = Object.values(hcl.module)
      .flat()
      .filter((m) => m.source === '../cloud-run-worker-pool')
      .map((m) => m.name);
    expect(terraformPools.length).toBeGreaterThanOrEqual(7);
    expect(canary.pools.map((p) => p.pool).sort()).toEqual(terraformPools.sort());
  });

  it('snapshots, deploys the canary, smokes and decides only after every check and image', () => {
    const runs = (sub: string) => build.steps.find((s) => (s.args ?? []).join(' ').includes(`canary.sh ${sub}`))?.id;
    const [deploy, smoke, decide] = [runs('deploy'), runs('smoke'), runs('decide')];
    expect([deploy, smoke, decide].every(Boolean)).toBe(true);
    const gates = ['test', 'lint', 'typecheck', 'snapshot-subscriptions', ...decided.images.map((i) => `build-${i}`)];
    for (const gate of gates) expect(ancestors(build, deploy!).has(gate)).toBe(true);
    expect(ancestors(build, smoke!).has(deploy!)).toBe(true);
    expect(ancestors(build, decide!).has(smoke!)).toBe(true);
    // A failed deploy or smoke step must still reach the decision, which rolls back.
    const step = (id: string) => build.steps.find((s) => s.id === id)!;
    expect(step(deploy!).allowFailure).toBe(true);
    expect(step(smoke!).allowFailure).toBe(true);
    expect(step(decide!).allowFailure).toBeFalsy();
    expect(step('snapshot-subscriptions').args?.join(' ')).toContain('$SHORT_SHA');
  });

  it('reads no secret through availableSecrets, which would fail the bootstrap build before the smoke key exists', () => {
    // The smoke step reads aiprod-smoke-api-key itself (scripts/deploy/canary.sh smoke).
    expect(build.availableSecrets).toBeUndefined();
    expect(build.steps.filter((s) => s.secretEnv?.length)).toEqual([]);
    expect(read('scripts/deploy/canary.sh')).toContain(
      'gcloud secrets versions access latest --secret=aiprod-smoke-api-key',
    );
  });

  it('passes _DEPLOY to every step, so the bootstrap build deploys nothing', () => {
    expect(build.substitutions?._DEPLOY).toBe('true');
    expect(build.options?.env).toContain('DEPLOY=${_DEPLOY}');
  });
});

describe('the cloudbuild checks bite', () => {
  const without = (id: string) => {
    const b = clone();
    b.steps = b.steps.filter((s) => s.id !== id);
    return b;
  };
  const builds = (b: CloudBuild) => imageBuilds(b).filter((x) => !x.image.endsWith('/ci'));

  it('on an image that is not built', () => {
    expect(checkImageBuilds(builds(without('build-qa')), imageOptions)).toEqual(
      expect.arrayContaining(['image qa is built 0 times (once expected)', 'services/qa has no image']),
    );
  });

  it('on a service added to services/ without an image', () => {
    expect(checkImageBuilds(builds(build), { ...imageOptions, services: [...services, 'billing'] })).toEqual([
      'services/billing has no image',
    ]);
  });

  it('on a missing Dockerfile, target or build arg, and on an image never pushed', () => {
    const b = clone();
    const step = b.steps.find((s) => s.id === 'build-render')!;
    step.args = step.args!.map((a) =>
      a
        .replace('-f Dockerfile', '-f services/render/Dockerfile')
        .replace('docker push --all-tags $$image', 'echo not pushed'),
    );
    const other = b.steps.find((s) => s.id === 'build-qa')!;
    other.args = other.args!.map((a) =>
      a.replace('--target media-service', '--target ffmpeg').replace('SERVICE=qa', 'SERVIC=qa'),
    );
    expect(checkImageBuilds(builds(b), imageOptions)).toEqual(
      expect.arrayContaining([
        'build-render: services/render/Dockerfile does not exist',
        'build-render: ${_REGION}-docker.pkg.dev/$PROJECT_ID/${_REPO}/render is never pushed',
        'build-qa: Dockerfile has no stage ffmpeg',
        'build-qa: Dockerfile has no ARG SERVIC',
      ]),
    );
  });

  it('on a step that waits for a step that does not come first', () => {
    const b = clone();
    b.steps.find((s) => s.id === 'test')!.waitFor = ['lint'];
    expect(checkStepOrder(b)).toEqual(['test: waits for lint, which is not an earlier step']);
  });

  it('on a pool the decision record names that the canary script does not deploy', () => {
    const trimmed = canaryTargets(read('scripts/deploy/canary.sh').replace('  aiprod-render-veo:render\n', ''));
    expect(trimmed.pools.map((p) => p.pool).sort()).not.toEqual([...decided.pools].sort());
    expect(decided.pools.filter((p) => !trimmed.pools.some((t) => t.pool === p))).toEqual(['aiprod-render-veo']);
  });
});
