// API5 (broken function level authorization): every authenticated operation of the served
// document, called with every key and token whose scopes do not include the one the document
// names, is a 403 with nothing changed; with the named scope (or admin) it is not.
import { problemTypeUri } from '@aiprod/contracts';
import type { ApiKeyScope } from '@aiprod/job-store';
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

beforeAll(async () => {
  ({ h, idp } = await startSecureSuite('sec-scopes'));
  ops = await authenticatedOperations(h.app);
}, 60_000);

afterAll(() => closeSecureSuite({ h, idp }));

/** Every scope set a caller can hold, as a key and as an OIDC token. */
const SCOPE_SETS: ApiKeyScope[][] = [
  [],
  ['jobs:read'],
  ['jobs:write'],
  ['jobs:read', 'jobs:write'],
  ['jobs:approve'],
  ['jobs:read', 'jobs:approve'],
  ['admin'],
];
const allows = (held: ApiKeyScope[], needed: ApiKeyScope) => held.includes(needed) || held.includes('admin');

it('names a scope for every authenticated operation, the webhook needs admin and approval jobs:approve', () => {
  for (const op of ops) expect(['jobs:read', 'jobs:write', 'jobs:approve', 'admin']).toContain(op.scope);
  expect(ops.find((o) => o.path === '/v1/jobs/{id}/approve')?.scope).toBe('jobs:approve');
  const webhook = ops.filter((o) => o.path === '/v1/webhook');
  expect(webhook.length).toBe(3);
  for (const op of webhook) expect(op.scope).toBe('admin');
});

it('refuses every operation to every key and token without its scope (403), and changes nothing', async () => {
  const credentials: { name: string; scopes: ApiKeyScope[]; authorization: string }[] = [];
  for (const scopes of SCOPE_SETS) {
    // A key always has a scope (the store refuses none); a token may carry none of ours.
    if (scopes.length > 0) {
      const { key } = await h.tenants.createApiKey(h.tenantA, scopes, 'test');
      credentials.push({ name: `key [${scopes.join(' ')}]`, scopes, authorization: `Bearer ${key}` });
    }
    const token = await idp.sign({ tenant: h.tenantA, scope: [...scopes, 'openid'].join(' ') });
    credentials.push({ name: `token [${scopes.join(' ')}]`, scopes, authorization: `Bearer ${token}` });
  }
  // A webhook to keep: a refused DELETE or PUT must leave it exactly as it is.
  await h.webhooks.setEndpoint(
    h.tenantA,
    'https://hooks.example.com/kept',
    'whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=',
  );
  const failures: string[] = [];
  let refusals = 0;
  for (const op of ops) {
    for (const c of credentials) {
      // A job that every operation could act on: approve and cancel both accept AWAITING_APPROVAL.
      const jobId = await jobIn(h, 'AWAITING_APPROVAL');
      const before = (await h.jobs.listJobsForTenant(h.tenantA, { limit: 100 })).jobs.length;
      const webhookBefore = JSON.stringify(await h.webhooks.getEndpoint(h.tenantA));
      const res = await send(h.app, op, jobId, c.authorization)
        .timeout(2000)
        .catch((e: { timeout?: number }) => {
          // An allowed SSE request on a job that is not finished streams on: being streamed to is "allowed".
          if (e.timeout) return { status: 200, headers: {}, body: {} } as never;
          throw e;
        });
      const status = (res as { status: number }).status;
      if (allows(c.scopes, op.scope)) {
        if (status === 401 || status === 403)
          failures.push(`${op.method} ${op.path} with ${c.name}: ${status}, expected allowed`);
        continue;
      }
      refusals++;
      const body = (res as { body: { type?: string } }).body;
      const contentType = String((res as { headers: Record<string, string> }).headers['content-type']);
      if (status !== 403 || body.type !== problemTypeUri('forbidden') || !PROBLEM_JSON.test(contentType)) {
        failures.push(`${op.method} ${op.path} with ${c.name}: ${status}, expected 403`);
      }
      // A refused call changed nothing.
      const after = (await h.jobs.listJobsForTenant(h.tenantA, { limit: 100 })).jobs.length;
      if ((await h.jobs.getJob(jobId))!.status !== 'AWAITING_APPROVAL' || after !== before) {
        failures.push(`${op.method} ${op.path} with ${c.name}: a refused call changed state`);
      }
      if (JSON.stringify(await h.webhooks.getEndpoint(h.tenantA)) !== webhookBefore) {
        failures.push(`${op.method} ${op.path} with ${c.name}: the webhook changed`);
      }
    }
  }
  expect(failures).toEqual([]);
  expect(refusals).toBeGreaterThanOrEqual(ops.length * 2);
}, 180_000);
