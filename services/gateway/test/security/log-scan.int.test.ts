// API8 / convention 9: no API key, OIDC token, webhook secret or signed URL is ever logged. The
// gateway logs through the production logger (@aiprod/observability, with its redaction format)
// into a buffer, stdout and stderr are captured too, and a run that creates keys, calls every
// route with good and bad keys and tokens, signs outputs, downloads through a signed link and sets
// and rotates a webhook is then searched for the actual secret values.
import { Writable } from 'node:stream';
import request from 'supertest';
import { createLogger } from '@aiprod/observability';
import type { Log } from '@aiprod/pubsub';
import type { Harness } from '../harness';
import { BRIEF } from '../harness';
import { authenticatedOperations, closeSecureSuite, jobIn, type LocalIdp, send, startSecureSuite } from './fixtures';

let h: Harness;
let idp: LocalIdp;
const logged: string[] = [];
const secrets = new Map<string, string>();
/** Secrets are searched whole and by a distinctive piece, so a truncated or split copy is found too. */
const remember = (what: string, value: string) => {
  secrets.set(what, value);
  if (value.length > 40) secrets.set(`${what} (tail)`, value.slice(-24));
};

const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged.push(chunk.toString());
    done();
  },
});
const log = createLogger({ service: 'gateway', level: 'debug', stream: capture }) as unknown as Log;

const originalStdout = process.stdout.write.bind(process.stdout);
const originalStderr = process.stderr.write.bind(process.stderr);

beforeAll(async () => {
  // Everything written to the process's own streams during the run is kept as well.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    logged.push(String(chunk));
    return originalStdout(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    logged.push(String(chunk));
    return originalStderr(chunk, ...rest);
  }) as typeof process.stderr.write;
  ({ h, idp } = await startSecureSuite('sec-logs', { log }));
}, 60_000);

afterAll(async () => {
  process.stdout.write = originalStdout;
  process.stderr.write = originalStderr;
  await closeSecureSuite({ h, idp });
});

it('logs no key, token, webhook secret or signed URL, across every path that handles one', async () => {
  for (const [name, key] of Object.entries(h.keys)) remember(`key ${name}`, key);
  // Keys created, rotated and revoked during the run.
  const created = await h.tenants.createApiKey(h.tenantA, ['jobs:read', 'jobs:write'], 'test');
  remember('created key', created.key);
  const rotated = await h.tenants.rotateApiKey({
    tenantId: h.tenantA,
    prefix: created.record.prefix,
    overlapMs: 60_000,
    env: 'test',
  });
  remember('rotated key', rotated.key);
  const revoked = (await h.tenants.createApiKey(h.tenantA, ['admin'], 'test')).key;
  await h.tenants.revokeApiKeyByPrefixOrKey(revoked);
  remember('revoked key', revoked);
  const token = await idp.sign({ tenant: h.tenantA, scope: 'admin' });
  remember('token', token);
  for (const [name, bad] of Object.entries(await idp.attacks(h.tenantA))) remember(name, bad);

  // Every operation with every credential, good and bad.
  const ops = await authenticatedOperations(h.app);
  const delivered = await jobIn(h, 'DELIVERED');
  // DELETE /v1/jobs/{id} erases its job: it gets its own, so `delivered` keeps its outputs below.
  const erasable = await jobIn(h, 'DELIVERED');
  for (const op of ops) {
    const jobId = op.method === 'delete' && op.path === '/v1/jobs/{id}' ? erasable : delivered;
    for (const [what, credential] of secrets) {
      if (what.endsWith('(tail)') || what.startsWith('signed') || what.startsWith('webhook')) continue;
      await send(h.app, op, jobId, `Bearer ${credential}`);
    }
  }
  // A key sent in the wrong places (a typo'd scheme, a header that is not Authorization).
  await request(h.app).get('/v1/jobs').set('Authorization', `Basic ${created.key}`);
  await request(h.app).get('/v1/jobs').set('X-Api-Key', created.key);

  // Jobs with an Idempotency-Key, replayed.
  for (let i = 0; i < 2; i++) {
    await request(h.app)
      .post('/v1/jobs')
      .set('Authorization', `Bearer ${rotated.key}`)
      .set('Idempotency-Key', 'k-1')
      .send(BRIEF);
  }

  // Signed output links: issued, used, tampered with, expired.
  const outputs = await request(h.app)
    .get(`/v1/jobs/${delivered}/outputs?ttl=600`)
    .set('Authorization', `Bearer ${token}`);
  expect(outputs.status).toBe(200);
  const urls = (outputs.body as { outputs: { url: string }[] }).outputs.map((o) => o.url);
  const job = await request(h.app).get(`/v1/jobs/${delivered}`).set('Authorization', `Bearer ${h.keys.read}`);
  urls.push(...JSON.stringify(job.body).match(/https:\/\/127\.0\.0\.1:8443\/files\/[^"]+/g)!);
  expect(urls.length).toBeGreaterThanOrEqual(2);
  for (const [i, url] of urls.entries()) {
    remember(`signed url ${i}`, url);
    const { pathname, search } = new URL(url);
    remember(`signed url ${i} query`, search);
    remember(`signed url ${i} path`, pathname);
    expect((await request(h.app).get(`${pathname}${search}`)).status).toBe(200);
    await request(h.app).get(`${pathname}${search.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'))}`);
    await request(h.app).get(pathname);
  }

  // The webhook: set, rotated, read, removed.
  for (let i = 0; i < 2; i++) {
    const put = await request(h.app)
      .put('/v1/webhook')
      .set('Authorization', `Bearer ${h.keys.admin}`)
      .send({ url: 'https://hooks.example.com/in' });
    expect([200, 201]).toContain(put.status);
    remember(`webhook secret ${i}`, (put.body as { secret: string }).secret);
  }
  await request(h.app).get('/v1/webhook').set('Authorization', `Bearer ${h.keys.admin}`);
  await request(h.app).delete('/v1/webhook').set('Authorization', `Bearer ${h.keys.admin}`);

  // The log is not empty: the audit lines are there, naming callers by key prefix and subject.
  const text = logged.join('');
  expect(text).toContain(created.record.prefix);
  expect(text).toContain('oidc:user-42');
  expect(text).toContain('/files/[redacted]');
  expect(logged.length).toBeGreaterThan(100);

  const found = [...secrets].filter(([, value]) => text.includes(value)).map(([what]) => what);
  expect(found).toEqual([]);
  // And nothing shaped like one, whoever's it is.
  expect(text).not.toMatch(/aiprod_test_[A-Za-z0-9]{30}/);
  expect(text).not.toMatch(/whsec_[A-Za-z0-9+/=]{20}/);
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/);
  expect(text).not.toMatch(/[?&](sig|signature|expires|X-Goog-Signature)=/i);
}, 120_000);
