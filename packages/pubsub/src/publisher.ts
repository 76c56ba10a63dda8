import { setTimeout as sleep } from 'node:timers/promises';
import type { PubSub, Topic } from '@google-cloud/pubsub';

import {
  describeErrors,
  validate,
  CATALOGUE,
  type MessageOf,
  type PublishableBy,
  type ServiceName,
  type TopicName,
} from '@aiprod/contracts';
import { context } from '@opentelemetry/api';
import {
  contextFromTraceparent,
  hasSpanContext,
  injectTraceContext,
  SpanKind,
  tracesRecorded,
  withSpan,
} from '@aiprod/observability';

/** How long a publish outside any span waits for its job's stored trace before going without. */
const JOB_TRACE_LOOKUP_MS = 2_000;

export interface PublishOptions {
  orderingKey?: string;
}

/**
 * The job's stored `traceparent` (set when the gateway created it): the parent of a message
 * published outside any request or consumer span (a sweep, a poller, an operator's replay), so
 * that it joins the job's trace instead of starting a trace of its own.
 */
export type JobTraceLookup = (jobId: string) => Promise<string | undefined>;

/**
 * What shared code needs of a publisher: the right to publish the topics T. Any `Publisher<S>`
 * whose service owns every one of them fits (a function property, not a method, so the check is
 * strict: a `Publisher<'gateway'>` is not a `TopicPublisher<'aiprod.shot.rendered.v1'>`).
 */
export interface TopicPublisher<T extends TopicName> {
  publish: <U extends T>(topic: U, payload: MessageOf<U>, options?: PublishOptions) => Promise<string>;
}

/**
 * Typed publishing for one service: `publish` accepts only the topics the catalogue lists the
 * service as a publisher of (anything else fails to compile, and is refused at run time for
 * callers that got past the types). The payload is validated against the catalogue's schema
 * before it leaves (publishing something no consumer can read is a bug), and the message carries
 * the trace context and the job's ids as attributes so dead letters stay attributable.
 */
export class Publisher<S extends ServiceName> implements TopicPublisher<PublishableBy<S>> {
  private readonly topics = new Map<TopicName, Topic>();

  constructor(
    private readonly pubsub: PubSub,
    readonly service: S,
    private readonly jobTrace?: JobTraceLookup,
  ) {}

  async publish<T extends PublishableBy<S>>(
    topic: T,
    payload: MessageOf<T>,
    options: PublishOptions = {},
  ): Promise<string> {
    if (!(CATALOGUE[topic].publishers as readonly ServiceName[]).includes(this.service)) {
      throw new Error(
        `${this.service} does not publish ${topic}: the catalogue lists ${CATALOGUE[topic].publishers.join(', ')}`,
      );
    }
    const checked = validate(CATALOGUE[topic].schema, payload);
    if (!checked.ok) {
      throw new Error(`refusing to publish an invalid ${topic} message: ${describeErrors(checked.errors)}`);
    }
    const parent = hasSpanContext() ? context.active() : await this.jobContext(payload.jobId);
    return withSpan(
      `${topic} publish`,
      () => {
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
      },
      {
        'messaging.system': 'gcp_pubsub',
        'messaging.operation.type': 'send',
        'messaging.destination.name': topic,
        jobId: payload.jobId,
        ...('shotId' in payload ? { shotId: payload.shotId } : {}),
      },
      { kind: SpanKind.PRODUCER, tracer: '@aiprod/pubsub', parent },
    );
  }

  /** Outside any span: the job's stored trace, when spans are recorded, there is a lookup and the
   *  job has one. A failed or slow lookup costs the message its trace, never its delivery: it is
   *  abandoned after JOB_TRACE_LOOKUP_MS. Without a recording tracer nothing would use the trace, so no
   *  lookup is made (it would be one Firestore read per publish for nothing). */
  private async jobContext(jobId: string) {
    if (!this.jobTrace || !tracesRecorded()) return context.active();
    const traceparent = await Promise.race([
      this.jobTrace(jobId).catch(() => undefined),
      sleep(JOB_TRACE_LOOKUP_MS, undefined, { ref: false }),
    ]);
    return contextFromTraceparent(traceparent) ?? context.active();
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
