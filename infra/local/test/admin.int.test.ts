import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TenantStore, WebhookStore } from '@aiprod/job-store';
import { LocalBlobStore } from '@aiprod/storage';
import { aBrief, emulatorProject } from '@aiprod/testing';

/**
 * `aiprod admin …` run as a script would, from the sources (tsx, with the test tsconfig's paths so
 * the workspace packages resolve to their sources), against the test Firestore emulator.
 */
const env = emulatorProject('admin-cli', 'gateway');
const { projectId, db } = env;
const repoRoot = resolve(__dirname, '..', '..', '..');
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-admin-'));
const tenants = new TenantStore(db);
/** `admin tenant delete` finds the files here (STORAGE_ROOT), as a stack's services store them. */
const storageRoot = join(stateDir, 'data');
afterAll(async () => {
  rmSync(stateDir, { recursive: true, force: true });
  await env.close();
});

function admin(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'infra/local/src/cli.ts'), 'admin', ...args],
    {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: repoRoot,
      env: {
        ...process.env,
        FIRESTORE_EMULATOR_HOST: env.hosts.firestore,
        GCP_PROJECT: projectId,
        AIPROD_STATE_DIR: stateDir,
        STORAGE_ROOT: storageRoot,
        TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.test.json'),
      },
    },
  );
  // The CLI's JSON, asserted on field by field below.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const parse = (text: string) => (text.trim() ? (JSON.parse(text) as Record<string, any>) : null);
  return { status: result.status, out: parse(result.stdout), err: parse(result.stderr), stdout: result.stdout };
}

describe('aiprod admin', () => {
  it('creates a tenant and a key, rotates and revokes it, printing JSON only', async () => {
    const t = admin(
      'tenant',
      'create',
      'Acme Studio',
      '--rpm',
      '120',
      '--monthly-cap',
      '250',
      '--auto-approve-limit',
      '5',
    );
    expect(t.status).toBe(0);
    const tenantId = t.out!.tenant.tenantId as string;
    expect(tenantId).toMatch(/^acme-studio-[0-9a-f]{6}$/);
    expect(t.out!.tenant).toMatchObject({ requestsPerMinute: 120, monthlySpendCapUsd: 250, autoApproveLimitUsd: 5 });
    expect(await tenants.getTenant(tenantId)).toMatchObject({ name: 'Acme Studio', requestsPerMinute: 120 });

    const k = admin('key', 'create', '--tenant', tenantId, '--scopes', 'jobs:read', '--expires-in-days', '30');
    expect(k.status).toBe(0);
    const key = k.out!.key as string;
    expect(key).toMatch(/^aiprod_local_/);
    expect(k.out).toMatchObject({ tenantId, scopes: ['jobs:read'], prefix: key.slice(0, 21) });
    expect(Date.parse(k.out!.expiresAt)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await tenants.verifyApiKey(key)).ok).toBe(true);

    // The key is never shown again: listing gives prefixes only.
    const list = admin('key', 'list', '--tenant', tenantId);
    expect(list.status).toBe(0);
    expect(list.stdout).not.toContain(key);
    expect(list.out!.keys).toHaveLength(1);

    const r = admin('key', 'rotate', '--tenant', tenantId, '--key', k.out!.prefix, '--overlap-hours', '2');
    expect(r.status).toBe(0);
    const newKey = r.out!.key as string;
    expect(newKey).not.toBe(key);
    expect(r.out!.replaces.prefix).toBe(k.out!.prefix);
    const overlapEnd = Date.parse(r.out!.replaces.expiresAt);
    expect(Math.abs(overlapEnd - (Date.now() + 2 * 3_600_000))).toBeLessThan(60_000);
    expect((await tenants.verifyApiKey(key)).ok).toBe(true);
    expect((await tenants.verifyApiKey(newKey)).ok).toBe(true);

    const v = admin('key', 'revoke', r.out!.prefix);
    expect(v.status).toBe(0);
    expect(v.out).toMatchObject({ revoked: true, prefix: r.out!.prefix });
    expect(await tenants.verifyApiKey(newKey)).toEqual({ ok: false, reason: 'revoked' });
    // Revoking by the full key works too.
    expect(admin('key', 'revoke', key).status).toBe(0);
    expect(await tenants.verifyApiKey(key)).toEqual({ ok: false, reason: 'revoked' });
  }, 120_000);

  it('fails with a JSON error and a non-zero status', () => {
    const missing = admin('key', 'create', '--tenant', 'no-such-tenant');
    expect(missing.status).toBe(1);
    expect(missing.err).toEqual({ error: { code: 'not_found', message: 'no tenant no-such-tenant' } });
    expect(missing.out).toBeNull();

    const usage = admin('key', 'create');
    expect(usage.status).toBe(2);
    expect(usage.err!.error.code).toBe('usage');

    const badScope = admin('key', 'create', '--tenant', 'x', '--scopes', 'jobs:delete');
    expect(badScope.status).toBe(2);
    expect(badScope.err!.error.message).toMatch(/scopes/);

    const unknown = admin('key', 'revoke', 'aiprod_local_ZZZZZZZZ');
    expect(unknown.status).toBe(1);
    expect(unknown.err!.error.code).toBe('not_found');

    const dup = admin('tenant', 'create', 'Dup', '--id', 'dup-tenant');
    expect(dup.status).toBe(0);
    const again = admin('tenant', 'create', 'Dup', '--id', 'dup-tenant');
    expect(again.status).toBe(2);
    expect(again.err!.error.message).toMatch(/already exists/);
  }, 120_000);

  it('tenant delete: a dry run lists with counts and keeps everything; the delete erases it all', async () => {
    const storage = new LocalBlobStore({
      rootDir: storageRoot,
      publicBaseUrl: 'http://127.0.0.1',
      signingKey: Buffer.alloc(32, 3),
    });
    for (const id of ['gone-co', 'kept-co']) {
      await tenants.createTenant({ tenantId: id, name: id });
      await tenants.createApiKey(id, ['admin'], 'local');
      await new WebhookStore(db).setEndpoint(id, 'https://hooks.example.com/x', 'whsec_x');
      await env.jobs.createJob({
        jobId: `job_${id.replace('-', '_')}`,
        tenantId: id,
        brief: aBrief(),
        preset: 'social_quick',
      });
      // Ended: a tenant with a job still running is refused.
      await env.jobs.transition(`job_${id.replace('-', '_')}`, 'QUEUED', 'CANCELED');
      await storage.putBytes(`tenants/${id}/jobs/job_1/outputs/final.mp4`, Buffer.from('cut'));
    }
    const count = (out: Record<string, unknown>, kind: string) =>
      (out.items as { kind: string; count: number }[]).find((i) => i.kind === kind)?.count;

    const dry = admin('tenant', 'delete', 'gone-co', '--dry-run', '--json');
    expect(dry.status).toBe(0);
    expect(dry.out).toMatchObject({ tenantId: 'gone-co', dryRun: true });
    expect(count(dry.out!.found, 'jobs')).toBe(1);
    expect(count(dry.out!.found, 'apiKeys')).toBe(1);
    expect(count(dry.out!.found, 'webhookEndpoint')).toBe(1);
    expect(count(dry.out!.found, 'files')).toBe(1);
    expect(await tenants.getTenant('gone-co')).not.toBeNull();
    expect(await storage.list('tenants/gone-co/')).toHaveLength(1);

    // The text form, for a person: one line per kind with its count.
    const text = spawnText('tenant', 'delete', 'gone-co', '--dry-run');
    expect(text).toMatch(/dry run: nothing deleted/);
    expect(text).toMatch(/\s1 {2}jobs where tenantId/);

    const del = admin('tenant', 'delete', 'gone-co', '--json');
    expect(del.status).toBe(0);
    expect(del.out).toMatchObject({ complete: true, deletedFiles: 1, remaining: { total: 0 } });
    expect(await tenants.getTenant('gone-co')).toBeNull();
    expect(await storage.list('tenants/gone-co/')).toEqual([]);
    expect(await storage.list('tenants/kept-co/')).toHaveLength(1);
    expect(await tenants.getTenant('kept-co')).not.toBeNull();
    expect(await tenants.listApiKeys('kept-co')).toHaveLength(1);

    expect(admin('tenant', 'delete', '../etc').status).toBe(2);
  }, 120_000);
});

/** The CLI's text output (no --json). */
function spawnText(...args: string[]): string {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'infra/local/src/cli.ts'), 'admin', ...args],
    {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: repoRoot,
      env: {
        ...process.env,
        FIRESTORE_EMULATOR_HOST: env.hosts.firestore,
        GCP_PROJECT: projectId,
        AIPROD_STATE_DIR: stateDir,
        STORAGE_ROOT: storageRoot,
        TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.test.json'),
      },
    },
  );
  return result.stdout;
}
