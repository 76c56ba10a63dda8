import { Timestamp } from '@google-cloud/firestore';
import type { ShotSpec } from '@aiprod/contracts';
import { aBrief, emulatorProject } from '@aiprod/testing';
import {
  HANDLED_RECORD_RETENTION_MS,
  IllegalTransitionError,
  MessageLedger,
  TenantStore,
  isWellFormedApiKey,
} from '../src';

const env = emulatorProject('jobstore', 'planner');
const { db, jobs: store } = env;
afterAll(() => env.close());

const brief = aBrief();
const spec = (i: number): ShotSpec => ({
  shotId: `s0${i}`,
  index: i,
  purpose: 'product',
  durationSeconds: 4,
  prompt: 'shoe',
  camera: 'static',
  palette: ['#000000', '#FFFFFF'],
  width: 320,
  height: 180,
  fps: 30,
});
let n = 0;
const newJob = () =>
  store.createJob({ jobId: `job${++n}${Date.now()}`, tenantId: 't1', brief, preset: 'social_quick' });
const plan = {
  director: 'local',
  shotIds: ['s01', 's02', 's03'],
  width: 320,
  height: 180,
  fps: 30,
  endCardSeconds: 2,
  estimatedCostUsd: 0,
};

describe('JobStore', () => {
  it('creates a QUEUED job with a deadline and a created event', async () => {
    const job = await newJob();
    const read = await store.getJob(job.jobId);
    expect(read?.status).toBe('QUEUED');
    expect(read?.deadlineAt).not.toBeNull();
    const events = await store.listEvents(job.jobId);
    expect(events.map((e) => e.type)).toEqual(['job.created']);
  });

  it('applies a transition once and reports redeliveries and lost races', async () => {
    const job = await newJob();
    const first = await store.transition(job.jobId, 'QUEUED', 'PLANNING');
    const again = await store.transition(job.jobId, 'QUEUED', 'PLANNING');
    const stale = await store.transition(job.jobId, 'QUEUED', 'CANCELED');
    expect(first.changed).toBe(true);
    expect(again).toMatchObject({ changed: false, why: 'already_there' });
    expect(stale).toMatchObject({ changed: false, why: 'state_mismatch' });
    expect((await store.getJob(job.jobId))?.version).toBe(2);
    expect((await store.listEvents(job.jobId)).map((e) => e.data.status)).toEqual(['QUEUED', 'PLANNING']);
  });

  it('throws on a transition the table does not allow', async () => {
    const job = await newJob();
    await expect(store.transition(job.jobId, 'QUEUED', 'DELIVERED')).rejects.toThrow(IllegalTransitionError);
  });

  it('applies concurrent compare-and-sets exactly once', async () => {
    const job = await newJob();
    const results = await Promise.all([1, 2, 3, 4].map(() => store.transition(job.jobId, 'QUEUED', 'PLANNING')));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    const events = await store.listEvents(job.jobId);
    expect(events.filter((e) => e.data.status === 'PLANNING')).toHaveLength(1);
  });

  it('saves a plan once even when asked twice', async () => {
    const job = await newJob();
    await store.transition(job.jobId, 'QUEUED', 'PLANNING');
    const shots = [1, 2, 3].map((i) => ({ spec: spec(i), backend: 'local' as const }));
    const first = await store.savePlan(job.jobId, plan, shots, 'RENDERING');
    const second = await store.savePlan(job.jobId, plan, shots, 'RENDERING');
    expect(first.changed).toBe(true);
    expect(second).toMatchObject({ changed: false, why: 'already_there' });
    expect((await store.listShots(job.jobId)).map((s) => s.shotId)).toEqual(['s01', 's02', 's03']);
  });

  it('requests assembly exactly once when the last shots pass at the same moment', async () => {
    const job = await newJob();
    await store.transition(job.jobId, 'QUEUED', 'PLANNING');
    await store.savePlan(
      job.jobId,
      plan,
      [1, 2, 3].map((i) => ({ spec: spec(i), backend: 'local' as const })),
      'RENDERING',
    );
    for (const id of ['s01', 's02', 's03']) {
      await store.transitionShot(job.jobId, id, 'PENDING', 'RENDERING');
      await store.transitionShot(job.jobId, id, 'RENDERING', 'RENDERED', (s) => ({
        attempts: { '1': { attempt: 1, backend: 'local', status: 'RENDERED', startedAt: s.updatedAt } },
      }));
    }
    const results = await Promise.all(['s01', 's02', 's03'].map((id) => store.passShot(job.jobId, id, 1, undefined)));
    expect(results.filter((r) => r.assemblyRequested)).toHaveLength(1);
    expect((await store.getJob(job.jobId))?.status).toBe('ASSEMBLING');
    const again = await store.passShot(job.jobId, 's01', 1, undefined);
    expect(again.assemblyRequested).toBe(false);
  }, 60_000);

  it('fails a job with a reason and never fails a terminal one', async () => {
    const job = await newJob();
    const failed = await store.fail(job.jobId, 'render_failed', 'vendor refused');
    expect(failed.changed).toBe(true);
    expect((await store.getJob(job.jobId))?.error).toMatchObject({
      reason: 'render_failed',
      message: 'vendor refused',
    });
    expect((await store.fail(job.jobId, 'internal', 'again')).changed).toBe(false);
  });

  it('fails a job only while the stored job meets the condition it is given', async () => {
    const job = await newJob();
    const stillQueued = (stored: { status: string }) => stored.status === 'QUEUED';
    await store.transition(job.jobId, 'QUEUED', 'PLANNING');
    const refused = await store.fail(job.jobId, 'deadline_exceeded', 'stale', { when: stillQueued });
    expect(refused).toMatchObject({ changed: false, why: 'state_mismatch' });
    expect((await store.getJob(job.jobId))?.status).toBe('PLANNING');
    const other = await newJob();
    expect((await store.fail(other.jobId, 'deadline_exceeded', 'due', { when: stillQueued })).changed).toBe(true);
    expect((await store.getJob(other.jobId))?.status).toBe('FAILED');
  });

  it('counts an attempt cost once', async () => {
    const job = await newJob();
    await store.addCost(job.jobId, 's01-a1', 0.5);
    await store.addCost(job.jobId, 's01-a1', 0.5);
    await store.addCost(job.jobId, 's02-a1', 0.25);
    expect((await store.getJob(job.jobId))?.costUsd).toBeCloseTo(0.75);
  });
});

describe('overdue jobs', () => {
  it('are found and claimed by exactly one of several sweepers', async () => {
    const job = await newJob();
    const past = Timestamp.fromMillis(Date.now() - 1000);
    await db.collection('jobs').doc(job.jobId).update({ deadlineAt: past });
    const now = Timestamp.now();
    expect((await store.overdueJobs(['QUEUED'], now)).map((j) => j.jobId)).toContain(job.jobId);
    expect((await store.overdueJobs(['PLANNING', 'RENDERING'], now)).map((j) => j.jobId)).not.toContain(job.jobId);
    const claims = await Promise.all([1, 2, 3].map(() => store.claimOverdue(job.jobId, 'QUEUED', now)));
    const won = claims.filter((c) => c !== null);
    expect(won).toHaveLength(1);
    expect(won[0]!.sweeps).toBe(1);
    expect(won[0]!.deadlineAt!.toMillis()).toBeGreaterThan(now.toMillis());
    expect((await store.overdueJobs(['QUEUED'], now)).map((j) => j.jobId)).not.toContain(job.jobId);
    expect((await store.listEvents(job.jobId)).map((e) => e.type)).toContain('job.overdue');
    expect(
      await store.claimOverdue(job.jobId, 'PLANNING', Timestamp.fromMillis(Date.now() + 10 * 3600_000)),
    ).toBeNull();
  });
});

describe('MessageLedger', () => {
  it('records a handled message with an expiry at its publish time plus the retention, kept on redelivery', async () => {
    const ledger = new MessageLedger(db, store);
    const publishTime = new Date(Date.now() - 3600_000);
    const handled = {
      subscription: 'aiprod.job.assemble.v1.delivery',
      topic: 'aiprod.job.assemble.v1',
      messageId: `m-expiry-${Date.now()}`,
      publishTime,
      outcome: 'handled' as const,
    };
    await ledger.recordHandled(handled);
    const read = async () =>
      (await ledger.listHandled(handled.subscription, { publishedFrom: publishTime })).messages.find(
        (m) => m.messageId === handled.messageId,
      )!;
    const first = await read();
    expect(HANDLED_RECORD_RETENTION_MS).toBe(7 * 24 * 3600_000);
    expect(first.expiresAt).toBeInstanceOf(Timestamp);
    expect(first.expiresAt.toMillis()).toBe(publishTime.getTime() + HANDLED_RECORD_RETENTION_MS);
    // The document the TTL policy applies to: collection group "handled" (terraform/modules/firestore).
    const doc = await db
      .collection('handledMessages')
      .doc(handled.subscription)
      .collection('handled')
      .doc(handled.messageId)
      .get();
    expect(doc.get('expiresAt')).toEqual(first.expiresAt);
    await ledger.recordHandled({ ...handled, outcome: 'failed_permanently' });
    const again = await read();
    expect(again).toMatchObject({ deliveriesHandled: 2, outcome: 'failed_permanently' });
    expect(again.expiresAt.toMillis()).toBe(first.expiresAt.toMillis());
  });

  it('records a dead letter once, however often it is told, and leaves failing the job to its caller', async () => {
    const ledger = new MessageLedger(db, store);
    const job = await newJob();
    const letter = {
      subscription: 'sub',
      topic: 'aiprod.job.requested.v1',
      messageId: 'm1',
      jobId: job.jobId,
      data: '{}',
    };
    await ledger.recordDeadLetter(letter);
    await ledger.recordDeadLetter(letter);
    expect((await ledger.listDeadLetters()).filter((d) => d.messageId === 'm1')).toHaveLength(1);
    // service-runtime's recordDeadLetter fails it through failJob, which also tells the client.
    expect((await store.getJob(job.jobId))?.status).toBe('QUEUED');
  });
});

describe('TenantStore', () => {
  it('stores only the hash of an API key, finds it, and forgets it once revoked', async () => {
    const tenants = new TenantStore(db);
    await tenants.createTenant({ tenantId: 'acme', name: 'Acme' });
    const { key } = await tenants.createApiKey('acme', ['jobs:read'], 'test');
    expect(isWellFormedApiKey(key)).toBe(true);
    const stored = await db.collection('apiKeys').get();
    expect(JSON.stringify(stored.docs.map((d) => d.data()))).not.toContain(key);
    expect((await tenants.findActiveApiKey(key))?.tenantId).toBe('acme');
    const tampered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect(await tenants.findActiveApiKey(tampered)).toBeNull();
    await tenants.revokeApiKey(key);
    expect(await tenants.findActiveApiKey(key)).toBeNull();
  });
});
