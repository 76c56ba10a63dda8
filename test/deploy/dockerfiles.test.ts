import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { lintDockerfile, read, repoRoot, stages, uncopiedManifests, workspaceDirs, type Stage } from './checks';

/** The Dockerfiles lint clean with dockerfile-utils and our own rules; each rule is shown to bite. */
const serviceImage = read('Dockerfile');
const ciImage = read('build/ci/Dockerfile');
const DIGEST = /@sha256:[0-9a-f]{64}/;
const packageDirs = workspaceDirs(read('pnpm-workspace.yaml'), (dir) =>
  readdirSync(join(repoRoot, dir)).filter((d) => existsSync(join(repoRoot, dir, d, 'package.json'))),
);

describe('the Dockerfiles', () => {
  it('lint clean: the service images run as a user other than root', () => {
    expect(lintDockerfile(serviceImage)).toEqual([]);
  });

  it('lint clean: the CI image (a build tool on root-owned /workspace, allowed to run as root)', () => {
    expect(lintDockerfile(ciImage, { allowRoot: true })).toEqual([]);
  });

  it('use one Node 24 base image, pinned once to the same digest everywhere', () => {
    const bases = [...stages(serviceImage), ...stages(ciImage)].map((s) => s.from).filter((f) => f.startsWith('node:'));
    expect(bases.length).toBeGreaterThanOrEqual(4);
    expect(new Set(bases).size).toBe(1);
    expect(bases[0]).toMatch(/^node:24-bookworm-slim@sha256:[0-9a-f]{64}$/);
  });

  it('install ffmpeg only in the media stage and bundle with scripts/bundle-service.sh', () => {
    const byName: Record<string, Stage> = Object.fromEntries(stages(serviceImage).map((s) => [s.name ?? s.from, s]));
    const runs = (stage: string) =>
      byName[stage]!.instructions.filter((i) => i.keyword === 'RUN')
        .map((i) => i.args)
        .join('\n');
    expect(runs('media-service')).toMatch(/ffmpeg fonts-dejavu-core/);
    expect(runs('service')).not.toMatch(/ffmpeg/);
    expect(runs('bundle')).toMatch(/scripts\/bundle-service\.sh "\$SERVICE" \/out/);
    // Dependencies are fetched from the lockfile alone, before the sources are copied.
    const build = byName.build!.instructions.map((i) => `${i.keyword} ${i.args}`);
    const fetchAt = build.findIndex((l) => l === 'RUN pnpm fetch');
    expect(fetchAt).toBeGreaterThan(build.findIndex((l) => l.startsWith('COPY pnpm-lock.yaml')));
    expect(fetchAt).toBeLessThan(build.findIndex((l) => l === 'COPY . .'));
    // Offline install without install scripts: the root `node` devDependency's script runs
    // `npm install` of its runtime, which cannot work offline with an empty npm cache.
    expect(build).toContain('RUN pnpm install --offline --frozen-lockfile --ignore-scripts');
    expect(packageDirs.length).toBeGreaterThanOrEqual(19);
    expect(uncopiedManifests(serviceImage, packageDirs)).toEqual([]);
  });
});

describe('the Dockerfile checks bite', () => {
  const pinned = `node:24-bookworm-slim@sha256:${'a'.repeat(64)}`;
  const good = `FROM ${pinned} AS run\nUSER node\nCMD ["node", "dist/main.js"]\n`;

  it('accept a minimal good file (so the failures below are the rule, not the fixture)', () => {
    expect(lintDockerfile(good)).toEqual([]);
  });

  it('on an unpinned base image and on a latest tag', () => {
    expect(lintDockerfile(good.replace(pinned, 'node:24'))).toEqual(['line 1: node:24 is not pinned by digest']);
    expect(lintDockerfile(good.replace(pinned, `node:latest@sha256:${'a'.repeat(64)}`))).toEqual([
      `line 1: node:latest@sha256:${'a'.repeat(64)} uses the latest tag`,
    ]);
    expect(lintDockerfile(`FROM node:latest\nUSER node\nCMD ["node"]\n`)).toHaveLength(2);
  });

  it('on a service stage that runs as root, or names no user', () => {
    expect(lintDockerfile(good.replace('USER node', 'USER root'))).toEqual(['stage run: runs as root']);
    expect(lintDockerfile(good.replace('USER node\n', ''))).toEqual(['stage run: runs as root (no USER)']);
    expect(lintDockerfile(good.replace('USER node', 'USER 0:0'))).toEqual(['stage run: runs as 0']);
  });

  it('on a shell-form CMD, which would put a shell in front of node as PID 1', () => {
    expect(lintDockerfile(good.replace('CMD ["node", "dist/main.js"]', 'CMD node dist/main.js'))).toEqual([
      'line 3: CMD in shell form (node would not be PID 1)',
    ]);
  });

  it('on ADD of a URL', () => {
    expect(lintDockerfile(good.replace('USER node', 'ADD https://example.com/x.tgz /x\nUSER node'))).toEqual([
      'line 2: ADD of a URL (download with RUN and verify instead)',
    ]);
  });

  it('on what dockerfile-utils finds (an unknown instruction, an instruction with no arguments)', () => {
    const problems = lintDockerfile(`${good}COPYY a b\nWORKDIR\n`);
    expect(problems).toEqual(['line 4: Unknown instruction: COPYY', 'line 5: Instruction has no arguments']);
  });

  it('on a workspace package whose manifest is not copied before the install', () => {
    expect(uncopiedManifests(serviceImage, [...packageDirs, 'packages/billing'])).toEqual([
      'packages/billing/package.json',
    ]);
    const dropped = serviceImage.replace('COPY services/qa/package.json services/qa/\n', '');
    expect(uncopiedManifests(dropped, packageDirs)).toEqual(['services/qa/package.json']);
  });

  it('on the real Dockerfile with its digest removed', () => {
    const unpinned = serviceImage.replace(DIGEST, '');
    expect(lintDockerfile(unpinned)).toEqual([expect.stringMatching(/node:24-bookworm-slim is not pinned by digest/)]);
  });
});
