// API7 (server side request forgery). The gateway itself fetches nothing a client names; what it
// stores, others fetch: the webhook URL (delivery POSTs to it) and the brand logo (delivery
// downloads it); reference images are handed to the video vendor as links. So:
// - PUT /v1/webhook resolves the host and refuses internal targets here (this file), and the
//   sender checks again at send time (packages/webhooks/src/sender.test.ts, ssrf.test.ts);
// - logoUrl and referenceImages are only checked for scheme and shape here (this file); the logo
//   is fetched by delivery through fetchPublicFile with the same guard, a pinned address, no
//   redirects and a size cap (packages/webhooks/src/fetch-public.test.ts).
import request from 'supertest';
import { startHarness, BRIEF, type Harness } from '../harness';
import { PROBLEM_JSON } from './fixtures';

let h: Harness;
let local: Harness;

beforeAll(async () => {
  h = await startHarness('sec-ssrf');
  // Local mode, as infra/local runs the gateway: plain http to loopback only.
  local = await startHarness('sec-ssrf-local', { deps: () => ({ allowLoopbackHttp: true }) });
}, 60_000);

afterAll(async () => {
  await h?.close();
  await local?.close();
});

const INTERNAL_TARGETS = [
  'http://hooks.example.com/',
  'https://127.0.0.1/',
  'https://127.1/',
  'https://2130706433/',
  'https://0x7f000001/',
  'https://0177.0.0.1/',
  'https://localhost/',
  'https://[::1]/',
  'https://[::ffff:127.0.0.1]/',
  'https://0.0.0.0/',
  'https://10.0.0.1/',
  'https://172.16.0.1/',
  'https://192.168.1.1/',
  'https://169.254.169.254/latest/meta-data/',
  'https://[fd00::1]/',
  'https://[fe80::1]/',
  'https://metadata.google.internal/computeMetadata/v1/',
  'https://internal.example.com/',
  'https://user:pw@hooks.example.com/',
  'file:///etc/passwd',
  'gopher://127.0.0.1:6379/_INFO',
  'ftp://hooks.example.com/',
];

async function refusedWebhook(app: Harness['app'], key: string, url: string) {
  const res = await request(app).put('/v1/webhook').set('Authorization', `Bearer ${key}`).send({ url });
  expect([url, res.status]).toEqual([url, 400]);
  expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
  const errors = (res.body as { errors: { field: string; rule: string }[] }).errors;
  expect(errors[0]).toEqual(expect.objectContaining({ field: '/url', rule: expect.any(String) }));
  return errors[0]!.rule;
}

it('refuses webhook URLs that reach internal, loopback, link-local, metadata or encoded addresses', async () => {
  const rules = new Set<string>();
  for (const url of INTERNAL_TARGETS) rules.add(await refusedWebhook(h.app, h.keys.admin, url));
  // Refused for their own reasons, not one catch-all.
  expect(rules.size).toBeGreaterThanOrEqual(4);
  expect(await h.webhooks.getEndpoint(h.tenantA)).toBeNull();
  // The control: a public host is accepted.
  const ok = await request(h.app)
    .put('/v1/webhook')
    .set('Authorization', `Bearer ${h.keys.admin}`)
    .send({ url: 'https://hooks.example.com/in' });
  expect(ok.status).toBe(201);
});

it('in local mode accepts plain http to loopback only, and still refuses private and metadata addresses', async () => {
  for (const url of [
    'http://10.0.0.1/',
    'http://169.254.169.254/',
    'http://hooks.example.com/',
    'http://internal.example.com/',
  ]) {
    await refusedWebhook(local.app, local.keys.admin, url);
  }
  const ok = await request(local.app)
    .put('/v1/webhook')
    .set('Authorization', `Bearer ${local.keys.admin}`)
    .send({ url: 'http://127.0.0.1:9/hook' });
  expect(ok.status).toBe(201);
});

it('accepts only http(s) links for the logo and reference images, naming the field', async () => {
  for (const url of [
    'javascript:alert(1)',
    'file:///etc/passwd',
    'data:image/png;base64,AAAA',
    'gopher://127.0.0.1/',
    'ftp://x.example/',
    '//evil.example/x',
    'not a url',
  ]) {
    for (const [brief, field] of [
      [{ ...BRIEF, brand: { ...BRIEF.brand, logoUrl: url } }, '/brand/logoUrl'],
      [{ ...BRIEF, referenceImages: ['https://img.example.com/a.png', url] }, '/referenceImages/1'],
    ] as const) {
      const res = await request(h.app).post('/v1/jobs').set('Authorization', `Bearer ${h.keys.write}`).send(brief);
      expect([url, field, res.status]).toEqual([url, field, 400]);
      expect((res.body as { errors: { field: string }[] }).errors.map((e) => e.field)).toContain(field);
    }
  }
});
