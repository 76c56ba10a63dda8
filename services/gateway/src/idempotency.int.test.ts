import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { Timestamp } from '@google-cloud/firestore';
import { IdempotencyStore } from '@aiprod/job-store';
import { emulatorProject } from '@aiprod/testing';
import { canonicalJson, idempotent } from './idempotency';
import { HttpProblem, sendProblem } from './problem';

const env = emulatorProject('gw-idem', 'gateway');
const { db } = env;
afterAll(() => env.close());

/** A tiny API: POST /jobs creates a "job" (counted), after an optional delay or failure. */
function testApp(store: IdempotencyStore) {
  let created = 0;
  const app = express();
  app.use(express.json());
  app.use((req, _res, next) => {
    req.requestId = 'r';
    req.principal = { tenantId: req.get('x-tenant') ?? 't1', scopes: ['jobs:write'], keyPrefix: 'k', via: 'api_key' };
    next();
  });
  app.post('/v1/jobs', idempotent(store), async (req, res) => {
    const delay = Number(req.body?.delayMs ?? 0);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (req.body?.fail === 'crash') throw new Error('boom');
    if (req.body?.fail === 'invalid') throw new HttpProblem('validation', 'bad brief');
    created++;
    const id = `job_${created}`;
    res.status(202).location(`/v1/jobs/${id}`).json({ jobId: id, n: created });
  });
  app.post('/v1/jobs/:id/cancel', idempotent(store), (req, res) => void res.json({ canceled: req.params.id }));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const problem = error instanceof HttpProblem ? error : new HttpProblem('internal', 'internal error');
    sendProblem(res, problem, req.path, req.requestId);
  });
  return { app, created: () => created };
}

const store = new IdempotencyStore(db);

describe('idempotent()', () => {
  it('replays the stored response (status, body, Location) for the same key and body', async () => {
    const { app, created } = testApp(store);
    const first = await request(app)
      .post('/v1/jobs')
      .set('Idempotency-Key', 'k-replay')
      .send({ a: 1, b: [1, 2] });
    expect(first.status).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // Same body with keys in another order: the same request.
    const again = await request(app)
      .post('/v1/jobs')
      .set('Idempotency-Key', 'k-replay')
      .send({ b: [1, 2], a: 1 });
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.headers['content-type']).toMatch(/application\/json/);
    expect(again.body).toEqual(first.body);
    expect(created()).toBe(1);
  });

  it('answers 422 for the same key with another body or another path', async () => {
    const { app, created } = testApp(store);
    await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-mismatch').send({ a: 1 }).expect(202);
    const other = await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-mismatch').send({ a: 2 });
    expect(other.status).toBe(422);
    expect(other.body.type).toBe('/problems/idempotency-mismatch');
    const path = await request(app).post('/v1/jobs/job_1/cancel').set('Idempotency-Key', 'k-mismatch').send({ a: 1 });
    expect(path.status).toBe(422);
    expect(created()).toBe(1);
  });

  it('answers 409 to a retry while the first is in flight, then replays', async () => {
    const { app, created } = testApp(store);
    const slow = request(app).post('/v1/jobs').set('Idempotency-Key', 'k-slow').send({ delayMs: 600 });
    const pending = slow.then((r) => r);
    await new Promise((r) => setTimeout(r, 200));
    const during = await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-slow').send({ delayMs: 600 });
    expect(during.status).toBe(409);
    expect(during.body.type).toBe('/problems/idempotency-conflict');
    expect(Number(during.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const first = await pending;
    expect(first.status).toBe(202);
    const after = await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-slow').send({ delayMs: 600 });
    expect(after.headers['idempotent-replayed']).toBe('true');
    expect(after.body).toEqual(first.body);
    expect(created()).toBe(1);
  });

  it('two concurrent requests with one key: the job is created once, the other gets 409 or the same answer', async () => {
    const { app, created } = testApp(store);
    const send = () => request(app).post('/v1/jobs').set('Idempotency-Key', 'k-race').send({ x: 'same', delayMs: 50 });
    const results = await Promise.all([send(), send(), send(), send()]);
    const ok = results.filter((r) => r.status === 202);
    expect(created()).toBe(1);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of ok) expect(r.body).toEqual(ok[0]!.body);
    for (const r of results) expect([202, 409]).toContain(r.status);
  });

  it('a 5xx first attempt releases the key; a 4xx outcome is kept', async () => {
    const { app, created } = testApp(store);
    const crash = await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-crash').send({ fail: 'crash' });
    expect(crash.status).toBe(500);
    // Same key, other body is fine now: nothing was kept.
    const retry = await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-crash').send({ fixed: true });
    expect(retry.status).toBe(202);
    expect(created()).toBe(1);

    const invalid = await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-400').send({ fail: 'invalid' });
    expect(invalid.status).toBe(400);
    const replay = await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-400').send({ fail: 'invalid' });
    expect(replay.status).toBe(400);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.type).toBe('application/problem+json');
  });

  it('keys are per tenant, validated, optional, and expire', async () => {
    const { app, created } = testApp(store);
    await request(app).post('/v1/jobs').set('Idempotency-Key', 'k-shared').send({}).expect(202);
    const other = await request(app).post('/v1/jobs').set('x-tenant', 't2').set('Idempotency-Key', 'k-shared').send({});
    expect(other.status).toBe(202);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(created()).toBe(2);

    expect((await request(app).post('/v1/jobs').set('Idempotency-Key', 'x'.repeat(256)).send({})).status).toBe(400);
    expect((await request(app).post('/v1/jobs').set('Idempotency-Key', 'caf\u00e9').send({})).status).toBe(400);
    expect((await request(app).post('/v1/jobs').set('Idempotency-Key', 'a/b c~!').send({})).status).toBe(202);

    await request(app).post('/v1/jobs').send({}).expect(202);
    await request(app).post('/v1/jobs').send({}).expect(202);
    expect(created()).toBe(5);

    // A record older than its expiry is ignored (the emulator has no TTL): the request runs again.
    const shortLived = new IdempotencyStore(db, { ttlMs: 1 });
    const { app: app2, created: created2 } = testApp(shortLived);
    await request(app2).post('/v1/jobs').set('Idempotency-Key', 'k-expiring').send({}).expect(202);
    await new Promise((r) => setTimeout(r, 20));
    const rerun = await request(app2).post('/v1/jobs').set('Idempotency-Key', 'k-expiring').send({});
    expect(rerun.headers['idempotent-replayed']).toBeUndefined();
    expect(created2()).toBe(2);
  });

  it('takes over a key whose first attempt died holding it; the dead attempt cannot overwrite', async () => {
    // Long enough that the second begin lands inside the lock even on a loaded machine.
    const s = new IdempotencyStore(db, { lockMs: 1_500 });
    const dead = await s.begin('t1', 'k-dead', 'h1');
    expect(dead.kind).toBe('started');
    expect((await s.begin('t1', 'k-dead', 'h1')).kind).toBe('in_flight');
    await new Promise((r) => setTimeout(r, 1_600));
    const taker = await s.begin('t1', 'k-dead', 'h1');
    expect(taker.kind).toBe('started');
    if (dead.kind !== 'started' || taker.kind !== 'started') throw new Error('unreachable');
    expect(await s.complete('t1', 'k-dead', dead.lease, { status: 200, body: 'stale', headers: {} })).toBe(false);
    expect(await s.complete('t1', 'k-dead', taker.lease, { status: 201, body: 'fresh', headers: {} })).toBe(true);
    const replay = await s.begin('t1', 'k-dead', 'h1');
    expect(replay).toEqual({ kind: 'replay', response: { status: 201, body: 'fresh', headers: {} } });
    const doc = (await db.collection('idempotency').where('key', '==', 'k-dead').get()).docs[0]!;
    expect(doc.id.startsWith('t1:')).toBe(true);
    expect(doc.get('expiresAt')).toBeInstanceOf(Timestamp);
  });
});

describe('idempotent() on shutdown', () => {
  it('a key freed after a streamed answer is freed before close() returns, even when the write is slow', async () => {
    // A release that takes a while, so it is still running when the shutdown begins.
    let released = 0;
    const slow = Object.create(store) as IdempotencyStore;
    slow.release = async (...args: Parameters<IdempotencyStore['release']>) => {
      await new Promise((r) => setTimeout(r, 300));
      const held = await store.release(...args);
      released += 1;
      return held;
    };
    const middleware = idempotent(slow);
    const app = express();
    app.use(express.json());
    app.use((req, _res, next) => {
      req.requestId = 'r';
      req.principal = { tenantId: 't-close', scopes: ['jobs:write'], keyPrefix: 'k', via: 'api_key' };
      next();
    });
    // Ended without send() (a stream): it cannot be replayed, so the key is freed after 'finish'.
    app.post('/v1/exports', middleware, (_req, res) => void res.status(200).end('streamed'));

    const answer = await request(app).post('/v1/exports').set('Idempotency-Key', 'k-close').send({});
    expect(answer.status).toBe(200);
    expect(released).toBe(0);
    // What main.ts does once the listener has closed: the release begun just before is awaited.
    await middleware.close();
    expect(released).toBe(1);
    const begun = await store.begin('t-close', 'k-close', 'another request');
    expect(begun.kind).toBe('started');
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps arrays in order', () => {
    expect(canonicalJson({ b: { d: 1, c: [3, { f: 1, e: 2 }] }, a: null })).toBe(
      '{"a":null,"b":{"c":[3,{"e":2,"f":1}],"d":1}}',
    );
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });
});
