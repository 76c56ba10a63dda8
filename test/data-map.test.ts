import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { JOB_ERASURE_COVERS, TENANT_ERASURE_COVERS } from '@aiprod/job-store';
import {
  captionsKey,
  finalCutKey,
  jobFolders,
  jobPrefix,
  jobReferenceKey,
  outputsPrefix,
  previewKey,
  qaEvidencePrefix,
  shotClipKey,
  tenantAssetKey,
  tenantPrefix,
  voiceTrackKey,
} from '@aiprod/storage';

/**
 * Issue 20's guard: every Firestore collection and every storage key the code writes is covered by
 * erasure and retention, and said in docs/data-protection.md. A new collection or key builder that
 * is not fails here until it is added to erasure (or exempted below, with the reason).
 */
const root = resolve(__dirname, '..');

/** Collections that hold no tenant's data, each with why erasure may leave them. */
const EXEMPT: Record<string, string> = {
  handledMessages: 'message ids per subscription for replay; no content; expires after 7 days (TTL)',
  handled: 'under handledMessages: message and job ids only; expires after 7 days (TTL)',
  opsSnapshots: 'operators’ snapshots of subscriptions; names and times, no tenant data',
  backend_capacity: 'the render pools’ capacity board: per backend, no tenant data',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sourceFiles(path);
    return /\.ts$/.test(name) && !/\.test\.ts$|\.d\.ts$/.test(name) ? [path] : [];
  });
}

const SOURCES = ['packages', 'services', join('infra', 'local')].flatMap((top) =>
  readdirSync(join(root, top))
    .map((pkg) => join(root, top, pkg, 'src'))
    .filter((src) => {
      try {
        return statSync(src).isDirectory();
      } catch {
        return false;
      }
    })
    .flatMap(sourceFiles),
);
// packages/testing is test tooling (emulators, fakes), not what production writes.
const PRODUCTION = SOURCES.filter((f) => !f.includes(`${join('packages', 'testing')}`));

/** Every collection name the production code passes to `.collection(…)`, literally or by a named constant or option. */
function collectionsWritten(): Set<string> {
  const names = new Set<string>();
  for (const file of PRODUCTION) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\.collection\('([A-Za-z_]+)'\)/g)) names.add(m[1]!);
    // Named constants and counter options: `X_COLLECTION = 'name'`, `collection: 'name'`, `?? 'name'`.
    for (const m of text.matchAll(/[A-Z_]*COLLECTION = '([A-Za-z_]+)'/g)) names.add(m[1]!);
    for (const m of text.matchAll(/collection(?:\s*\?\?|:)\s*'([A-Za-z_]+)'/g)) names.add(m[1]!);
    for (const m of text.matchAll(/options\.collection \?\? '([A-Za-z_]+)'/g)) names.add(m[1]!);
  }
  return names;
}

describe('the data map', () => {
  const written = collectionsWritten();
  const doc = readFileSync(join(root, 'docs', 'data-protection.md'), 'utf8');

  it('finds the collections the code writes (the scan itself works)', () => {
    for (const known of ['jobs', 'tenants', 'apiKeys', 'shots', 'rateLimits', 'quotaCounters', 'backend_capacity'])
      expect(written).toContain(known);
    // A test-only collection is not production data.
    expect(written).not.toContain('counterTest');
  });

  it('erases every collection with its tenant (or says why it holds no tenant data)', () => {
    const covered = new Set([...TENANT_ERASURE_COVERS.topLevel, ...TENANT_ERASURE_COVERS.underJobsOrTenant]);
    const uncovered = [...written].filter((name) => !covered.has(name) && !(name in EXEMPT)).sort();
    expect(uncovered).toEqual([]);
  });

  it('erases every collection with a job that names it, or says why it is the tenant’s rather than a job’s', () => {
    const tenantLevel: Record<string, string> = {
      tenants: 'the tenant itself',
      apiKeys: 'the tenant’s keys',
      assets: 'uploads, which several jobs may name',
      audit: 'who did what: it must outlive an erased job',
      usage: 'monthly totals: billing',
      spendEntries: 'monthly spend markers: billing',
      rateLimits: 'request counters, no content',
      quotaCounters: 'quota counters, no content',
      estimates: 'a quote is not a job (kept a day)',
    };
    const covered = new Set([...JOB_ERASURE_COVERS.topLevel, ...JOB_ERASURE_COVERS.subcollections]);
    const uncovered = [...written].filter((n) => !covered.has(n) && !(n in tenantLevel) && !(n in EXEMPT)).sort();
    expect(uncovered).toEqual([]);
  });

  it('names every collection of tenant data in docs/data-protection.md', () => {
    // Named inside a code span, alone or as a path segment (`jobs/<job>/shots`).
    const named = (name: string) => new RegExp(`\`[^\`\n]*\\b${name}\\b[^\`\n]*\``).test(doc);
    const missing = [...written].filter((name) => !(name in EXEMPT) && !named(name)).sort();
    expect(missing).toEqual([]);
  });

  it('puts every file a job writes under the job’s folder, in a retention class, and every file under the tenant', () => {
    const job = { tenantId: 't1', jobId: 'j1' };
    const attempt = { ...job, shotId: 's01', attempt: 1 };
    const folders = jobFolders(job);
    const classes = Object.entries(folders).filter(([name]) => name !== 'root');
    const keys = [
      shotClipKey(attempt),
      `${qaEvidencePrefix(attempt)}/frame-1.png`,
      finalCutKey(job, '16x9'),
      captionsKey(job, 'fr-16x9', 'vtt'),
      voiceTrackKey(job, 'fr'),
      `${outputsPrefix(job)}/provenance.json`,
      previewKey({ ...job, planVersion: 2 }),
      jobReferenceKey(job, 'ref-1', 'png'),
      jobReferenceKey(job, 'music', 'wav'),
    ];
    for (const key of keys) {
      expect(key.startsWith(folders.root)).toBe(true);
      expect(classes.filter(([, prefix]) => key.startsWith(prefix as string)).map(([name]) => name)).toHaveLength(1);
    }
    // Job erasure deletes jobPrefix; tenant erasure deletes tenantPrefix, which holds every job's and every asset.
    expect(jobPrefix(job)).toBe(folders.root);
    expect(folders.root.startsWith(tenantPrefix('t1'))).toBe(true);
    expect(tenantAssetKey('t1', 'asset_0').startsWith(tenantPrefix('t1'))).toBe(true);
  });

  it('has checked every key builder storage exports (a new one must be added above)', () => {
    const keysTs = readFileSync(join(root, 'packages', 'storage', 'src', 'keys.ts'), 'utf8');
    const builders = [...keysTs.matchAll(/export const ([a-zA-Z]+(?:Key|Prefix)) =/g)].map((m) => m[1]).sort();
    expect(builders).toEqual(
      [
        'captionsKey',
        'finalCutKey',
        'jobPrefix',
        'jobReferenceKey',
        'outputsPrefix',
        'previewKey',
        'qaEvidencePrefix',
        'shotClipKey',
        'tenantAssetKey',
        'tenantPrefix',
        'voiceTrackKey',
      ].sort(),
    );
  });
});
