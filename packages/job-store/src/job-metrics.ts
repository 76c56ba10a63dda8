import type { Timestamp } from '@google-cloud/firestore';
import { isTerminal, presetOf } from '@aiprod/contracts';
import { count, observe } from '@aiprod/observability';
import type { Job } from './types';

/** The job was created: the top of the funnel. */
export function recordJobCreated(job: Job): void {
  count('jobTransitions', { from: 'NONE', to: job.status, preset: job.preset });
}

/**
 * One committed state change: the funnel, the time spent in the state left, and for a terminal
 * state the job's production time against its preset's delivery deadline. Called after the
 * transaction commits (a transaction may run more than once; a commit happens once).
 */
export function recordJobTransition(before: Job, after: Job, now: Timestamp): void {
  const preset = after.preset;
  count('jobTransitions', { from: before.status, to: after.status, preset });
  observe('jobStateDuration', secondsBetween(stateEnteredAt(before), now), { state: before.status, preset });
  if (!isTerminal(after.status)) return;
  const seconds = productionSeconds(after, now);
  const withinDeadline = after.status === 'DELIVERED' && seconds <= presetOf(preset).deliveryDeadlineSeconds;
  count('jobsFinished', {
    preset,
    status: after.status,
    reason: after.error?.reason ?? 'none',
    within_deadline: String(withinDeadline),
  });
  observe('jobDuration', seconds, { preset, status: after.status });
  if (after.status === 'DELIVERED') observe('jobCost', after.costUsd, { preset });
}

/** Jobs written before `stateEnteredAt` existed: their last update is the closest we know. */
export const stateEnteredAt = (job: Job): Timestamp => job.stateEnteredAt ?? job.updatedAt;

/** Leaving AWAITING_APPROVAL: the wait is added to the job's approval wait (it may be approved again after a replay). */
export function approvalWaitOnLeaving(job: Job, now: Timestamp): Pick<Job, 'approvalWaitSeconds'> {
  if (job.status !== 'AWAITING_APPROVAL') return {};
  return { approvalWaitSeconds: (job.approvalWaitSeconds ?? 0) + secondsBetween(stateEnteredAt(job), now) };
}

/** Created to now, minus the time the job waited for its client's approval (not ours to spend). */
export function productionSeconds(job: Job, now: Timestamp): number {
  return Math.max(0, secondsBetween(job.createdAt, now) - (job.approvalWaitSeconds ?? 0));
}

export const secondsBetween = (from: Timestamp, to: Timestamp): number => (to.toMillis() - from.toMillis()) / 1000;
