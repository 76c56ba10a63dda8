import request from 'supertest';
import { AuditTrail } from '@aiprod/job-store';
import { startHarness, jobIn, type Harness } from './harness';

/** The audit trail as data: GET /v1/audit over the records the gateway writes after each request. */
describe('audit trail', () => {
  let h: Harness;
  let audit: AuditTrail;

  beforeAll(async () => {
    h = await startHarness('gateway-audit', {
      deps: ({ db }) => {
        audit = new AuditTrail(db, { flushIntervalMs: 60_000 });
        return { audit };
      },
    });
  });
  afterAll(async () => h?.close());

  const get = (path: string, key: string) => request(h.app).get(path).set('authorization', `Bearer ${key}`);
  const auditOf = async (key: string, query = '') => {
    await audit.flush();
    return get(`/v1/audit${query}`, key);
  };

  it('keeps each tenant its own requests, and none of their query strings or keys', async () => {
    const jobA = await jobIn(h, 'QUEUED');
    const jobB = await jobIn(h, 'QUEUED', h.tenantB);
    await get(`/v1/jobs/${jobA}?secret=hush`, h.keys.read).expect(200);
    await get(`/v1/jobs/${jobB}`, h.keys.read).expect(404);
    await get(`/v1/jobs/${jobB}`, h.keys.other).expect(200);
    await get('/v1/jobs?limit=3', h.keys.admin).expect(200);

    const a = await auditOf(h.keys.admin, '?limit=200');
    expect(a.status).toBe(200);
    const mine = a.body.events as Record<string, unknown>[];
    const read = mine.find((e) => e.jobId === jobA)!;
    expect(read).toMatchObject({
      method: 'GET',
      route: '/v1/jobs/:id',
      status: 200,
      via: 'api_key',
      scope: 'jobs:read',
    });
    // The key's prefix names the caller; the key itself is never stored.
    expect(h.keys.read.startsWith(String(read.actor))).toBe(true);
    expect(String(read.actor).length).toBeLessThan(h.keys.read.length);
    // The 404 for B's job is A's request, in A's trail, naming no job.
    expect(mine.filter((e) => e.status === 404 && e.route === '/v1/jobs/:id')).toHaveLength(1);
    expect(mine.find((e) => e.route === '/v1/jobs')).toMatchObject({ scope: 'admin', jobId: null });
    expect(mine.some((e) => e.jobId === jobB)).toBe(false);

    const b = await auditOf(h.keys.other, '?limit=200');
    const theirs = b.body.events as Record<string, unknown>[];
    expect(theirs.map((e) => e.jobId)).toContain(jobB);
    expect(theirs.some((e) => e.jobId === jobA)).toBe(false);
    // A's own audit read shows in A's trail only.
    expect(theirs.some((e) => e.route === '/v1/audit' && e.actor === mine[0]!.actor)).toBe(false);

    // What is stored, not only what is shown: no query string, no key, no body.
    const stored = await h.db.collection('tenants').doc(h.tenantA).collection('audit').get();
    const text = JSON.stringify(stored.docs.map((d) => d.data()));
    expect(stored.size).toBeGreaterThanOrEqual(4);
    for (const key of Object.values(h.keys)) expect(text).not.toContain(key);
    expect(text).not.toContain('hush');
    expect(text).not.toContain('secret');
    expect(text).not.toContain('limit=');
    for (const d of stored.docs) expect(d.get('expiresAt').toMillis() - d.get('at').toMillis()).toBe(400 * 86_400_000);
  });

  it('pages newest first with the cursor, every record exactly once, and filters by job and time', async () => {
    const job = await jobIn(h, 'QUEUED');
    const from = new Date();
    for (let i = 0; i < 7; i++) await get(`/v1/jobs/${job}`, h.keys.read).expect(200);
    await audit.flush();

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: request.Response = await auditOf(
        h.keys.admin,
        `?jobId=${job}&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.events.length).toBeLessThanOrEqual(3);
      seen.push(...(res.body.events as { id: string }[]).map((e) => e.id));
      cursor = res.body.nextCursor as string | null;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect([...seen].sort().reverse()).toEqual(seen);

    const all = await auditOf(h.keys.admin, `?since=${from.toISOString()}&limit=200`);
    const ids = (all.body.events as { id: string; jobId: string }[]).filter((e) => e.jobId === job).map((e) => e.id);
    expect(ids.sort()).toEqual([...seen].sort());
    const none = await auditOf(h.keys.admin, `?jobId=${job}&until=${from.toISOString()}`);
    expect(none.body.events).toEqual([]);

    // A cursor continues only the query it was made for; garbage is a 400.
    const first = await auditOf(h.keys.admin, `?jobId=${job}&limit=2`);
    await auditOf(h.keys.admin, `?limit=2&cursor=${first.body.nextCursor}`).then((r) => expect(r.status).toBe(400));
    await auditOf(h.keys.admin, '?cursor=bm90LWEtY3Vyc29y').then((r) => expect(r.status).toBe(400));
    await auditOf(h.keys.admin, '?limit=201').then((r) => expect(r.status).toBe(400));
  });

  it('is for admin keys only', async () => {
    const res = await auditOf(h.keys.readWrite);
    expect(res.status).toBe(403);
    await auditOf(h.keys.read).then((r) => expect(r.status).toBe(403));
  });

  it('a flush asked for while another is writing also writes what was buffered since', async () => {
    const trail = new AuditTrail(h.db, { flushIntervalMs: 60_000 });
    const input = {
      at: new Date(),
      requestId: 'f1',
      method: 'GET',
      route: null,
      jobId: null,
      status: 200,
      keyPrefix: 'aiprod_test_x',
      subject: null,
      via: 'api_key',
      scope: null,
    };
    trail.record('tenant-flush', input);
    const first = trail.flush(); // as the timer's flush, still writing f1...
    trail.record('tenant-flush', { ...input, requestId: 'f2' }); // ...when a request adds f2
    await trail.flush();
    const stored = await h.db.collection('tenants').doc('tenant-flush').collection('audit').get();
    expect(stored.docs.map((d) => d.get('requestId')).sort()).toEqual(['f1', 'f2']);
    await first;
    await trail.close();
  });

  it('drops and counts records when the buffer is full, without waiting', async () => {
    const problems: string[] = [];
    const tiny = new AuditTrail(h.db, { maxBuffered: 1, flushIntervalMs: 60_000, onProblem: (m) => problems.push(m) });
    const input = {
      at: new Date(),
      requestId: 'r1',
      method: 'GET',
      route: null,
      jobId: null,
      status: 200,
      keyPrefix: 'aiprod_test_x',
      subject: null,
      via: 'api_key',
      scope: null,
    };
    expect(tiny.record('tenant-drop', input)).toBe(true);
    expect(tiny.record('tenant-drop', { ...input, requestId: 'r2' })).toBe(false);
    expect(problems).toHaveLength(1);
    await tiny.close();
    const stored = await h.db.collection('tenants').doc('tenant-drop').collection('audit').get();
    expect(stored.docs.map((d) => d.get('requestId'))).toEqual(['r1']);
    expect(tiny.record('tenant-drop', { ...input, requestId: 'r3' })).toBe(false);
  });
});
