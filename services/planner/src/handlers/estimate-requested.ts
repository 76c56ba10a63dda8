import { subscriptionsFor } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { PlannerDeps } from '../app';
import { answerEstimate } from '../steps/answer-estimate';

const MAX_DELIVERIES =
  subscriptionsFor('planner').find((s) => s.topic === 'aiprod.estimate.requested.v1')?.policy.maxDeliveryAttempts ?? 5;

export const estimateRequestedHandler = (deps: PlannerDeps) =>
  defineHandler('aiprod.estimate.requested.v1', async (msg, ctx) => {
    // The envelope's jobId names the estimate (contracts' EstimateRequestedSchema).
    await answerEstimate(deps, { estimateId: msg.jobId, tenantId: msg.tenantId }, ctx.log, {
      lastAttempt: ctx.deliveryAttempt >= MAX_DELIVERIES,
    });
  });
