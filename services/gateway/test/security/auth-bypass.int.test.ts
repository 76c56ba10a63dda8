// API2 (broken authentication): every authenticated operation of the served OpenAPI document is
// called with every kind of credential that must not work; each must be a 401 problem that never
// echoes the credential, and nothing may change. A control call with a valid key and a valid token
// proves the same requests do get through when they should (so the 401s are not an accident).
import { problemTypeUri } from '@aiprod/contracts';
import type { Harness } from '../harness';
import {
  authenticatedOperations,
  closeSecureSuite,
  type DocumentedOperation,
  jobIn,
  type LocalIdp,
  PROBLEM_JSON,
  send,
  startSecureSuite,
} from './fixtures';

let h: Harness;
let idp: LocalIdp;
let ops: DocumentedOperation[];
let jobId: string;
/** name → the Authorization header to send (undefined: none at all). */
const attempts: [string, string | undefined][] = [];

beforeAll(async () => {
  ({ h, idp } = await startSecureSuite('sec-auth'));
  ops = await authenticatedOperations(h.app);
  jobId = await jobIn(h, 'AWAITING_APPROVAL');

  const revoked = (await h.tenants.createApiKey(h.tenantA, ['admin'], 'test')).key;
  await h.tenants.revokeApiKeyByPrefixOrKey(revoked);
  const expired = (
    await h.tenants.createApiKey(h.tenantA, ['admin'], 'test', { expiresAt: new Date(Date.now() - 1000) })
  ).key;
  await h.tenants.createTenant({ tenantId: 'tenant-disabled', name: 'Disabled' });
  const ofDisabled = (await h.tenants.createApiKey('tenant-disabled', ['admin'], 'test')).key;
  await h.tenants.setTenantDisabled('tenant-disabled', true);
  const admin = h.keys.admin;
  // Same prefix and length as a real key, one character changed: the checksum fails.
  const typo = admin.slice(0, -3) + (admin.at(-3) === 'a' ? 'b' : 'a') + admin.slice(-2);
  const { generateApiKey } = await import('@aiprod/job-store');

  attempts.push(
    ['no Authorization header', undefined],
    ['an empty Authorization header', ''],
    ['a well-formed key that was never issued', `Bearer ${generateApiKey('test')}`],
    ['a key with one character changed', `Bearer ${typo}`],
    ['a truncated key', `Bearer ${admin.slice(0, -1)}`],
    ['a key in upper case', `Bearer ${admin.toUpperCase()}`],
    ['a revoked key', `Bearer ${revoked}`],
    ['an expired key', `Bearer ${expired}`],
    ["a disabled tenant's key", `Bearer ${ofDisabled}`],
    ['Basic credentials', `Basic ${Buffer.from(`${admin}:`).toString('base64')}`],
    ['the key without a scheme', admin],
    ['another scheme', `Token ${admin}`],
    ['Bearer and nothing', 'Bearer'],
    ['Bearer and a space', 'Bearer '],
    ['two credentials', `Bearer ${admin} ${admin}`],
    ['a key followed by junk', `Bearer ${admin};x`],
    ['a tab for the space', `Bearer\t${admin}`],
    ['a 5000-character credential', `Bearer ${'a'.repeat(5000)}`],
    ['a foreign-format secret', 'Bearer sk_live_abcdefabcdefabcdef'],
    ['a JWT-shaped string of garbage', 'Bearer e30.e30.e30'],
    ...Object.entries(await idp.attacks(h.tenantA)).map(([name, token]): [string, string] => [name, `Bearer ${token}`]),
  );
}, 60_000);

afterAll(() => closeSecureSuite({ h, idp }));

it('reads at least the job, webhook, estimate and preset operations from the document', () => {
  const listed = ops.map((o) => `${o.method} ${o.path}`);
  for (const expected of ['post /v1/jobs', 'get /v1/jobs/{id}', 'put /v1/webhook', 'post /v1/estimates']) {
    expect(listed).toContain(expected);
  }
  expect(attempts.length).toBeGreaterThanOrEqual(25);
});

it('refuses every bypass attempt on every authenticated operation with a 401 that never echoes the credential', async () => {
  const failures: string[] = [];
  for (const op of ops) {
    for (const [name, authorization] of attempts) {
      const res = await send(h.app, op, jobId, authorization);
      const ok =
        res.status === 401 &&
        PROBLEM_JSON.test(String(res.headers['content-type'])) &&
        (res.body as { type?: string }).type === problemTypeUri('unauthenticated') &&
        // Not the credential, nor a recognisable tail of it.
        (authorization === undefined ||
          authorization.length < 12 ||
          (!res.text.includes(authorization) && !res.text.includes(authorization.slice(-16))));
      if (!ok) failures.push(`${op.method} ${op.path} with ${name}: ${res.status}`);
    }
  }
  expect(failures).toEqual([]);
  // Nothing happened on the tenant's behalf.
  expect((await h.jobs.getJob(jobId))!.status).toBe('AWAITING_APPROVAL');
  expect((await h.jobs.listJobsForTenant(h.tenantA, { limit: 10 })).jobs.map((j) => j.jobId)).toEqual([jobId]);
  expect(await h.webhooks.getEndpoint(h.tenantA)).toBeNull();
}, 120_000);

it('lets the same requests through with a valid admin key and a valid admin token (the control)', async () => {
  const token = await idp.sign({ tenant: h.tenantA, scope: 'admin' });
  for (const op of ops) {
    // A finished job: its event stream ends by itself (cancel and approve answer 409 on it).
    const id = await jobIn(h, 'DELIVERED');
    for (const authorization of [`Bearer ${h.keys.admin}`, `Bearer ${token}`]) {
      const res = await send(h.app, op, id, authorization);
      expect([op.method, op.path, res.status === 401 || res.status === 403]).toEqual([op.method, op.path, false]);
    }
  }
}, 120_000);
