import { deadLetterTopicName, subscriptionName } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import { EstimateStore } from '@aiprod/job-store';
import { aBrief, emulatorProject, waitFor } from '@aiprod/testing';
import { createCoreDeps, recordDeadLetter, runWorkerService, type RunningService } from '../src';

const env = emulatorProject('deadletters', 'delivery');
const { pubsub, jobs, ledger, publisher, log } = env;
let published: Awaited<ReturnType<typeof env.collect>> = () => [];
const requested = subscriptionName('aiprod.job.requested.v1', 'planner');
const brief = aBrief();

let service: RunningService | undefined;
beforeAll(async () => {
  await env.provision();
  // Stands in for the notifier: what a client's webhook and event stream are told.
  published = await env.collect(['aiprod.job.finished.v1']);
  // A planner whose handlers are never reached: only its dead-letter watchers matter here.
  const never = async () => {
    throw new Error('not in this test');
  };
  service = await runWorkerService({
    service: 'planner',
    deps: createCoreDeps('planner', { projectId: env.projectId, log }),
    handlers: {
      'aiprod.job.requested.v1': defineHandler('aiprod.job.requested.v1', never),
      'aiprod.job.approved.v1': defineHandler('aiprod.job.approved.v1', never),
      'aiprod.plan.changes.requested.v1': defineHandler('aiprod.plan.changes.requested.v1', never),
      'aiprod.estimate.requested.v1': defineHandler('aiprod.estimate.requested.v1', never),
    },
    port: 0,
    host: '127.0.0.1',
  });
}, 60_000);
afterAll(async () => {
  await service?.close();
  await env.close();
});

const newJob = async (jobId: string) => {
  await jobs.createJob({ jobId, tenantId: 't1', brief, preset: 'social_quick' });
  await jobs.transition(jobId, 'QUEUED', 'PLANNING');
};
const finishedFor = (jobId: string) => published('aiprod.job.finished.v1').filter((m) => m.jobId === jobId);

/** A letter as Pub/Sub forwards it after the last delivery attempt: the original body and attributes. */
const deadLetter = (jobId: string, sourceMessageId: string, subscription = requested) =>
  pubsub.topic(deadLetterTopicName(subscription)).publishMessage({
    json: { v: 1, jobId, tenantId: 't1' },
    attributes: { jobId, CloudPubSubDeadLetterSourceMessageId: sourceMessageId },
  });

describe('a dead letter', () => {
  it('fails its job with dead_lettered through the usual failure path, so job.finished is published; a second copy only publishes again', async () => {
    const jobId = 'job_dead1';
    await newJob(jobId);
    await deadLetter(jobId, 'source-1');

    const first = await waitFor(() => finishedFor(jobId)[0], { timeoutMs: 20_000, what: 'job.finished' });
    expect(first).toEqual({ v: 1, jobId, tenantId: 't1', status: 'FAILED' });
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.reason).toBe('dead_lettered');
    expect(job.error?.message).toMatch(/^planning could not be completed/);
    // What the client reads names no subscription.
    expect(job.error?.message).not.toContain(requested);
    const letters = await ledger.listDeadLetters();
    expect(letters.filter((l) => l.jobId === jobId)).toEqual([
      expect.objectContaining({ subscription: requested, topic: 'aiprod.job.requested.v1', messageId: 'source-1' }),
    ]);

    // The same letter again (a redelivery of the dead letter): same state, announced again.
    await deadLetter(jobId, 'source-1');
    await waitFor(() => finishedFor(jobId)[1], { timeoutMs: 20_000, what: 'the second job.finished' });
    const again = (await jobs.getJob(jobId))!;
    expect(again.version).toBe(job.version);
    expect(again.error).toEqual(job.error);
    expect((await jobs.listEvents(jobId)).filter((e) => e.type === 'job.failed')).toHaveLength(1);
    expect((await ledger.listDeadLetters()).filter((l) => l.jobId === jobId)).toHaveLength(1);
  }, 60_000);

  it('of job.finished itself is recorded but not announced again, so a broken notifier cannot loop', async () => {
    const jobId = 'job_dead2';
    await newJob(jobId);
    await jobs.fail(jobId, 'render_failed', 'test');
    const deps = { jobs, ledger, publisher };
    await recordDeadLetter(deps, {
      subscription: subscriptionName('aiprod.job.finished.v1', 'delivery'),
      topic: 'aiprod.job.finished.v1',
      messageId: 'source-2',
      jobId,
      data: '{}',
    });
    // A letter of another topic for the same job, as a control: that one is announced.
    await recordDeadLetter(deps, {
      subscription: requested,
      topic: 'aiprod.job.requested.v1',
      messageId: 'source-3',
      jobId,
      data: '{}',
    });
    await waitFor(() => finishedFor(jobId)[0], { timeoutMs: 20_000, what: 'the control job.finished' });
    expect((await ledger.listDeadLetters()).filter((l) => l.jobId === jobId)).toHaveLength(2);
    // Only the control's announcement arrived (Pub/Sub delivers both within the same wait, if both were sent).
    await new Promise((r) => setTimeout(r, 1_000));
    expect(finishedFor(jobId)).toHaveLength(1);
    expect((await jobs.getJob(jobId))!.error?.reason).toBe('render_failed');
  }, 60_000);

  it('that another message has superseded is recorded and noted on the timeline, and fails nothing', async () => {
    const jobId = 'job_dead3';
    await newJob(jobId);
    const deps = { jobs, ledger, publisher };
    const letter = {
      subscription: requested,
      topic: 'aiprod.job.requested.v1' as const,
      messageId: 'source-4',
      jobId,
      data: '{}',
    };
    await recordDeadLetter(deps, letter, async () => 'another delivery is rendering the attempt');
    expect((await jobs.getJob(jobId))!.status).toBe('PLANNING');
    expect((await ledger.listDeadLetters()).filter((l) => l.jobId === jobId)).toHaveLength(1);
    const notes = (await jobs.listEvents(jobId)).filter((e) => e.type === 'message.superseded');
    expect(notes).toEqual([
      expect.objectContaining({ data: { step: 'planning', why: 'another delivery is rendering the attempt' } }),
    ]);
    // Not superseded: the same letter fails the job as usual.
    await recordDeadLetter(deps, { ...letter, messageId: 'source-5' }, async () => null);
    expect((await jobs.getJob(jobId))!.error?.reason).toBe('dead_lettered');
  }, 60_000);

  it('of an estimate request answers the estimate FAILED, so its client is not left waiting on PENDING', async () => {
    const estimates = new EstimateStore(env.db);
    const estimateId = 'est_0123456789abcdef01234567';
    await estimates.createOnce({ estimateId, tenantId: 't1', brief, preset: 'social_quick' });
    await deadLetter(estimateId, 'source-est', subscriptionName('aiprod.estimate.requested.v1', 'planner'));

    const answered = await waitFor(
      async () => {
        const record = await estimates.get(estimateId);
        return record?.status === 'FAILED' ? record : undefined;
      },
      { timeoutMs: 20_000, what: 'the estimate answered FAILED' },
    );
    expect(answered.reason).toMatch(/^the brief could not be planned: its request \(source-est\) was not handled/);
    expect((await ledger.listDeadLetters()).filter((l) => l.jobId === estimateId)).toHaveLength(1);
    // No job is named, so no job.finished is announced.
    await new Promise((r) => setTimeout(r, 500));
    expect(finishedFor(estimateId)).toEqual([]);

    // An estimate already answered keeps its answer.
    const readyId = 'est_fedcba9876543210fedcba98';
    await estimates.createOnce({ estimateId: readyId, tenantId: 't1', brief, preset: 'social_quick' });
    await estimates.answer(readyId, { status: 'READY', estimate: { totalUsd: 1 } });
    await recordDeadLetter(
      { jobs, ledger, publisher },
      {
        subscription: subscriptionName('aiprod.estimate.requested.v1', 'planner'),
        topic: 'aiprod.estimate.requested.v1',
        messageId: 'source-est-2',
        jobId: readyId,
        data: '{}',
      },
    );
    expect(await estimates.get(readyId)).toMatchObject({ status: 'READY', estimate: { totalUsd: 1 } });
  }, 60_000);
});
