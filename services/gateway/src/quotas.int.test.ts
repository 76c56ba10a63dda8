import { Timestamp } from '@google-cloud/firestore';
import { TenantStore, countActiveJobs, getMonthlySpend, recordSpend, type Tenant } from '@aiprod/job-store';
import { emulatorProject } from '@aiprod/testing';
import { JobQuotas, QuotaExceeded } from './quotas';

const env = emulatorProject('gw-quota', 'gateway');
const { db } = env;
const tenants = new TenantStore(db);
/** Every JobQuotas of this file, closed before the client: a background recount must not outlive it. */
const made: JobQuotas[] = [];
class TrackedQuotas extends JobQuotas {
  constructor(options: ConstructorParameters<typeof JobQuotas>[0]) {
    super(options);
    made.push(this);
  }
}
afterAll(async () => {
  await Promise.all(made.map((q) => q.close()));
  await env.close();
});

const defaults = { maxConcurrentJobs: 100, maxJobsPerDay: 1000, monthlySpendCapUsd: null };
const addJob = (tenantId: string, status: string, i: number) =>
  db.collection('jobs').doc(`${tenantId}-${status}-${i}`).set({ tenantId, status, createdAt: Timestamp.now() });

async function refusal(quotas: JobQuotas, tenant: Tenant): Promise<QuotaExceeded | null> {
  try {
    await quotas.checkJobCreation(tenant);
    return null;
  } catch (e) {
    if (e instanceof QuotaExceeded) return e;
    throw e;
  }
}

describe('JobQuotas', () => {
  it('refuses when the unfinished jobs reach the limit; finished jobs do not count', async () => {
    const tenant = await tenants.createTenant({ tenantId: 'conc', name: 'C', maxConcurrentJobs: 3 });
    await Promise.all([addJob('conc', 'QUEUED', 1), addJob('conc', 'RENDERING', 2), addJob('conc', 'DELIVERED', 3)]);
    await Promise.all([addJob('conc', 'FAILED', 4), addJob('conc', 'CANCELED', 5), addJob('else', 'QUEUED', 6)]);
    expect(await countActiveJobs(db, 'conc')).toBe(2);
    const quotas = new TrackedQuotas({ db, defaults });
    expect(await refusal(quotas, tenant)).toBeNull();
    await addJob('conc', 'AWAITING_APPROVAL', 7);
    const refused = await refusal(quotas, tenant);
    expect(refused).toMatchObject({ quota: 'concurrent_jobs', limit: 3, resetsAt: null, kind: 'quota_exceeded' });
    expect(refused!.extras.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('counts jobs per UTC day in Firestore: a second instance continues the count', async () => {
    const tenant = await tenants.createTenant({ tenantId: 'daily', name: 'D', maxJobsPerDay: 4 });
    const a = new TrackedQuotas({ db, defaults });
    const b = new TrackedQuotas({ db, defaults });
    expect(await refusal(a, tenant)).toBeNull();
    expect(await refusal(b, tenant)).toBeNull();
    expect(await refusal(a, tenant)).toBeNull();
    expect(await refusal(b, tenant)).toBeNull();
    const refused = (await refusal(a, tenant)) ?? (await refusal(b, tenant));
    expect(refused).toMatchObject({ quota: 'jobs_per_day', limit: 4 });
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(refused!.resetsAt!.getTime()).toBe(midnight.getTime());
    expect(refused!.detail).toContain(midnight.toISOString());
    // After midnight UTC the count starts again.
    const tomorrow = new TrackedQuotas({ db, defaults, now: () => new Date(midnight.getTime() + 1000) });
    expect(await refusal(tomorrow, tenant)).toBeNull();
  });

  it('refuses new jobs once the month spend reaches the cap; recordSpend dedupes by entry id', async () => {
    const tenant = await tenants.createTenant({ tenantId: 'spendy', name: 'S', monthlySpendCapUsd: 10 });
    const quotas = new TrackedQuotas({ db, defaults, spendCacheMs: 0 });
    const at = new Date();
    await recordSpend(db, 'spendy', 6, at, { entryId: 'job1:s01:1' });
    expect(await recordSpend(db, 'spendy', 6, at, { entryId: 'job1:s01:1' })).toEqual({ recorded: false });
    expect(await getMonthlySpend(db, 'spendy', at)).toBe(6);
    expect(await refusal(quotas, tenant)).toBeNull();
    await recordSpend(db, 'spendy', 4, at);
    const refused = await refusal(quotas, tenant);
    expect(refused).toMatchObject({ quota: 'monthly_spend', limit: 10 });
    expect(refused!.resetsAt!.getUTCDate()).toBe(1);
    // Spend of last month does not count this month.
    const lastMonth = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 15));
    await recordSpend(db, 'other', 50, lastMonth);
    expect(await getMonthlySpend(db, 'other', at)).toBe(0);
    expect(
      (
        await db
          .collection('usage')
          .doc(`other:${lastMonth.toISOString().slice(0, 7)}`)
          .get()
      ).get('spentUsd'),
    ).toBe(50);
    await expect(recordSpend(db, 'spendy', -1, at)).rejects.toThrow(/non-negative/);
  });

  it('a spend entry redelivered after the month turned is not counted again in the new month', async () => {
    const endOfMonth = new Date(Date.UTC(2026, 10, 30, 23, 59, 59));
    const nextMonth = new Date(Date.UTC(2026, 11, 1, 0, 0, 5));
    expect(await recordSpend(db, 'turning', 3, endOfMonth, { entryId: 'job9-s01-a1-veo-abc' })).toEqual({
      recorded: true,
    });
    expect(await recordSpend(db, 'turning', 3, nextMonth, { entryId: 'job9-s01-a1-veo-abc' })).toEqual({
      recorded: false,
    });
    expect(await getMonthlySpend(db, 'turning', endOfMonth)).toBe(3);
    expect(await getMonthlySpend(db, 'turning', nextMonth)).toBe(0);
  });

  it('the default spend cap applies to tenants without their own', async () => {
    const tenant = await tenants.createTenant({ tenantId: 'capless', name: 'N' });
    await recordSpend(db, 'capless', 2);
    const quotas = new TrackedQuotas({ db, defaults: { ...defaults, monthlySpendCapUsd: 1 } });
    expect(await refusal(quotas, tenant)).toMatchObject({ quota: 'monthly_spend', limit: 1 });
    expect(await refusal(new TrackedQuotas({ db, defaults }), tenant)).toBeNull();
  });
});
