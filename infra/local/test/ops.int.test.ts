import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Timestamp } from '@google-cloud/firestore';
import type { Message } from '@google-cloud/pubsub';
import { defineHandler, startConsumer } from '@aiprod/pubsub';
import { CATALOGUE, subscriptionName, subscriptions, type TopicName } from '@aiprod/contracts';
import { recordingHandled } from '@aiprod/service-runtime';
import { aBrief, aShotSpec, emulatorProject, waitFor } from '@aiprod/testing';
import { countRedeliveries } from '../src/ops-replay';

/**
 * `aiprod ops …` run as an operator runs it, from the sources (tsx), against this suite's own
 * project on the test emulators; and the redelivery count against ledger records made by the
 * same wrapper the workers use.
 */
const env = emulatorProject('ops-cli', 'planner');
const { projectId, jobs, ledger, pubsub } = env;
const repoRoot = resolve(__dirname, '..', '..', '..');
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-ops-'));
const requested = subscriptionName('aiprod.job.requested.v1', 'planner');
const HOUR = 3600_000;

beforeAll(() => env.provision(), 60_000);
afterAll(async () => {
  rmSync(stateDir, { recursive: true, force: true });
  await env.close();
});

// The CLI's JSON, asserted on field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** Runs the CLI as a child process (never blocking this process's sockets, which the emulators answer on). */
function ops(
  ...args: string[]
): Promise<{ status: number | null; out: Json | null; err: Json | null; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'infra/local/src/cli.ts'), ...args], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PUBSUB_EMULATOR_HOST: env.hosts.pubsub,
        FIRESTORE_EMULATOR_HOST: env.hosts.firestore,
        GCP_PROJECT: projectId,
        AIPROD_STATE_DIR: stateDir,
        AIPROD_OPERATOR: 'ops@example.com',
        TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.test.json'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(killer);
      const parse = (t: string) => (t.trim().startsWith('{') ? (JSON.parse(t) as Json) : null);
      resolvePromise({ status, out: parse(stdout), err: parse(stderr), stdout });
    });
  });
}

/**
 * The ids of the messages a subscription delivers within `ms`, with no ack: what it would hand a
 * worker now. `ackIds` are acked (so they leave the backlog), everything else left for Pub/Sub.
 */
async function deliveredWithin(subscription: string, ms: number, ackIds: string[] = []): Promise<string[]> {
  const sub = pubsub.subscription(subscription, { flowControl: { maxMessages: 100, allowExcessMessages: false } });
  const ids = new Set<string>();
  sub.on('message', (m: Message) => {
    ids.add(m.id);
    if (ackIds.includes(m.id)) m.ack();
  });
  await new Promise((r) => setTimeout(r, ms));
  await sub.close();
  return [...ids];
}

describe('the redelivery count', () => {
  const sub = subscriptionName('aiprod.job.assemble.v1', 'delivery');
  const handled = (messageId: string, jobId: string, publishedMsAgo: number) =>
    ledger.recordHandled({
      subscription: sub,
      topic: 'aiprod.job.assemble.v1',
      messageId,
      jobId,
      publishTime: new Date(Date.now() - publishedMsAgo),
      outcome: 'handled',
    });

  it('counts the messages acked since the target time, once each, within the retention window', async () => {
    await handled('m-old', 'job_a', 2 * HOUR);
    await handled('m-new1', 'job_a', 10 * 60_000);
    await handled('m-new2', 'job_b', 60_000);
    await handled('m-new2', 'job_b', 60_000); // a redelivery of the same message: still one message
    await handled('m-gone', 'job_c', 7.5 * 24 * HOUR); // older than the retention: Pub/Sub has dropped it
    const lastHalfHour = await countRedeliveries(ledger, sub, { time: new Date(Date.now() - HOUR / 2) });
    expect(lastHalfHour.count).toBe(2);
    expect(lastHalfHour.jobs.sort((a, b) => a.jobId.localeCompare(b.jobId))).toEqual([
      { jobId: 'job_a', messages: 1 },
      { jobId: 'job_b', messages: 1 },
    ]);
    expect(lastHalfHour.basedOn).toMatch(/message ledger/);
    const tenDays = await countRedeliveries(ledger, sub, { time: new Date(Date.now() - 10 * 24 * HOUR) });
    expect(tenDays.count).toBe(3);
    expect(tenDays.basedOn).toMatch(/7-day retention/);
    // Other subscriptions' messages are not this one's.
    expect((await countRedeliveries(ledger, requested, { time: new Date(0) })).count).toBe(0);
  });

  it('counts from a snapshot only when our records say when it was taken', async () => {
    const unknown = await countRedeliveries(ledger, sub, { snapshot: 'made-elsewhere' });
    expect(unknown).toMatchObject({ count: null, jobs: [] });
    expect(unknown.basedOn).toMatch(/no count/);
    // Taken after the messages of the test before (first handled before it: acked in the snapshot).
    await new Promise((r) => setTimeout(r, 50));
    await ledger.recordSnapshot({
      name: 'snap-count',
      subscription: sub,
      createdAt: Timestamp.now(),
      operator: 'x',
    });
    await handled('m-after-snap', 'job_d', 5 * HOUR);
    const since = await countRedeliveries(ledger, sub, { snapshot: 'snap-count' });
    expect(since.count).toBe(1);
    expect(since.jobs).toEqual([{ jobId: 'job_d', messages: 1 }]);
  });
});

describe('aiprod ops on the emulators', () => {
  it('replays a handled message by seeking back, counts it, and records the replay on its job', async () => {
    const jobId = 'job_ops_seek1';
    await jobs.createJob({ jobId, tenantId: 't1', preset: 'social_quick', brief: aBrief() });
    const spec = subscriptions().find((s) => s.name === requested)!;
    const seen: string[] = [];
    const handler = defineHandler('aiprod.job.requested.v1', async (msg) => {
      seen.push(msg.jobId);
    });
    const consumer = startConsumer({
      pubsub,
      spec,
      handler: recordingHandled(handler, ledger),
      log: env.log,
      recorder: { invalidMessage: async () => undefined, permanentFailure: async () => undefined },
    });
    try {
      const before = new Date(Date.now() - 1000);
      await env.publisherFor('gateway').publish('aiprod.job.requested.v1', { v: 1, jobId, tenantId: 't1' });
      const first = await waitFor(
        async () => (await ledger.listHandled(requested, { publishedFrom: before })).messages[0],
        { timeoutMs: 15_000, what: 'the message handled and noted' },
      );
      expect(first).toMatchObject({ jobId, deliveriesHandled: 1, outcome: 'handled' });

      const dry = await ops('ops', 'replay', requested, '--to-time', before.toISOString(), '--dry-run', '--json');
      expect(dry.status).toBe(0);
      expect(dry.out!.replays[0]).toMatchObject({
        seeked: false,
        redeliveries: { count: 1, jobs: [{ jobId, messages: 1 }] },
      });

      const run = await ops('ops', 'replay', requested, '--to-time', before.toISOString(), '--json');
      expect(run.status).toBe(0);
      expect(run.out!.replays[0]).toMatchObject({ subscription: requested, seeked: true, recordedOn: [jobId] });
      // The emulator really redelivers the acked message (the subscription retains acked messages).
      await waitFor(() => (seen.length >= 2 ? true : undefined), { timeoutMs: 20_000, what: 'the redelivery' });
      await waitFor(
        async () =>
          (await ledger.listHandled(requested, { publishedFrom: before })).messages[0]!.deliveriesHandled === 2
            ? true
            : undefined,
        { timeoutMs: 10_000, what: 'the redelivery noted' },
      );
      const replayed = (await jobs.listEvents(jobId)).filter((e) => e.type === 'ops.replayed');
      expect(replayed).toHaveLength(1);
      expect(replayed[0]!.data).toMatchObject({
        subscription: requested,
        target: { time: before.toISOString() },
        operator: 'ops@example.com',
        messages: 1,
      });

      // Human output: a line per subscription with the count and what it is based on.
      const text = await ops('ops', 'replay', requested, '--to-time', before.toISOString(), '--dry-run');
      expect(text.stdout).toMatch(/would seek to .*; 1 message\(s\) of 1 job\(s\)/);
      expect(text.stdout).toMatch(/based on the message ledger/);
    } finally {
      await consumer.close();
    }
  }, 90_000);

  it('creates, lists and deletes snapshots, and seeks to one', async () => {
    const sub = subscriptionName('aiprod.job.approved.v1', 'planner');
    const made = await ops('ops', 'snapshot', 'create', sub, 'before-release-1', '--json');
    expect(made.status).toBe(0);
    expect(made.out).toMatchObject({ name: 'before-release-1', subscription: sub, createdBy: 'ops@example.com' });
    const again = await ops('ops', 'snapshot', 'create', sub, 'before-release-1', '--json');
    expect(again.status).toBe(1);
    expect(again.err!.type).toMatch(/conflict/);
    const listed = await ops('ops', 'snapshot', 'list', '--json');
    // Besides this one, the undo snapshots that earlier replays took (recorded as theirs).
    expect((listed.out!.snapshots as Json[]).filter((r) => !String(r.name).startsWith('aiprod-undo-'))).toEqual([
      expect.objectContaining({ name: 'before-release-1', subscription: sub, topic: 'aiprod.job.approved.v1' }),
    ]);
    const seek = await ops('ops', 'replay', sub, '--to-snapshot', 'before-release-1', '--json');
    expect(seek.status).toBe(0);
    expect(seek.out!.replays[0]).toMatchObject({ seeked: true, redeliveries: { count: 0 } });
    const undo = seek.out!.replays[0].undoSnapshot as string;
    const relisted = await ops('ops', 'snapshot', 'list', '--json');
    expect(relisted.out!.snapshots).toContainEqual(
      expect.objectContaining({ name: undo, subscription: sub, createdBy: 'ops@example.com' }),
    );
    expect((await ops('ops', 'snapshot', 'delete', 'before-release-1', '--json')).out).toEqual({
      deleted: 'before-release-1',
    });
    const gone = await ops('ops', 'snapshot', 'delete', 'before-release-1', '--json');
    expect(gone.status).toBe(1);
    expect(gone.err!.type).toMatch(/not-found/);
  }, 90_000);

  it('shows a job timeline in time order and re-emits a stage, recording it', async () => {
    const jobId = 'job_ops_timeline';
    await jobs.createJob({ jobId, tenantId: 't1', preset: 'social_quick', brief: aBrief() });
    await jobs.transition(jobId, 'QUEUED', 'PLANNING');
    await jobs.addCost(jobId, 'shot_1:1:1', 0.5, { backend: 'runway', outcome: 'succeeded' });
    const published = await env.collect(['aiprod.job.requested.v1']);
    const replay = await ops('ops', 'job', 'replay', jobId, '--from', 'requested', '--json');
    expect(replay.status).toBe(0);
    expect(replay.out).toMatchObject({ stage: 'requested', published: [{ topic: 'aiprod.job.requested.v1' }] });
    await waitFor(() => published('aiprod.job.requested.v1').find((m) => m.jobId === jobId), {
      timeoutMs: 10_000,
      what: 'the re-emitted request',
    });
    const timeline = await ops('ops', 'job', 'timeline', jobId, '--json');
    expect(timeline.status).toBe(0);
    const entries = timeline.out!.entries as { at: string; kind: string; what: string }[];
    expect(entries.map((e) => e.what)).toEqual(['job.created', 'job.status', 'cost', 'ops.job_replayed']);
    expect([...entries].sort((a, b) => a.at.localeCompare(b.at))).toEqual(entries);
    expect(timeline.out!.job).toMatchObject({ status: 'PLANNING', costUsd: 0.5 });
    const missing = await ops('ops', 'job', 'timeline', 'job_nope', '--json');
    expect(missing.status).toBe(1);
    expect(missing.err!.type).toMatch(/not-found/);
  }, 60_000);

  it('a seek to a time drops the unacked backlog published before it; the undo snapshot it printed brings it back', async () => {
    // A subscription nobody consumes in this suite: its message stays unacked, as one in retry
    // backoff or held by a long render would be.
    const sub = subscriptionName('aiprod.job.finished.v1', 'delivery');
    const messageId = await env
      .publisherFor('delivery')
      .publish('aiprod.job.finished.v1', { v: 1, jobId: 'job_ops_backlog', tenantId: 't1', status: 'DELIVERED' });
    await new Promise((r) => setTimeout(r, 1500));
    const to = new Date(Date.now() - 500); // after its publish time, not in the future

    const run = await ops('ops', 'replay', sub, '--to-time', to.toISOString(), '--json');
    expect(run.status).toBe(0);
    const replay = run.out!.replays[0] as Json;
    expect(replay).toMatchObject({ seeked: true, redeliveries: { count: 0 } });
    expect(replay.undoSnapshot).toMatch(/^aiprod-undo-job-finished-v1-delivery-\d{8}t\d{9}z$/);
    expect(replay.note).toMatch(/not yet acknowledged .* are acknowledged by the seek/);
    expect(replay.note).toContain(`ops replay ${sub} --to-snapshot ${replay.undoSnapshot}`);
    // The seek acknowledged it: Pub/Sub no longer delivers it.
    expect(await deliveredWithin(sub, 3000)).toEqual([]);

    const back = await ops('ops', 'replay', sub, '--to-snapshot', replay.undoSnapshot as string, '--json');
    expect(back.status).toBe(0);
    expect(back.out!.replays[0]).toMatchObject({ seeked: true, target: { snapshot: replay.undoSnapshot } });
    expect(await deliveredWithin(sub, 3000, [messageId])).toEqual([messageId]);

    // The human output names the way back too.
    const text = await ops('ops', 'replay', sub, '--to-time', new Date(Date.now() - 100).toISOString());
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/undo: aiprod ops replay \S+ --to-snapshot aiprod-undo-job-finished-v1-delivery-/);
  }, 90_000);

  it('refuses to replay the approval or the render requests of a job its client has not approved', async () => {
    const jobId = 'job_ops_unapproved';
    await jobs.createJob({ jobId, tenantId: 't1', preset: 'brand_campaign', brief: aBrief() });
    await jobs.transition(jobId, 'QUEUED', 'PLANNING');
    const spec = aShotSpec({ durationSeconds: 6 });
    const plan = { director: 'test', shotIds: [spec.shotId], width: 1280, height: 720, fps: 30, endCardSeconds: 0 };
    await jobs.savePlan(jobId, { ...plan, estimatedCostUsd: 40 }, [{ spec, backend: 'runway' }], 'AWAITING_APPROVAL');
    const topics = Object.keys(CATALOGUE) as TopicName[];
    const published = await env.collect(topics);

    for (const stage of ['approved', 'render']) {
      const replay = await ops('ops', 'job', 'replay', jobId, '--from', stage, '--json');
      expect(replay.status).toBe(1);
      expect(replay.err).toMatchObject({ type: '/problems/conflict', exitCode: 1 });
      expect(replay.err!.detail).toMatch(/AWAITING_APPROVAL/);
    }
    // Nothing reached a topic (given the time a publish takes to arrive), and nothing changed.
    await new Promise((r) => setTimeout(r, 2000));
    expect(topics.flatMap((t) => published(t)).filter((m) => m.jobId === jobId)).toEqual([]);
    expect((await jobs.getJob(jobId))!.status).toBe('AWAITING_APPROVAL');
    expect((await jobs.listShots(jobId)).map((s) => [s.status, Object.keys(s.attempts)])).toEqual([['PENDING', []]]);
    expect((await jobs.listEvents(jobId)).map((e) => e.type)).not.toContain('ops.job_replayed');

    // Once the client has approved (the planner's move records it), both may be replayed.
    await jobs.transition(jobId, 'AWAITING_APPROVAL', 'RENDERING', {
      event: { type: 'job.approved', data: { approver: 'client' } },
    });
    for (const stage of ['approved', 'render']) {
      const replay = await ops('ops', 'job', 'replay', jobId, '--from', stage, '--dry-run', '--json');
      expect(replay.status).toBe(0);
      expect(replay.out).toMatchObject({ stage, status: 'RENDERING', published: [expect.anything()] });
    }
  }, 90_000);

  it('refuses to replay an approval that never happened: a job under its auto-approve limit', async () => {
    const jobId = 'job_ops_autoapproved';
    await jobs.createJob({ jobId, tenantId: 't1', preset: 'social_quick', brief: aBrief() });
    await jobs.transition(jobId, 'QUEUED', 'PLANNING');
    await jobs.transition(jobId, 'PLANNING', 'RENDERING');
    const replay = await ops('ops', 'job', 'replay', jobId, '--from', 'approved', '--json');
    expect(replay.status).toBe(1);
    expect(replay.err).toMatchObject({ type: '/problems/conflict' });
    expect(replay.err!.detail).toMatch(/never approved/);
  }, 30_000);

  it('lists no dead letters on a clean project, and keeps the old "aiprod replay" name working', async () => {
    const list = await ops('ops', 'dlq', 'list', '--json');
    expect(list).toMatchObject({ status: 0, out: { deadLetters: [] } });
    const old = await ops('replay', requested, '--dry-run', '--wait-seconds', '1');
    expect(old.status).toBe(0);
    expect(old.out).toMatchObject({ subscription: requested, dryRun: true, letters: [] });
    // Its errors are problem documents now, as the runbook says (no longer {"error":{code,message}}).
    const wrong = await ops('replay', requested, '--limit', '0');
    expect(wrong.status).toBe(2);
    expect(wrong.err).toMatchObject({ type: '/problems/validation', exitCode: 2 });
    expect(wrong.err).not.toHaveProperty('error');
  }, 60_000);
});

describe('argument errors: exit 2 with a problem document, before anything is touched', () => {
  it.each([
    [['ops', 'replay', requested], /exactly one of --to-time and --to-snapshot/],
    [['ops', 'replay', requested, '--to-time', '2026-12-07 10:00'], /ISO 8601 time with its zone/],
    [['ops', 'replay', requested, '--to-time', '2999-01-01T00:00:00Z'], /in the future/],
    [['ops', 'replay', 'aiprod.nope.v1.planner', '--to-time', '2026-01-01T00:00:00Z'], /unknown subscription/],
    [['ops', 'replay', requested, '--to-snapshot', 'x'], /not a valid snapshot name/],
    [['ops', 'replay'], /missing required argument/],
    [['ops', 'snapshot', 'create', requested], /missing required argument/],
    [['ops', 'dlq', 'list', '--limit', '0'], /--limit must be a whole number/],
    [['ops', 'dlq', 'redrive', requested, '--wait-seconds', '900'], /--wait-seconds/],
    [['ops', 'job', 'replay', 'job_x'], /required option '--from/],
    [['ops', 'job', 'replay', 'job_x', '--from', 'nowhere'], /--from must be one of requested, approved/],
    [['ops', 'job', 'timeline', 'job_x', '--colour'], /unknown option/],
  ])(
    '%j',
    async (args, detail) => {
      const result = await ops(...args, '--json');
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.err).toMatchObject({
        type: '/problems/validation',
        exitCode: 2,
        detail: expect.stringMatching(detail),
      });
    },
    30_000,
  );
});
