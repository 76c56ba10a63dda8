import type { PubSub, Topic } from '@google-cloud/pubsub';
import { describeErrors, validate, CATALOGUE, type MessageOf, type TopicName } from '@aiprod/contracts';
import { injectTraceContext } from '@aiprod/observability';

export interface PublishOptions {
  orderingKey?: string;
}

/**
 * Typed publishing: the payload is validated against the catalogue's schema before it leaves
 * (publishing something no consumer can read is a bug), and the message carries the trace
 * context and the job's ids as attributes so dead letters stay attributable.
 */
export class Publisher {
  private readonly topics = new Map<TopicName, Topic>();

  constructor(private readonly pubsub: PubSub) {}

  async publish<T extends TopicName>(topic: T, payload: MessageOf<T>, options: PublishOptions = {}): Promise<string> {
    const checked = validate(CATALOGUE[topic].schema, payload);
    if (!checked.ok) {
      throw new Error(`refusing to publish an invalid ${topic} message: ${describeErrors(checked.errors)}`);
    }
    const attributes: Record<string, string> = {
      ...injectTraceContext(),
      topic,
      v: String(payload.v),
      jobId: payload.jobId,
      tenantId: payload.tenantId,
    };
    return this.topic(topic).publishMessage({
      data: Buffer.from(JSON.stringify(payload)),
      attributes,
      ...(options.orderingKey ? { orderingKey: options.orderingKey } : {}),
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.topics.values()].map((t) => t.flush()));
  }

  private topic(name: TopicName): Topic {
    let topic = this.topics.get(name);
    if (!topic) {
      // A few milliseconds of batching: latency matters more than throughput for job steps.
      topic = this.pubsub.topic(name, { batching: { maxMessages: 100, maxMilliseconds: 2 } });
      this.topics.set(name, topic);
    }
    return topic;
  }
}
