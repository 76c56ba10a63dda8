import { emulatorProject } from '@aiprod/testing';
import { DEFAULT_RETENTION, effectiveRetention, TenantStore } from '../src';

const env = emulatorProject('tenant-retention', 'gateway');
const tenants = new TenantStore(env.db);
afterAll(() => env.close());

describe("a tenant's retention", () => {
  it('takes the defaults until set, keeps what is set, and refuses values out of bounds', async () => {
    await tenants.createTenant({ tenantId: 't-ret', name: 'Ret' });
    expect(effectiveRetention(await tenants.getTenant('t-ret'))).toEqual({
      outputsDays: 30,
      intermediateDays: 7,
      recordsDays: 400,
    });
    expect(DEFAULT_RETENTION).toEqual({ outputsDays: 30, intermediateDays: 7, recordsDays: 400 });
    await tenants.setRetention('t-ret', { outputsDays: 90, recordsDays: 3650 });
    expect(effectiveRetention(await tenants.getTenant('t-ret'))).toEqual({
      outputsDays: 90,
      intermediateDays: 7,
      recordsDays: 3650,
    });
    for (const bad of [
      { outputsDays: 0 },
      { intermediateDays: 401 },
      { recordsDays: 3651 },
      // The cost ledger must outlive the month's invoice.
      { recordsDays: 89 },
      { outputsDays: 1.5 },
      { days: 3 },
    ]) {
      await expect(tenants.setRetention('t-ret', bad as never)).rejects.toThrow(RangeError);
    }
    // A refused value changed nothing.
    expect((await tenants.getTenant('t-ret'))?.retention).toEqual({ outputsDays: 90, recordsDays: 3650 });
    await expect(tenants.setRetention('no-such-tenant', { outputsDays: 5 })).rejects.toThrow();
  });
});
