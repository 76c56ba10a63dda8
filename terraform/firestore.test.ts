import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { HANDLED_RECORD_RETENTION_MS, RETENTION_BOUNDS } from '@aiprod/job-store';
import { WORK_MESSAGE_RETENTION_SECONDS } from '@aiprod/pubsub';

type Block = Record<string, unknown>[];
const repo = join(__dirname, '..');
const source = (file: string) => readFileSync(join(repo, file), 'utf8');

describe('terraform/modules/firestore', () => {
  let hcl: { locals: Block; resource: Record<string, Record<string, Block>> };
  beforeAll(async () => {
    hcl = (await parse('main.tf', source('terraform/modules/firestore/main.tf'))) as typeof hcl;
  });

  it("indexes exactly the fields of the job-list, quota and sweeper queries, in the queries' order", () => {
    const locals = JSON.stringify(hcl.locals);
    // JobStore.listJobsForTenant: where tenantId [, where status], orderBy createdAt desc, then the id.
    const list = source('packages/job-store/src/job-store.ts');
    expect(list).toMatch(
      /where\('tenantId', '==', tenantId\)[\s\S]*where\('status', '=='[\s\S]*orderBy\('createdAt', 'desc'\)\.orderBy\(FieldPath\.documentId\(\), 'desc'\)/,
    );
    expect(locals).toContain('[["tenantId","ASCENDING"],["createdAt","DESCENDING"],["__name__","DESCENDING"]]');
    expect(locals).toContain(
      '[["tenantId","ASCENDING"],["status","ASCENDING"],["createdAt","DESCENDING"],["__name__","DESCENDING"]]',
    );
    // countActiveJobs: tenantId == and status in [...].
    expect(source('packages/job-store/src/usage.ts')).toMatch(
      /where\('tenantId', '==', tenantId\)\s*\.where\('status', 'in'/,
    );
    expect(locals).toContain('[["tenantId","ASCENDING"],["status","ASCENDING"]]');
    // overdueJobs: status in [...] and deadlineAt <=, ordered by deadlineAt (each sweeper its own states).
    expect(list).toMatch(
      /where\('status', 'in', \[\.\.\.statuses\]\)\s*\.where\('deadlineAt', '<=', now\)\s*\.orderBy\('deadlineAt'\)/,
    );
    expect(locals).toContain('[["status","ASCENDING"],["deadlineAt","ASCENDING"]]');
    // The retention sweeper: one field, its range and its order (the automatic single-field index).
    expect(source('packages/service-runtime/src/retention.ts')).toMatch(
      /where\('retentionDueAt', '<=',[\s\S]{0,60}?\.orderBy\('retentionDueAt'\)\s*\.orderBy\(FieldPath\.documentId\(\)\)/,
    );
    // The render pools' stale-attempt sweep: a collection-group query on shots by backend and status.
    expect(source('services/render/src/steps/stale-attempts.ts')).toMatch(
      /collectionGroup\('shots'\)\s*\.where\('backend', '==', [^)]*\)\s*\.where\('status', 'in', \['PENDING', 'REJECTED', 'RENDERING'\]\)[\s\S]{0,120}\.orderBy\('updatedAt'\)/,
    );
    const shots = hcl.resource.google_firestore_index!.shots_backend_status![0]!;
    expect(shots).toMatchObject({ collection: 'shots', query_scope: 'COLLECTION_GROUP' });
    expect((shots.fields as { field_path: string }[]).map((f) => f.field_path)).toEqual([
      'backend',
      'status',
      'updatedAt',
    ]);
    expect(Object.keys(hcl.resource.google_firestore_index ?? {}).sort()).toEqual([
      'api_keys_prefix_tenant',
      'audit_job_at',
      'jobs',
      'shots_backend_status',
    ]);
  });

  it('puts a TTL policy on every collection whose documents carry expiresAt', () => {
    const ttl = /ttl_collections\s*=\s*\[([^\]]*)\]/.exec(source('terraform/modules/firestore/main.tf'))![1]!;
    const collections = [...ttl.matchAll(/"([A-Za-z]+)"/g)].map((m) => m[1]);
    expect(collections.sort()).toEqual([
      'audit',
      'directorPlans',
      'estimates',
      'handled',
      'idempotency',
      'jobs',
      'quotaCounters',
      'rateLimits',
      'renderCache',
    ]);
    // Each is a collection the code really writes, with an expiresAt field.
    expect(source('packages/job-store/src/idempotency.ts')).toMatch(/collection\('idempotency'\)[\s\S]*expiresAt/);
    expect(source('packages/job-store/src/render-cache.ts')).toMatch(/collection\('renderCache'\)[\s\S]*expiresAt/);
    const estimates = source('packages/job-store/src/estimates.ts');
    expect(estimates).toMatch(/collection\('estimates'\)[\s\S]*expiresAt/);
    expect(estimates).toMatch(/collection\('directorPlans'\)[\s\S]*expiresAt/);
    expect(source('services/gateway/src/rate-limit.ts')).toContain("'rateLimits'");
    expect(source('services/gateway/src/quotas.ts')).toContain("'quotaCounters'");
    expect(source('packages/job-store/src/usage.ts')).toMatch(/expiresAt: Timestamp\.fromMillis\(window\.end/);
    // The audit trail: tenants/{tenantId}/audit, a subcollection, so the policy names its group.
    expect(source('packages/job-store/src/audit.ts')).toMatch(
      /collection\('tenants'\)\.doc\(tenantId\)\.collection\('audit'\)[\s\S]*expiresAt: Timestamp\.fromMillis\(at\.getTime\(\) \+ AUDIT_RETENTION_MS\)/,
    );
    const auditIndex = hcl.resource.google_firestore_index!.audit_job_at![0]!;
    expect(auditIndex).toMatchObject({ collection: 'audit', query_scope: 'COLLECTION' });
    // The message ledger's handled records: a subcollection, so the policy names its group.
    const ledger = source('packages/job-store/src/message-ledger.ts');
    expect(ledger).toMatch(/collection\('handledMessages'\)\.doc\([^)]*\)\)?\.collection\('handled'\)/);
    expect(ledger).toMatch(
      /expiresAt: Timestamp\.fromMillis\(info\.publishTime\.getTime\(\) \+ HANDLED_RECORD_RETENTION_MS\)/,
    );
    // ...kept as long as the subscriptions retain acked messages, here and in Terraform.
    expect(HANDLED_RECORD_RETENTION_MS).toBe(WORK_MESSAGE_RETENTION_SECONDS * 1000);
    expect(source('terraform/modules/pubsub/variables.tf')).toMatch(
      new RegExp(`variable "work_message_retention" \\{[^}]*default\\s*= "${WORK_MESSAGE_RETENTION_SECONDS}s"`),
    );
    // Ended jobs: the retention sweeper sets expiresAt (end + recordsDays + grace).
    expect(source('packages/service-runtime/src/retention.ts')).toMatch(
      /jobs\.doc\(job\.jobId\)\.update\(\{[\s\S]{0,200}?expiresAt: Timestamp\.fromDate\(decision\.expiresAt\)/,
    );
    expect(hcl.resource.google_firestore_field?.ttl?.[0]?.field).toBe('expiresAt');
  });

  it("keeps the media bucket's delete rule a backstop behind the longest file retention a tenant may set", async () => {
    const prod = source('terraform/environments/prod/main.tf');
    const days = Number(/media_retention_days\s*=\s*(\d+)/.exec(prod)![1]);
    const longest = Math.max(RETENTION_BOUNDS.outputsDays.max, RETENTION_BOUNDS.intermediateDays.max);
    expect(days).toBeGreaterThanOrEqual(longest + 10);
    const storage = (await parse('main.tf', source('terraform/modules/storage/main.tf'))) as {
      resource: Record<string, Record<string, Block>>;
    };
    const rules = storage.resource.google_storage_bucket!.media![0]!.lifecycle_rule as Block;
    const del = rules.find((r) => JSON.stringify(r.action).includes('"Delete"'))!;
    expect(JSON.stringify(del.condition)).toContain('${var.delete_after_days}');
  });
});
