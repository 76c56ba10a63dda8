/**
 * The offline checks of the deploy files, as pure functions of their text, so each test can feed
 * them a broken fixture and see the check bite. Used by test/deploy/*.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { parse } from 'yaml';

export const repoRoot = join(__dirname, '..', '..');
export const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

// ---------------------------------------------------------------- Dockerfiles

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions in order, continuation lines joined, comments and blank lines dropped. */
export function instructions(dockerfile: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  dockerfile.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending && line.trimStart().startsWith('#')) return; // comments inside a continued instruction
    const text = line.endsWith('\\') ? line.slice(0, -1) : line;
    pending = pending ? { ...pending, text: `${pending.text} ${text.trim()}` } : { text: text.trim(), line: i + 1 };
    if (!line.endsWith('\\')) {
      const [keyword = '', ...rest] = pending.text.split(/\s+/);
      out.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: pending.line });
      pending = undefined;
    }
  });
  return out;
}

export interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

export function stages(dockerfile: string): Stage[] {
  const result: Stage[] = [];
  for (const ins of instructions(dockerfile)) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const as = words.findIndex((w) => w.toLowerCase() === 'as');
      result.push({ from: words[0]!, ...(as > 0 ? { name: words[as + 1] } : {}), instructions: [] });
    } else {
      result.at(-1)?.instructions.push(ins);
    }
  }
  return result;
}

/** ARGs a build can set: those before the first FROM and those of any stage. */
export const declaredArgs = (dockerfile: string) =>
  instructions(dockerfile)
    .filter((i) => i.keyword === 'ARG')
    .map((i) => i.args.split('=')[0]!.trim());

const PINNED = /^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$/;

/**
 * dockerfile-utils' diagnostics plus our rules: every base image pinned by digest and never
 * `latest`; no ADD of a URL; CMD/ENTRYPOINT in exec form (node must be PID 1 to get SIGTERM);
 * unless `allowRoot`, every final stage ends as a user other than root.
 */
export function lintDockerfile(dockerfile: string, options: { allowRoot?: boolean } = {}): string[] {
  const problems = validate(dockerfile).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  const all = stages(dockerfile);
  const names = new Set(all.map((s) => s.name).filter(Boolean));
  for (const ins of instructions(dockerfile)) {
    if (ins.keyword === 'FROM') {
      const image = ins.args.split(/\s+/).find((w) => !w.startsWith('--'))!;
      if (names.has(image)) continue;
      if (/:latest(@|$)/.test(image)) problems.push(`line ${ins.line}: ${image} uses the latest tag`);
      if (!PINNED.test(image)) problems.push(`line ${ins.line}: ${image} is not pinned by digest`);
    }
    if (ins.keyword === 'ADD' && /(^|\s)(https?|git|ftp):\/\//.test(ins.args)) {
      problems.push(`line ${ins.line}: ADD of a URL (download with RUN and verify instead)`);
    }
    if ((ins.keyword === 'CMD' || ins.keyword === 'ENTRYPOINT') && !isExecForm(ins.args)) {
      problems.push(`line ${ins.line}: ${ins.keyword} in shell form (node would not be PID 1)`);
    }
  }
  if (!options.allowRoot) {
    // A stage another stage builds on is not shipped; every other stage can be a build target.
    const usedAsBase = new Set(all.map((s) => s.from));
    for (const stage of all.filter((s) => !s.name || !usedAsBase.has(s.name))) {
      if (!stage.instructions.some((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT')) continue;
      const user = stage.instructions
        .filter((i) => i.keyword === 'USER')
        .at(-1)
        ?.args.split(':')[0];
      if (!user || user === 'root' || user === '0') {
        problems.push(`stage ${stage.name ?? stage.from}: runs as ${user ?? 'root (no USER)'}`);
      }
    }
  }
  return problems;
}

function isExecForm(args: string): boolean {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every((a) => typeof a === 'string');
  } catch {
    return false;
  }
}

/** Workspace package directories, from pnpm-workspace.yaml's `dir/*` and `dir` entries. */
export function workspaceDirs(workspaceYaml: string, listDir: (dir: string) => string[]): string[] {
  const { packages = [] } = parse(workspaceYaml) as { packages?: string[] };
  return packages.flatMap((pattern) =>
    pattern.endsWith('/*') ? listDir(pattern.slice(0, -2)).map((d) => `${pattern.slice(0, -2)}/${d}`) : [pattern],
  );
}

/**
 * Workspace manifests the build stage does not copy before `pnpm install`: the install would
 * then not link that package, and the layer would not be rebuilt when its dependencies change.
 */
export function uncopiedManifests(dockerfile: string, dirs: string[]): string[] {
  const build = stages(dockerfile).find((s) => s.name === 'build');
  if (!build) return ['no build stage'];
  const install = build.instructions.findIndex((i) => i.keyword === 'RUN' && /\bpnpm install\b/.test(i.args));
  if (install < 0) return ['no pnpm install in the build stage'];
  const copied = new Set(
    build.instructions
      .slice(0, install)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1)),
  );
  return ['package.json', ...dirs.map((d) => `${d}/package.json`)].filter((m) => !copied.has(m));
}

// ---------------------------------------------------------------- cloudbuild.yaml

export interface CloudBuildStep {
  id?: string;
  name: string;
  waitFor?: string[];
  entrypoint?: string;
  args?: string[];
  env?: string[];
  secretEnv?: string[];
  allowFailure?: boolean;
}
export interface CloudBuild {
  serviceAccount?: string;
  substitutions?: Record<string, string>;
  options?: { env?: string[] };
  steps: CloudBuildStep[];
  availableSecrets?: { secretManager?: { versionName: string; env: string }[] };
}

export const parseCloudBuild = (text: string) => parse(text) as CloudBuild;

export interface ImageBuild {
  step: string;
  image: string;
  dockerfile: string;
  target?: string;
  buildArgs: Record<string, string>;
  tags: string[];
  pushed: boolean;
}

/** Every `docker build` in the steps' scripts, with its Dockerfile, target, build args and tags. */
export function imageBuilds(build: CloudBuild): ImageBuild[] {
  const out: ImageBuild[] = [];
  for (const step of build.steps) {
    const script = (step.args ?? []).join('\n').replace(/\\\n\s*/g, ' ');
    const vars = Object.fromEntries([...script.matchAll(/^\s*(\w+)=(\S+)\s*$/gm)].map((m) => [m[1]!, m[2]!]));
    const expand = (word: string) => word.replace(/\$\$(\w+)/g, (_, v: string) => vars[v] ?? `$${v}`);
    for (const line of script.split('\n').filter((l) => /^\s*docker build\b/.test(l))) {
      const words = line.trim().split(/\s+/).slice(2).map(expand);
      const build: ImageBuild = {
        step: step.id ?? '(no id)',
        image: '',
        dockerfile: 'Dockerfile',
        buildArgs: {},
        tags: [],
        pushed: false,
      };
      for (let i = 0; i < words.length; i++) {
        const w = words[i]!;
        if (w === '-f' || w === '--file') build.dockerfile = words[++i]!;
        else if (w === '--target') build.target = words[++i]!;
        else if (w === '--build-arg') {
          const [k, ...v] = words[++i]!.split('=');
          build.buildArgs[k!] = v.join('=');
        } else if (w === '-t' || w === '--tag') build.tags.push(words[++i]!);
      }
      build.image = (build.tags.find((t) => t.endsWith(':$SHORT_SHA')) ?? '').replace(/:\$SHORT_SHA$/, '');
      const repo = build.image;
      build.pushed = script.split('\n').some(
        (l) =>
          /^\s*docker push\b/.test(l) &&
          l
            .split(/\s+/)
            .map(expand)
            .some((w) => w.startsWith(repo)),
      );
      out.push(build);
    }
  }
  return out;
}

/** Problems with the images cloudbuild.yaml builds, given the files they name. */
export function checkImageBuilds(
  builds: ImageBuild[],
  options: { expectedImages: string[]; services: string[]; readFile: (path: string) => string | undefined },
): string[] {
  const problems: string[] = [];
  const byName = new Map<string, ImageBuild[]>();
  for (const b of builds) {
    const name = b.image.split('/').at(-1) ?? '';
    byName.set(name, [...(byName.get(name) ?? []), b]);
    if (!b.image) problems.push(`${b.step}: builds no image tagged $SHORT_SHA`);
    if (!b.pushed) problems.push(`${b.step}: ${b.image} is never pushed`);
    const dockerfile = options.readFile(b.dockerfile);
    if (dockerfile === undefined) {
      problems.push(`${b.step}: ${b.dockerfile} does not exist`);
      continue;
    }
    const args = new Set(declaredArgs(dockerfile));
    for (const arg of Object.keys(b.buildArgs)) {
      if (arg !== 'BUILDKIT_INLINE_CACHE' && !args.has(arg))
        problems.push(`${b.step}: ${b.dockerfile} has no ARG ${arg}`);
    }
    if (b.target && !stages(dockerfile).some((s) => s.name === b.target)) {
      problems.push(`${b.step}: ${b.dockerfile} has no stage ${b.target}`);
    }
    if (b.buildArgs.SERVICE !== undefined && !options.services.includes(b.buildArgs.SERVICE)) {
      problems.push(`${b.step}: SERVICE=${b.buildArgs.SERVICE} is not a directory of services/`);
    }
  }
  for (const name of options.expectedImages) {
    const n = byName.get(name)?.length ?? 0;
    if (n !== 1) problems.push(`image ${name} is built ${n} times (once expected)`);
  }
  for (const service of options.services) {
    if (!builds.some((b) => b.buildArgs.SERVICE === service)) problems.push(`services/${service} has no image`);
  }
  return problems;
}

/** Steps whose waitFor names no earlier step, and steps without an id or waitFor. */
export function checkStepOrder(build: CloudBuild): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const step of build.steps) {
    if (!step.id) problems.push(`a ${step.name} step has no id`);
    if (!step.waitFor) problems.push(`${step.id}: no waitFor`);
    for (const w of step.waitFor ?? []) {
      if (w !== '-' && !seen.has(w)) problems.push(`${step.id}: waits for ${w}, which is not an earlier step`);
    }
    if (step.id) seen.add(step.id);
  }
  return problems;
}

/** Every step `id` waits for, directly or not. */
export function ancestors(build: CloudBuild, id: string): Set<string> {
  const byId = new Map(build.steps.map((s) => [s.id, s]));
  const out = new Set<string>();
  const visit = (x: string) => {
    for (const w of byId.get(x)?.waitFor ?? []) {
      if (w !== '-' && !out.has(w)) {
        out.add(w);
        visit(w);
      }
    }
  };
  visit(id);
  return out;
}

// ---------------------------------------------------------------- the decision record's names

/** The service and worker pools docs/decisions/2026-12-cloud-run-shape.md names. */
export function decidedNames(record: string): { service: string[]; pools: string[]; images: string[] } {
  const names = record.split('\n').find((l) => l.includes('service `aiprod-') && l.includes('worker pools'));
  const rest = record.slice(record.indexOf(names ?? '\u0000'));
  const block = rest.slice(0, rest.indexOf('one service account'));
  const all = [...block.matchAll(/`(aiprod-[a-z-]+)`/g)].map((m) => m[1]!);
  const imagesLine = record.slice(record.indexOf('images in Artifact Registry'), record.indexOf('(one render image'));
  return {
    service: all.filter((n) => n === 'aiprod-gateway'),
    pools: all.filter((n) => n !== 'aiprod-gateway'),
    images: [...imagesLine.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!).filter((n) => n !== 'aiprod'),
  };
}

/** What scripts/deploy/canary.sh deploys: the gateway service and each pool with its image. */
export function canaryTargets(script: string): { service?: string; pools: { pool: string; image: string }[] } {
  const service = /^GATEWAY=(\S+)$/m.exec(script)?.[1];
  const array = /^POOLS=\(([\s\S]*?)\)$/m.exec(script)?.[1] ?? '';
  const pools = array
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [pool, image] = l.split(':');
      return { pool: pool!, image: image! };
    });
  return { ...(service ? { service } : {}), pools };
}
