import type { PubSub } from '@google-cloud/pubsub';
import { subscriptions, TOPICS, type DeliveryPolicy } from '@aiprod/contracts';

const ALREADY_EXISTS = 6;
/** As Terraform's work_message_retention: acked messages are kept this long, so seek can replay them. */
export const WORK_MESSAGE_RETENTION_SECONDS = 7 * 24 * 3600;

async function ignoreExisting(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if ((e as { code?: number }).code !== ALREADY_EXISTS) throw e;
  }
}

/**
 * Creates every topic, subscription, dead-letter topic and dead-letter subscription that the
 * catalogue declares (Terraform does the same in the cloud from the exported JSON). Idempotent.
 * `policyOverride` lets tests shorten backoffs; production provisioning never passes it.
 */
export async function provisionCatalogue(
  pubsub: PubSub,
  options: { policyOverride?: Partial<DeliveryPolicy> } = {},
): Promise<void> {
  const specs = subscriptions();
  const projectId = pubsub.projectId;
  if (!projectId || projectId.includes('{'))
    throw new Error('provisionCatalogue needs a PubSub client built with an explicit projectId');
  const topicPath = (name: string) => `projects/${projectId}/topics/${name}`;
  await Promise.all(
    [...TOPICS, ...specs.map((s) => s.deadLetterTopic)].map((t) => ignoreExisting(pubsub.createTopic(t))),
  );
  await Promise.all(
    specs.flatMap((s) => {
      const policy = { ...s.policy, ...options.policyOverride };
      return [
        ignoreExisting(
          pubsub.topic(s.topic).createSubscription(s.name, {
            ackDeadlineSeconds: policy.ackDeadlineSeconds,
            // As in the cloud (terraform/modules/pubsub): seek to a time or a snapshot redelivers
            // what was acked since, which is how an operator replays (aiprod ops replay).
            retainAckedMessages: true,
            messageRetentionDuration: { seconds: WORK_MESSAGE_RETENTION_SECONDS },
            deadLetterPolicy: {
              deadLetterTopic: topicPath(s.deadLetterTopic),
              maxDeliveryAttempts: policy.maxDeliveryAttempts,
            },
            retryPolicy: {
              minimumBackoff: { seconds: policy.minimumBackoffSeconds },
              maximumBackoff: { seconds: policy.maximumBackoffSeconds },
            },
          }),
        ),
        ignoreExisting(
          pubsub.topic(s.deadLetterTopic).createSubscription(s.deadLetterHoldSubscription, {
            ackDeadlineSeconds: 60,
            messageRetentionDuration: { seconds: 7 * 24 * 3600 },
          }),
        ),
        ignoreExisting(
          pubsub.topic(s.deadLetterTopic).createSubscription(s.deadLetterWatchSubscription, { ackDeadlineSeconds: 30 }),
        ),
      ];
    }),
  );
}
