import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { subscriptions } from '@aiprod/contracts';
import { canaryTargets, read, repoRoot } from './checks';

/**
 * scripts/deploy/canary.sh and snapshot-subscriptions.sh against a fake gcloud that records every
 * call and answers `describe` the way Cloud Run's v1 API does: the promote and rollback logic,
 * offline. A last test checks every command and flag the scripts used against the real gcloud's
 * --help, so a flag that does not exist fails here rather than in the first deploy.
 */
const run = promisify(execFile);
const pools = canaryTargets(read('scripts/deploy/canary.sh')).pools.map((p) => p.pool);
let dir: string;

// Each resource starts on revision NAME-old with all traffic; a deploy creates NAME-new.
const FAKE_GCLOUD = `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_DIR/calls"
if [ -n "\${FAKE_FAIL:-}" ] && [[ "$*" == *"$FAKE_FAIL"* ]]; then echo "fake failure" >&2; exit 1; fi
describe() {
  local name="$1" created="$1-old"
  [ -f "$FAKE_DIR/deployed-$name" ] && created="$1-new"
  [ -f "$FAKE_DIR/raced-$name" ] && created="$1-raced"
  local url=""
  [ -f "$FAKE_DIR/deployed-$name" ] && url=',{"tag":"canary","revisionName":"'$name'-new","percent":0,"url":"http://127.0.0.1:9"}'
  printf '{"metadata":{"name":"%s"},"status":{"latestCreatedRevisionName":"%s","latestReadyRevisionName":"%s-old",' "$name" "$created" "$name"
  printf '"%s":[{"revisionName":"%s-old","percent":100,"latestRevision":true}%s]}}\\n' "$2" "$name" "$url"
}
case "$*" in
  "run services describe "*) describe "$4" traffic ;;
  "beta run worker-pools describe "*) describe "$5" instanceSplits ;;
  "run deploy "*) touch "$FAKE_DIR/deployed-$3" ;;
  "beta run worker-pools deploy "*) touch "$FAKE_DIR/deployed-$5" ;;
  "auth print-identity-token"*) exit 1 ;;
  "secrets versions access latest --secret=aiprod-smoke-api-key "*) echo fake-smoke-key ;;
  "pubsub snapshots describe "*) [ "$4" = aiprod.job.requested.v1.planner.abc1234 ] || exit 1 ;;
esac
exit 0
`;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aiprod-canary-'));
  writeFileSync(join(dir, 'gcloud'), FAKE_GCLOUD);
  chmodSync(join(dir, 'gcloud'), 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const env = (extra: Record<string, string> = {}) => ({
  PATH: `${dir}:${process.env.PATH}`,
  FAKE_DIR: dir,
  REGION: 'europe-west1',
  IMAGE_REPO: 'europe-west1-docker.pkg.dev/p/aiprod',
  TAG: 'abc1234',
  CANARY_PERCENT: '10',
  POOL_CANARY_PERCENT: '50',
  STATE_DIR: join(dir, 'state'),
  ...extra,
});
const canary = (step: string, extra?: Record<string, string>) =>
  run('bash', [join(repoRoot, 'scripts', 'deploy', 'canary.sh'), step], { env: env(extra), timeout: 30_000 }).then(
    () => 0,
    (e: { code: number }) => e.code,
  );
const calls = () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
const since = (mark: number) => calls().slice(mark);
const R = '--region=europe-west1';

describe('the canary script, against a fake gcloud', () => {
  it('deploys the gateway with no traffic and a canary tag, and each pool as a canary share of instances', async () => {
    expect(await canary('deploy')).toBe(0);
    const c = calls();
    expect(c).toContain(
      `run deploy aiprod-gateway ${R} --container=app --image=europe-west1-docker.pkg.dev/p/aiprod/gateway:abc1234 --no-traffic --tag=canary --quiet`,
    );
    expect(c).toContain(`run services update-traffic aiprod-gateway ${R} --to-tags=canary=10 --quiet`);
    for (const pool of pools) {
      const image = pool.startsWith('aiprod-render-') ? 'render' : pool.slice('aiprod-'.length);
      expect(c).toContain(
        `beta run worker-pools deploy ${pool} ${R} --container=app --image=europe-west1-docker.pkg.dev/p/aiprod/${image}:abc1234 --no-promote --quiet`,
      );
      expect(c).toContain(
        `beta run worker-pools update-instance-split ${pool} ${R} --to-revisions=${pool}-new=50,${pool}-old=50 --quiet`,
      );
    }
  });

  it('promotes every new revision when the smoke job delivered', async () => {
    expect(await canary('deploy')).toBe(0);
    writeFileSync(join(dir, 'state', 'smoke-exit'), '0\n');
    const mark = calls().length;
    expect(await canary('decide')).toBe(0);
    expect(since(mark).filter((c) => !c.includes(' describe '))).toEqual([
      `run services update-traffic aiprod-gateway ${R} --to-latest --quiet`,
      ...pools.map((p) => `beta run worker-pools update-instance-split ${p} ${R} --to-latest --quiet`),
    ]);
  });

  it('gives the gateway canary no public traffic when CANARY_PERCENT is 0 (the default in cloudbuild.yaml)', async () => {
    expect(await canary('deploy', { CANARY_PERCENT: '0' })).toBe(0);
    expect(calls().filter((c) => c.includes('update-traffic'))).toEqual([]);
    expect(calls()).toContain(
      `run deploy aiprod-gateway ${R} --container=app --image=europe-west1-docker.pkg.dev/p/aiprod/gateway:abc1234 --no-traffic --tag=canary --quiet`,
    );
  });

  it('stops before deploying anything when the current split cannot be read', async () => {
    expect(await canary('deploy', { FAKE_FAIL: 'run services describe' })).not.toBe(0);
    expect(calls().filter((c) => c.includes(' deploy '))).toEqual([]);
    expect(readFileSync(join(dir, 'state', 'canary-state'), 'utf8')).toBe('');
    expect(await canary('decide')).toBe(1);
  });

  it('rolls back instead of promoting when a revision the smoke job never saw became the newest', async () => {
    expect(await canary('deploy')).toBe(0);
    writeFileSync(join(dir, 'state', 'smoke-exit'), '0\n');
    writeFileSync(join(dir, 'raced-aiprod-qa'), ''); // e.g. a terraform apply during the canary
    const mark = calls().length;
    expect(await canary('decide')).toBe(1);
    const changes = since(mark).filter((c) => !c.includes(' describe '));
    expect(changes.some((c) => c.includes('--to-latest'))).toBe(false);
    expect(changes).toContain(
      `beta run worker-pools update-instance-split aiprod-qa ${R} --to-revisions=aiprod-qa-old=100 --quiet`,
    );
  });

  it('puts every recorded split back and fails the build when the smoke job did not deliver', async () => {
    expect(await canary('deploy')).toBe(0);
    writeFileSync(join(dir, 'state', 'smoke-exit'), '2\n');
    const mark = calls().length;
    expect(await canary('decide')).toBe(1);
    expect(since(mark)).toEqual([
      `run services update-traffic aiprod-gateway ${R} --to-revisions=aiprod-gateway-old=100 --remove-tags=canary --quiet`,
      ...pools.map((p) => `beta run worker-pools update-instance-split ${p} ${R} --to-revisions=${p}-old=100 --quiet`),
    ]);
  });

  it('after a deploy that failed half-way: no smoke job, and only what was touched is rolled back', async () => {
    expect(await canary('deploy', { FAKE_FAIL: 'worker-pools deploy aiprod-render-local' })).not.toBe(0);
    let mark = calls().length;
    expect(await canary('smoke')).toBe(0);
    expect(since(mark)).toEqual([]); // not even an identity token: nothing to smoke
    expect(readFileSync(join(dir, 'state', 'smoke-exit'), 'utf8').trim()).toBe('99');
    mark = calls().length;
    expect(await canary('decide')).toBe(1);
    const touched = pools.slice(0, pools.indexOf('aiprod-render-local') + 1);
    expect(since(mark)).toEqual([
      `run services update-traffic aiprod-gateway ${R} --to-revisions=aiprod-gateway-old=100 --remove-tags=canary --quiet`,
      ...touched.map(
        (p) => `beta run worker-pools update-instance-split ${p} ${R} --to-revisions=${p}-old=100 --quiet`,
      ),
    ]);
  });

  it('with DEPLOY=false (the bootstrap build) deploys, smokes, decides and snapshots nothing, and passes', async () => {
    for (const step of ['deploy', 'smoke', 'decide']) expect(await canary(step, { DEPLOY: 'false' })).toBe(0);
    await run('bash', [join(repoRoot, 'scripts', 'deploy', 'snapshot-subscriptions.sh'), 'abc1234'], {
      env: env({ DEPLOY: 'false' }),
      timeout: 30_000,
    });
    expect(existsSync(join(dir, 'calls'))).toBe(false);
    expect(existsSync(join(dir, 'state'))).toBe(false);
  });

  it('fails the build when nothing was recorded or the smoke step never ran', async () => {
    expect(await canary('decide')).toBe(1);
    expect(existsSync(join(dir, 'calls'))).toBe(false);
    expect(await canary('deploy')).toBe(0);
    expect(await canary('decide')).toBe(1); // no smoke-exit file: rolled back
  });
});

describe('the snapshot script, against a fake gcloud', () => {
  it('snapshots every consumed subscription, dead-letter watches included and holds not, keeping any that exist', async () => {
    await run('bash', [join(repoRoot, 'scripts', 'deploy', 'snapshot-subscriptions.sh'), 'abc1234'], {
      env: env(),
      timeout: 30_000,
    });
    const created = calls().filter((c) => c.startsWith('pubsub snapshots create'));
    const expected = subscriptions()
      .flatMap((s) => [s.name, s.deadLetterWatchSubscription])
      .filter((n) => n !== 'aiprod.job.requested.v1.planner'); // the fake says that one exists
    expect(created.sort()).toEqual(
      expected
        .map(
          (s) => `pubsub snapshots create ${s}.abc1234 --subscription=${s} --labels=app=aiprod,build=abc1234 --quiet`,
        )
        .sort(),
    );
    expect(created.length).toBeGreaterThanOrEqual(15);
    expect(created.some((c) => c.includes('hold'))).toBe(false);
  });
});

describe('every gcloud command and flag the deploy scripts use', () => {
  it('exists in the installed Google Cloud CLI', async () => {
    expect(await canary('deploy')).toBe(0);
    // The canary URL refuses connections: the smoke job fails fast (exit 3) and the build rolls back.
    expect(await canary('smoke')).toBe(0);
    expect(readFileSync(join(dir, 'state', 'smoke-exit'), 'utf8').trim()).toBe('3');
    expect(await canary('decide')).toBe(1);
    await run('bash', [join(repoRoot, 'scripts', 'deploy', 'snapshot-subscriptions.sh'), 't'], { env: env() });
    const used = new Map<string, Set<string>>();
    for (const call of calls()) {
      const words = call.split(' ');
      const firstArg = words.findIndex(
        (w, i) => i > 0 && (w.startsWith('-') || /[.\d]/.test(w) || w.startsWith('aiprod') || w === 'latest'),
      );
      const command = words.slice(0, firstArg).join(' ');
      const flags = words.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!);
      used.set(command, new Set([...(used.get(command) ?? []), ...flags]));
    }
    expect([...used.keys()].sort()).toEqual([
      'auth print-identity-token',
      'beta run worker-pools deploy',
      'beta run worker-pools describe',
      'beta run worker-pools update-instance-split',
      'pubsub snapshots create',
      'pubsub snapshots describe',
      'run deploy',
      'run services describe',
      'run services update-traffic',
      'secrets versions access',
    ]);
    const help = new Map<string, string>();
    await Promise.all(
      [...used.keys()].map(async (command) => {
        const { stdout } = await run('gcloud', [...command.split(' '), '--help'], {
          env: { ...process.env, TERM: 'dumb', CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
          timeout: 60_000,
        });
        help.set(command, stripVTControlCharacters(stdout));
      }),
    );
    const missing = (wanted: Map<string, Set<string>>) =>
      [...wanted].flatMap(([command, flags]) =>
        [...flags]
          .filter((flag) => !GLOBAL_FLAGS.has(flag) && !help.get(command)!.includes(flag))
          .map((flag) => `${command} ${flag}`),
      );
    expect(missing(used)).toEqual([]);
    // The check bites: --to-tags is a flag of services' update-traffic, not of worker pools.
    expect(missing(new Map([['beta run worker-pools update-instance-split', new Set(['--to-tags'])]]))).toEqual([
      'beta run worker-pools update-instance-split --to-tags',
    ]);
  }, 90_000);
});

/** Flags every gcloud command takes (documented once under GCLOUD WIDE FLAGS). */
const GLOBAL_FLAGS = new Set(['--quiet', '--format', '--project']);
