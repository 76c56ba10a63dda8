import { deadLetterTopicName, subscriptionName } from '@aiprod/contracts';
import { aBrief, emulatorProject, waitFor } from '@aiprod/testing';
import { replayDeadLetters } from '../src/replay';

const env = emulatorProject('replay', 'planner');
const { pubsub, jobs } = env;
let published: Awaited<ReturnType<typeof env.collect>> = () => [];
const requested = () => published('aiprod.job.requested.v1');
const subscription = subscriptionName('aiprod.job.requested.v1', 'planner');

beforeAll(async () => {
  await env.provision();
  published = await env.collect(['aiprod.job.requested.v1']);
}, 60_000);
afterAll(() => env.close());

/** A job failed by a dead letter, and the letter on the hold subscription, as Pub/Sub leaves them. */
async function deadLettered(jobId: string): Promise<void> {
  await jobs.createJob({
    jobId,
    tenantId: 't1',
    preset: 'social_quick',
    brief: aBrief(),
  });
  await jobs.fail(jobId, 'dead_lettered', 'job.requested was not handled after 5 attempts');
  await pubsub.topic(deadLetterTopicName(subscription)).publishMessage({
    json: { v: 1, jobId, tenantId: 't1' },
    attributes: { jobId, CloudPubSubDeadLetterSourceMessageId: `m-${jobId}` },
  });
}

describe('replaying dead letters', () => {
  it('a dry run lists the letters and changes nothing; a replay reopens the job and publishes the message again, once', async () => {
    await deadLettered('job_replay1');
    await deadLettered('job_replay2');
    const common = { pubsub, jobs, subscription, operator: 'ops@example.com', limit: 10, waitMs: 2_000 };

    const dry = await replayDeadLetters({ ...common, dryRun: true });
    expect(dry.map((l) => [l.jobId, l.outcome]).sort()).toEqual([
      ['job_replay1', 'would_replay'],
      ['job_replay2', 'would_replay'],
    ]);
    expect((await jobs.getJob('job_replay1'))!.status).toBe('FAILED');

    const one = await replayDeadLetters({ ...common, dryRun: false, jobId: 'job_replay1' });
    expect(one.find((l) => l.jobId === 'job_replay1')).toMatchObject({
      outcome: 'replayed',
      job: { from: 'FAILED', to: 'QUEUED' },
    });
    expect(one.find((l) => l.jobId === 'job_replay2')?.outcome).toBe('skipped');
    const job = (await jobs.getJob('job_replay1'))!;
    expect(job.status).toBe('QUEUED');
    expect(job.error).toBeUndefined();
    const replayed = (await jobs.listEvents('job_replay1')).find((e) => e.type === 'job.replayed');
    expect(replayed?.data).toMatchObject({ subscription, operator: 'ops@example.com', messageId: 'm-job_replay1' });
    await waitFor(() => requested().find((m) => m.jobId === 'job_replay1'), {
      timeoutMs: 10_000,
      what: 'the replayed request',
    });

    // The replayed letter is gone from hold; the other is still there.
    const again = await replayDeadLetters({ ...common, dryRun: true });
    expect(again.map((l) => l.jobId)).toEqual(['job_replay2']);
    expect(requested().filter((m) => m.jobId === 'job_replay1')).toHaveLength(1);
  }, 60_000);

  it('reopens a job its sweeper failed after a dead letter was left to it (superseded), and no other', async () => {
    // A paid job's dead-lettered assembly is left to the ASSEMBLING sweeper, which fails the job
    // with deadline_exceeded after its last nudge: the letter must still bring it back.
    for (const jobId of ['job_replay_swept', 'job_replay_late']) {
      await jobs.createJob({ jobId, tenantId: 't1', preset: 'social_quick', brief: aBrief() });
      await pubsub.topic(deadLetterTopicName(subscription)).publishMessage({
        json: { v: 1, jobId, tenantId: 't1' },
        attributes: { jobId, CloudPubSubDeadLetterSourceMessageId: `m-${jobId}` },
      });
      await jobs.fail(jobId, 'deadline_exceeded', 'the job stayed QUEUED past its deadline (2 nudges)');
    }
    await jobs.appendEvent('job_replay_swept', {
      key: 'dead-letter-superseded-m-job_replay_swept',
      type: 'message.superseded',
      data: { step: 'planning', why: 'left to the sweeper' },
    });
    const common = { pubsub, jobs, subscription, operator: 'ops@example.com', limit: 10, waitMs: 2_000 };
    const swept = await replayDeadLetters({ ...common, dryRun: false, jobId: 'job_replay_swept' });
    expect(swept.find((l) => l.jobId === 'job_replay_swept')).toMatchObject({
      outcome: 'replayed',
      job: { from: 'FAILED', to: 'QUEUED' },
    });
    expect((await jobs.getJob('job_replay_swept'))!.status).toBe('QUEUED');
    // Failed by its deadline with no letter of its own left to the sweeper: not this letter's job.
    const late = await replayDeadLetters({ ...common, dryRun: false, jobId: 'job_replay_late' });
    expect(late.find((l) => l.jobId === 'job_replay_late')).toMatchObject({
      job: { unchanged: 'FAILED', why: 'the job was not failed by a dead letter' },
    });
  }, 60_000);

  it('refuses a subscription the catalogue does not have', async () => {
    await expect(
      replayDeadLetters({ pubsub, jobs, subscription: 'nope', operator: 'x', limit: 1, dryRun: true, waitMs: 10 }),
    ).rejects.toThrow(/unknown subscription nope/);
  });
});
