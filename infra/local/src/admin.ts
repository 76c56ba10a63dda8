import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { Firestore, Timestamp } from '@google-cloud/firestore';
import {
  API_KEY_SCOPES,
  ApiKeyNotFoundError,
  TenantStore,
  createFirestore,
  eraseTenant,
  footprintCounts,
  isApiKeyPrefix,
  tenantFootprint,
  type TenantFootprint,
  isApiKeyScope,
  type ApiKeyRecord,
  type ApiKeyScope,
  type Tenant,
} from '@aiprod/job-store';
import { createBlobStore, type BlobStore } from '@aiprod/storage';

/**
 * A gateway trusts a verified API key for API_KEY_CACHE_SECONDS (at most 5) without reading it
 * again: tenant erasure waits this long after deleting the keys before it erases anything else.
 */
const GATEWAY_KEY_CACHE_GRACE_MS = 6_000;
import { UsageError } from './qa-command';
import type { StackInfo } from './stack';

/**
 * `aiprod admin …`: tenants and API keys, for scripts. Every command prints one JSON document on
 * stdout; a failure prints `{"error":{"code","message"}}` on stderr and exits 1 (2: called
 * wrongly). A full key is printed once, when it is made; afterwards only its prefix exists.
 */

export class NotFoundError extends Error {}

const iso = (t: Timestamp | null | undefined) => (t ? t.toDate().toISOString() : null);

const tenantJson = (t: Tenant) => ({
  tenantId: t.tenantId,
  name: t.name,
  createdAt: iso(t.createdAt),
  disabled: t.disabled ?? false,
  autoApproveLimitUsd: t.autoApproveLimitUsd,
  maxConcurrentJobs: t.maxConcurrentJobs,
  requestsPerMinute: t.requestsPerMinute ?? null,
  maxJobsPerDay: t.maxJobsPerDay ?? null,
  maxEstimatesPerDay: t.maxEstimatesPerDay ?? null,
  monthlySpendCapUsd: t.monthlySpendCapUsd ?? null,
});

const keyJson = (r: ApiKeyRecord) => ({
  prefix: r.prefix,
  tenantId: r.tenantId,
  scopes: r.scopes,
  createdAt: iso(r.createdAt),
  expiresAt: iso(r.expiresAt),
  revokedAt: iso(r.revokedAt),
  lastUsedAt: iso(r.lastUsedAt),
  replacedBy: r.replacedBy ?? null,
});

function number(name: string, raw: string | undefined, opts: { integer?: boolean; min: number }): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || n < opts.min) {
    throw new UsageError(`${name} must be ${opts.integer ? 'a whole number' : 'a number'} ≥ ${opts.min}`);
  }
  return n;
}

const slug = (name: string) =>
  name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || 'tenant';

export async function adminTenantCreate(
  db: Firestore,
  name: string,
  opts: {
    id?: string;
    autoApproveLimit?: string;
    monthlyCap?: string;
    rpm?: string;
    maxConcurrent?: string;
    jobsPerDay?: string;
    estimatesPerDay?: string;
  },
) {
  if (!name.trim() || name.length > 200) throw new UsageError('the tenant name must be 1-200 characters');
  const tenantId = opts.id ?? `${slug(name)}-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(tenantId)) throw new UsageError('--id must be 1-64 of A-Z a-z 0-9 _ -');
  const autoApproveLimitUsd = number('--auto-approve-limit', opts.autoApproveLimit, { min: 0 });
  const monthlySpendCapUsd = number('--monthly-cap', opts.monthlyCap, { min: 0 });
  const requestsPerMinute = number('--rpm', opts.rpm, { integer: true, min: 1 });
  const maxConcurrentJobs = number('--max-concurrent', opts.maxConcurrent, { integer: true, min: 0 });
  const maxJobsPerDay = number('--jobs-per-day', opts.jobsPerDay, { integer: true, min: 0 });
  const maxEstimatesPerDay = number('--estimates-per-day', opts.estimatesPerDay, { integer: true, min: 0 });
  try {
    const tenant = await new TenantStore(db).createTenant(
      {
        tenantId,
        name: name.trim(),
        ...(autoApproveLimitUsd !== undefined ? { autoApproveLimitUsd } : {}),
        ...(monthlySpendCapUsd !== undefined ? { monthlySpendCapUsd } : {}),
        ...(requestsPerMinute !== undefined ? { requestsPerMinute } : {}),
        ...(maxConcurrentJobs !== undefined ? { maxConcurrentJobs } : {}),
        ...(maxJobsPerDay !== undefined ? { maxJobsPerDay } : {}),
        ...(maxEstimatesPerDay !== undefined ? { maxEstimatesPerDay } : {}),
      },
      { failIfExists: true },
    );
    return { tenant: tenantJson(tenant) };
  } catch (e) {
    if ((e as { code?: number }).code === 6) throw new UsageError(`tenant ${tenantId} already exists`);
    throw e;
  }
}

export async function adminTenantSetDisabled(db: Firestore, tenantId: string, disabled: boolean) {
  const tenants = new TenantStore(db);
  if (!(await tenants.getTenant(tenantId))) throw new NotFoundError(`no tenant ${tenantId}`);
  await tenants.setTenantDisabled(tenantId, disabled);
  return { tenant: tenantJson((await tenants.getTenant(tenantId))!) };
}

function parseScopes(raw: string): ApiKeyScope[] {
  const scopes = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = scopes.filter((s) => !isApiKeyScope(s));
  if (scopes.length === 0 || bad.length)
    throw new UsageError(`--scopes is a comma list of ${API_KEY_SCOPES.join(', ')}`);
  return scopes as ApiKeyScope[];
}

const daysFromNow = (days: number | undefined) =>
  days === undefined ? undefined : new Date(Date.now() + days * 86_400_000);

export async function adminKeyCreate(
  db: Firestore,
  opts: { tenant: string; scopes: string; expiresInDays?: string; env: string },
) {
  const scopes = parseScopes(opts.scopes);
  const expiresAt = daysFromNow(number('--expires-in-days', opts.expiresInDays, { min: 0.001 }));
  if (!/^[a-z]{2,10}$/.test(opts.env)) throw new UsageError('--env must be 2-10 lowercase letters');
  const tenants = new TenantStore(db);
  if (!(await tenants.getTenant(opts.tenant))) throw new NotFoundError(`no tenant ${opts.tenant}`);
  const { key, record } = await tenants.createApiKey(opts.tenant, scopes, opts.env, expiresAt ? { expiresAt } : {});
  return { key, ...keyJson(record), warning: 'the key is shown this once; store it now' };
}

export async function adminKeyRevoke(db: Firestore, prefixOrKey: string) {
  if (!prefixOrKey.startsWith('aiprod_')) throw new UsageError('give the key or its prefix (aiprod_<env>_<8 chars>)');
  try {
    const record = await new TenantStore(db).revokeApiKeyByPrefixOrKey(prefixOrKey);
    return { revoked: true, ...keyJson(record) };
  } catch (e) {
    if (e instanceof ApiKeyNotFoundError) throw new NotFoundError(e.message);
    throw e;
  }
}

export async function adminKeyRotate(
  db: Firestore,
  opts: { tenant: string; key: string; overlapHours?: string; expiresInDays?: string; env: string },
) {
  if (!isApiKeyPrefix(opts.key))
    throw new UsageError('--key is the prefix of the key to replace (aiprod_<env>_<8 chars>)');
  const overlapHours = number('--overlap-hours', opts.overlapHours ?? '24', { min: 0 })!;
  const expiresAt = daysFromNow(number('--expires-in-days', opts.expiresInDays, { min: 0.001 }));
  try {
    const { key, record, old } = await new TenantStore(db).rotateApiKey({
      tenantId: opts.tenant,
      prefix: opts.key,
      overlapMs: overlapHours * 3_600_000,
      env: opts.env,
      ...(expiresAt ? { expiresAt } : {}),
    });
    return {
      key,
      ...keyJson(record),
      replaces: keyJson(old),
      warning: 'the key is shown this once; the old key stops working at replaces.expiresAt',
    };
  } catch (e) {
    if (e instanceof ApiKeyNotFoundError) throw new NotFoundError(e.message);
    throw e;
  }
}

export async function adminKeyList(db: Firestore, tenantId: string) {
  const keys = await new TenantStore(db).listApiKeys(tenantId);
  return { tenantId, keys: keys.map(keyJson).sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt))) };
}

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

const footprintJson = (f: TenantFootprint) => ({ total: f.total, items: footprintCounts(f) });

/**
 * `admin tenant delete`: lists everything the tenant owns (a dry run stops there), erases it,
 * then lists again; `complete` is false (and the command exits 1) when anything remains.
 */
export async function adminTenantDelete(
  db: Firestore,
  storage: BlobStore,
  tenantId: string,
  opts: { dryRun?: boolean },
) {
  if (!TENANT_ID.test(tenantId)) throw new UsageError('the tenant id is 1-64 of A-Z a-z 0-9 _ -');
  if (opts.dryRun) {
    return { tenantId, dryRun: true, found: footprintJson(await tenantFootprint(db, tenantId, storage)) };
  }
  const { before, after, deletedFiles } = await eraseTenant(db, storage, tenantId, {
    keyCacheMs: GATEWAY_KEY_CACHE_GRACE_MS,
  });
  return {
    tenantId,
    dryRun: false,
    found: footprintJson(before),
    deletedFiles,
    remaining: footprintJson(after),
    complete: after.total === 0,
  };
}

function tenantDeleteText(out: Awaited<ReturnType<typeof adminTenantDelete>>): string {
  const rows = out.found.items.map((i) => {
    const left = out.remaining?.items.find((r) => r.kind === i.kind)?.count;
    return `  ${String(i.count).padStart(6)}  ${i.location}${left ? `  (${left} remain)` : ''}`;
  });
  const head = out.dryRun
    ? `tenant ${out.tenantId} owns ${out.found.total} documents and files (dry run: nothing deleted):`
    : `tenant ${out.tenantId}: found ${out.found.total} documents and files:`;
  const tail = out.dryRun
    ? ''
    : out.complete
      ? `erased: nothing of tenant ${out.tenantId} remains`
      : `INCOMPLETE: ${out.remaining!.total} remain; run the command again`;
  return [head, ...rows, tail].join('\n');
}

/**
 * Which blob store: STORAGE_BUCKET (the cloud) or STORAGE_ROOT from the environment when set,
 * otherwise the local platform's data directory from .aiprod/stack.json.
 */
export function adminStorage(readInfo: () => StackInfo | null): BlobStore {
  if (process.env.STORAGE_BUCKET) return createBlobStore({ kind: 'gcs', bucket: process.env.STORAGE_BUCKET });
  const rootDir = process.env.STORAGE_ROOT ?? readInfo()?.dataDir;
  if (!rootDir) throw new UsageError('no storage: run "pnpm stack:up", or set STORAGE_BUCKET (or STORAGE_ROOT)');
  // Listing and deleting sign no links: the key and base URL are never used.
  return createBlobStore({ kind: 'local', rootDir, publicBaseUrl: 'http://127.0.0.1', signingKey: randomBytes(32) });
}

/**
 * Which Firestore: FIRESTORE_EMULATOR_HOST / GCP_PROJECT from the environment when set (the
 * cloud, or any emulator), otherwise the local platform recorded in .aiprod/stack.json.
 */
export function adminFirestore(readInfo: () => StackInfo | null): { db: Firestore; emulator: boolean } {
  const info = readInfo();
  if (!process.env.FIRESTORE_EMULATOR_HOST && !process.env.GCP_PROJECT) {
    if (!info)
      throw new UsageError('no Firestore: run "pnpm stack:up", or set GCP_PROJECT (and FIRESTORE_EMULATOR_HOST)');
    process.env.FIRESTORE_EMULATOR_HOST = info.firestoreEmulatorHost;
  }
  const projectId = process.env.GCP_PROJECT ?? info?.projectId;
  if (!projectId) throw new UsageError('set GCP_PROJECT to the Firestore project');
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  return { db: createFirestore(projectId), emulator: Boolean(process.env.FIRESTORE_EMULATOR_HOST) };
}

/** Registers `admin tenant …` and `admin key …` on the aiprod CLI. */
export function registerAdminCommands(program: Command, readInfo: () => StackInfo | null): void {
  const fail = (code: string, message: string) =>
    process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  const admin = program
    .command('admin')
    .description('manage tenants and API keys (prints JSON)')
    .showHelpAfterError(false)
    .configureOutput({
      // Commander's own usage errors, as JSON like every other failure here.
      outputError: (text) => fail('usage', text.replace(/^error:\s*/, '').trim()),
    });

  const run =
    <A extends unknown[]>(fn: (db: Firestore, emulator: boolean, ...args: A) => Promise<unknown>) =>
    async (...args: A) => {
      let db: Firestore | undefined;
      try {
        const conn = adminFirestore(readInfo);
        db = conn.db;
        const out = await fn(db, conn.emulator, ...args);
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (e instanceof UsageError) fail('usage', message);
        else if (e instanceof NotFoundError) fail('not_found', message);
        else fail('failed', message);
        process.exitCode = e instanceof UsageError ? 2 : 1;
      } finally {
        await db?.terminate();
      }
    };
  const keyEnv = (explicit: string | undefined, emulator: boolean) =>
    explicit ?? process.env.AIPROD_KEY_ENV ?? (emulator ? 'local' : 'live');

  const tenant = admin.command('tenant').description('tenants');
  tenant
    .command('create <name>')
    .description('create a tenant; prints it')
    .option('--id <tenantId>', 'the tenant id (default: from the name plus a random suffix)')
    .option('--auto-approve-limit <usd>', 'jobs estimated above this wait for approval')
    .option('--monthly-cap <usd>', 'monthly spend cap; new jobs are refused once reached')
    .option('--rpm <n>', 'requests per minute (default: the gateway default)')
    .option('--max-concurrent <n>', 'unfinished jobs at a time')
    .option('--jobs-per-day <n>', 'new jobs per UTC day')
    .option('--estimates-per-day <n>', 'estimates per UTC day')
    .action(
      run((db, _emu, name: string, opts: Parameters<typeof adminTenantCreate>[2]) => adminTenantCreate(db, name, opts)),
    );
  tenant
    .command('disable <tenantId>')
    .description("refuse the tenant's keys and tokens")
    .action(run((db, _emu, id: string) => adminTenantSetDisabled(db, id, true)));
  tenant
    .command('enable <tenantId>')
    .description('accept the tenant again')
    .action(run((db, _emu, id: string) => adminTenantSetDisabled(db, id, false)));

  tenant
    .command('delete <tenantId>')
    .description('erase everything the tenant owns (jobs, files, keys, webhook, usage, audit, caches)')
    .option('--dry-run', 'only list what would be erased, with counts')
    .option('--json', 'print one JSON document instead of the text')
    .action(async (tenantId: string, opts: { dryRun?: boolean; json?: boolean }) => {
      let db: Firestore | undefined;
      try {
        db = adminFirestore(readInfo).db;
        const out = await adminTenantDelete(db, adminStorage(readInfo), tenantId, opts);
        process.stdout.write(opts.json ? `${JSON.stringify(out, null, 2)}\n` : `${tenantDeleteText(out)}\n`);
        if (out.complete === false) {
          fail('incomplete', `${out.remaining!.total} documents or files of tenant ${tenantId} remain`);
          process.exitCode = 1;
        }
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        fail(e instanceof UsageError ? 'usage' : 'failed', message);
        process.exitCode = e instanceof UsageError ? 2 : 1;
      } finally {
        await db?.terminate();
      }
    });

  const key = admin.command('key').description('API keys');
  key
    .command('create')
    .description('create an API key; prints the full key, this once')
    .requiredOption('--tenant <tenantId>', 'the tenant the key acts for')
    .option('--scopes <list>', `comma list of ${API_KEY_SCOPES.join(', ')}`, 'jobs:read,jobs:write')
    .option('--expires-in-days <n>', 'the key stops working after this many days')
    .option('--env <name>', 'the environment in the key (aiprod_<env>_…); default local on an emulator, else live')
    .action(
      run((db, emulator, opts: { tenant: string; scopes: string; expiresInDays?: string; env?: string }) =>
        adminKeyCreate(db, { ...opts, env: keyEnv(opts.env, emulator) }),
      ),
    );
  key
    .command('revoke <prefixOrKey>')
    .description('revoke a key at once, by its prefix or the full key')
    .action(run((db, _emu, prefixOrKey: string) => adminKeyRevoke(db, prefixOrKey)));
  key
    .command('rotate')
    .description('create a replacement key; the old one keeps working for the overlap, then stops')
    .requiredOption('--tenant <tenantId>', 'the tenant')
    .requiredOption('--key <prefix>', 'the prefix of the key to replace')
    .option('--overlap-hours <n>', 'how long the old key keeps working', '24')
    .option('--expires-in-days <n>', 'expiry of the new key')
    .option('--env <name>', 'the environment in the new key')
    .action(
      run(
        (
          db,
          emulator,
          opts: { tenant: string; key: string; overlapHours?: string; expiresInDays?: string; env?: string },
        ) => adminKeyRotate(db, { ...opts, env: keyEnv(opts.env, emulator) }),
      ),
    );
  key
    .command('list')
    .description("a tenant's keys (prefixes and dates, never the keys)")
    .requiredOption('--tenant <tenantId>', 'the tenant')
    .action(run((db, _emu, opts: { tenant: string }) => adminKeyList(db, opts.tenant)));
}
