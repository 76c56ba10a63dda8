import {
  Duration,
  SubscriptionCloseBehaviors,
  type Message,
  type PubSub,
  type Subscription,
} from '@google-cloud/pubsub';
import { SpanKind, trace } from '@opentelemetry/api';
import {
  CATALOGUE,
  PermanentError,
  describeErrors,
  validate,
  type FieldError,
  type MessageOf,
  type SubscriptionSpec,
  type TopicName,
} from '@aiprod/contracts';
import {
  count,
  observe,
  observeGauge,
  recordExpectedFailure,
  secondsSince,
  recordSpanError,
  withExtractedContext,
} from '@aiprod/observability';
import type { Log } from './log';

export interface HandlerContext {
  topic: TopicName;
  subscription: string;
  messageId: string;
  deliveryAttempt: number;
  publishTime: Date;
  log: Log;
}

export interface HandlerDef<T extends TopicName> {
  topic: T;
  handle(message: MessageOf<T>, ctx: HandlerContext): Promise<void>;
}

/** One handler per topic per file: `export const handler = defineHandler('aiprod.job.requested.v1', async (msg, ctx) => …)`. */
export const defineHandler = <T extends TopicName>(
  topic: T,
  handle: (message: MessageOf<T>, ctx: HandlerContext) => Promise<void>,
): HandlerDef<T> => ({ topic, handle });

/** A service's handlers, one per subscribed topic: a missing one is a compile error. */
export type HandlerMap<T extends TopicName> = { [K in T]: HandlerDef<K> };

/** The map of a process that serves one topic of T, chosen at start-up (a render pool serves its backend's). */
export type OneTopicHandlerMap<T extends TopicName> = T extends TopicName ? HandlerMap<T> : never;

/**
 * The one-topic map of a handler. Its only key is the handler's own topic, so the map is the
 * HandlerMap of that one topic; TypeScript cannot relate a computed key to a union, hence the cast.
 */
export const oneTopicHandlerMap = <T extends TopicName>(handler: HandlerDef<T>) =>
  ({ [handler.topic]: handler }) as unknown as OneTopicHandlerMap<T>;

/** Where the consumer records what it could not deliver to a handler; backed by the job store. */
export interface OutcomeRecorder {
  invalidMessage(info: InvalidMessage): Promise<void>;
  permanentFailure(info: PermanentFailure): Promise<void>;
}

export interface InvalidMessage {
  topic: TopicName;
  subscription: string;
  messageId: string;
  deliveryAttempt: number;
  jobId?: string;
  tenantId?: string;
  problem: string;
  errors: FieldError[];
}

export interface PermanentFailure {
  topic: TopicName;
  subscription: string;
  messageId: string;
  jobId: string;
  tenantId: string;
  error: PermanentError;
}

export interface RunningConsumer {
  readonly subscription: string;
  /** Stops pulling; in-flight messages get until the close timeout to finish, then are nacked. */
  close(): Promise<void>;
  inFlight(): number;
}

export interface ConsumerOptions<T extends TopicName> {
  pubsub: PubSub;
  spec: SubscriptionSpec;
  handler: HandlerDef<T>;
  log: Log;
  recorder: OutcomeRecorder;
  maxConcurrent?: number;
  closeTimeoutSeconds?: number;
  /** How long the client keeps extending a message's lease while the handler runs (default 60 min). */
  maxLeaseMinutes?: number;
  /**
   * The longest single lease extension (default 30 s). The client library otherwise grows it with
   * the handler's running time up to 600 s, so a killed worker's message would wait that long to
   * be redelivered.
   */
  maxAckExtensionSeconds?: number;
}

type Decoded<T extends TopicName> =
  | { ok: true; value: MessageOf<T> }
  | { ok: false; problem: string; errors: FieldError[]; jobId?: string; tenantId?: string };

const idPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const safeId = (v: unknown) => (typeof v === 'string' && idPattern.test(v) ? v : undefined);

export function decodeMessage<T extends TopicName>(
  topic: T,
  data: Buffer,
  attributes: Record<string, string>,
): Decoded<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (e) {
    return {
      ok: false,
      problem: 'message data is not JSON',
      errors: [{ field: '', rule: 'json', message: (e as Error).message }],
      ...idsFrom(attributes, undefined),
    };
  }
  const checked = validate(CATALOGUE[topic].schema, parsed);
  if (checked.ok) return { ok: true, value: checked.value as MessageOf<T> };
  return {
    ok: false,
    problem: `message does not match the ${topic} schema: ${describeErrors(checked.errors)}`,
    errors: checked.errors,
    ...idsFrom(attributes, parsed),
  };
}

/** A malformed message may still name its job (in the body or attributes); record the failure there if so. */
function idsFrom(attributes: Record<string, string>, body: unknown): { jobId?: string; tenantId?: string } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const jobId = safeId(b.jobId) ?? safeId(attributes.jobId);
  const tenantId = safeId(b.tenantId) ?? safeId(attributes.tenantId);
  return { ...(jobId ? { jobId } : {}), ...(tenantId ? { tenantId } : {}) };
}

/**
 * Pulls one subscription and applies the house policy: decode and validate, trace, dispatch to
 * the topic's handler, then ack on success; ack after recording a PermanentError; nack anything
 * else so the subscription's retry policy and dead-letter topic take over. A malformed message is
 * recorded and nacked, so it reaches the dead-letter topic (kept for an operator) after the
 * configured attempts instead of vanishing.
 */
export function startConsumer<T extends TopicName>(options: ConsumerOptions<T>): RunningConsumer {
  const { pubsub, spec, handler, recorder } = options;
  if (spec.topic !== handler.topic) throw new Error(`handler for ${handler.topic} given subscription of ${spec.topic}`);
  const log = options.log.child({ subscription: spec.name });
  const tracer = trace.getTracer('@aiprod/pubsub');
  let inFlight = 0;
  const metrics = consumerMetrics(spec.name);

  const subscription: Subscription = pubsub.subscription(spec.name, {
    flowControl: { maxMessages: options.maxConcurrent ?? 4, allowExcessMessages: false },
    // The client extends each lease while the handler runs (renders poll vendors for minutes).
    maxExtensionTime: Duration.from({ minutes: options.maxLeaseMinutes ?? 60 }),
    maxAckDeadline: Duration.from({ seconds: options.maxAckExtensionSeconds ?? 30 }),
    closeOptions: {
      behavior: SubscriptionCloseBehaviors.WaitForProcessing,
      timeout: Duration.from({ seconds: options.closeTimeoutSeconds ?? 8 }),
    },
  });

  const processMessage = async (message: Message, settle: (outcome: MessageOutcome) => void): Promise<void> => {
    const attempt = message.deliveryAttempt || 1;
    const base = { messageId: message.id, deliveryAttempt: attempt };
    const decoded = decodeMessage(handler.topic, message.data, message.attributes);
    if (!decoded.ok) {
      settle('invalid');
      log.warn('rejected a malformed message', { ...base, problem: decoded.problem, jobId: decoded.jobId });
      try {
        await recorder.invalidMessage({
          topic: handler.topic,
          subscription: spec.name,
          ...base,
          problem: decoded.problem,
          errors: decoded.errors,
          ...(decoded.jobId ? { jobId: decoded.jobId } : {}),
          ...(decoded.tenantId ? { tenantId: decoded.tenantId } : {}),
        });
      } catch (e) {
        log.error('could not record a malformed message', { ...base, error: e });
      }
      message.nack();
      return;
    }
    const msg = decoded.value;
    const ids = { jobId: msg.jobId, tenantId: msg.tenantId, ...('shotId' in msg ? { shotId: msg.shotId } : {}) };
    const ctx: HandlerContext = {
      topic: handler.topic,
      subscription: spec.name,
      messageId: message.id,
      deliveryAttempt: attempt,
      publishTime: message.publishTime,
      log: log.child({ ...ids, messageId: message.id, deliveryAttempt: attempt }),
    };
    await withExtractedContext(message.attributes, () =>
      tracer.startActiveSpan(
        `${handler.topic} process`,
        { kind: SpanKind.CONSUMER, attributes: consumerSpanAttributes(handler.topic, spec.name, message, msg) },
        async (span) => {
          try {
            await handler.handle(msg, ctx);
            message.ack();
            settle('ack');
          } catch (error) {
            // A PermanentError is an outcome the house policy expects (recorded on the job, acked):
            // an event on the span, not an error status that would page someone.
            if (error instanceof PermanentError) recordExpectedFailure(span, error.reason, error);
            else recordSpanError(span, error);
            if (error instanceof PermanentError) {
              try {
                await recorder.permanentFailure({
                  topic: handler.topic,
                  subscription: spec.name,
                  messageId: message.id,
                  jobId: msg.jobId,
                  tenantId: msg.tenantId,
                  error,
                });
                ctx.log.warn('permanent failure recorded', { reason: error.reason, error: error.message });
                message.ack();
                settle('permanent');
              } catch (recordError) {
                ctx.log.error('could not record a permanent failure; will retry', { error: recordError });
                message.nack();
                settle('nack');
              }
            } else {
              ctx.log.warn('handler failed; message will be retried', { error });
              message.nack();
              settle('nack');
            }
          } finally {
            span.end();
          }
        },
      ),
    );
  };

  subscription.on('message', (message: Message) => {
    inFlight += 1;
    const held = metrics.received(message);
    processMessage(message, held.settle)
      .catch((e: unknown) => {
        log.error('unexpected consumer failure', { error: e, messageId: message.id });
        message.nack();
        held.settle('nack');
      })
      .finally(() => {
        inFlight -= 1;
        held.done();
      });
  });
  subscription.on('error', (error: Error) => log.error('subscription stream error', { error }));

  return {
    subscription: spec.name,
    close: async () => {
      await subscription.close();
      metrics.stop();
    },
    inFlight: () => inFlight,
  };
}

type MessageOutcome = 'ack' | 'nack' | 'permanent' | 'invalid';

/**
 * A consumer's metrics: outcomes, handling time, redeliveries, and the age of the oldest message
 * it holds (the emulator has no backlog metric, and in the cloud ours measures the same thing
 * from the consumer's side: a message a stuck handler holds grows old here).
 */
function consumerMetrics(subscription: string) {
  const held = new Map<string, { publishedMs: number }>();
  // Series that must exist before anything goes wrong, so that dashboards and alerts see a zero.
  count('pubsubRedeliveries', { subscription }, 0);
  const stopObserving = observeGauge('pubsubOldestUnackedAge', () => {
    let oldest = Date.now();
    for (const m of held.values()) oldest = Math.min(oldest, m.publishedMs);
    return [[(Date.now() - oldest) / 1000, { subscription }]];
  });
  return {
    /** A message arrived; `settle` says how it ended, `done` records it once handling is over. */
    received(message: Message) {
      if ((message.deliveryAttempt || 1) > 1) count('pubsubRedeliveries', { subscription });
      const startedMs = performance.now();
      const key = `${message.id}/${message.ackId}`;
      held.set(key, { publishedMs: message.publishTime.getTime() });
      let outcome: MessageOutcome = 'nack';
      return {
        settle: (how: MessageOutcome) => {
          outcome = how;
        },
        done: () => {
          held.delete(key);
          observe('pubsubHandleDuration', secondsSince(startedMs), { subscription, outcome });
          count('pubsubMessages', { subscription, outcome });
        },
      };
    },
    stop: stopObserving,
  };
}

/** What a consumer span says about its message: the job's ids (the convention's jobId, shotId,
 *  attempt, backend) and the messaging attributes OpenTelemetry's conventions name. */
export function consumerSpanAttributes(
  topic: TopicName,
  subscription: string,
  message: Pick<Message, 'id' | 'deliveryAttempt'>,
  body: object,
): Record<string, string | number> {
  const b = body as { jobId?: unknown; tenantId?: unknown; shotId?: unknown; attempt?: unknown; backend?: unknown };
  // A render pool's backend is its topic's; a rendered shot names the backend that made it.
  const backend = /^aiprod\.render\.([a-z]+)\.v\d+$/.exec(topic)?.[1] ?? b.backend;
  return {
    'messaging.system': 'gcp_pubsub',
    'messaging.operation.type': 'process',
    'messaging.destination.name': subscription,
    'messaging.message.id': message.id,
    'messaging.gcp_pubsub.message.delivery_attempt': message.deliveryAttempt || 1,
    deliveryAttempt: message.deliveryAttempt || 1,
    ...(typeof b.jobId === 'string' ? { jobId: b.jobId } : {}),
    ...(typeof b.tenantId === 'string' ? { tenantId: b.tenantId } : {}),
    ...(typeof b.shotId === 'string' ? { shotId: b.shotId } : {}),
    ...(typeof b.attempt === 'number' ? { attempt: b.attempt } : {}),
    ...(typeof backend === 'string' ? { backend } : {}),
  };
}

export interface DeadLetter {
  subscription: string;
  topic: TopicName;
  messageId: string;
  jobId?: string;
  tenantId?: string;
  data: string;
  attributes: Record<string, string>;
}

/**
 * Watches one subscription's dead letters. The letters themselves stay on the hold subscription
 * for operators; this only tells the job store so the job shows FAILED (`dead_lettered`).
 */
export function startDeadLetterWatcher(options: {
  pubsub: PubSub;
  spec: SubscriptionSpec;
  log: Log;
  onDeadLetter(letter: DeadLetter): Promise<void>;
}): RunningConsumer {
  const { spec } = options;
  const log = options.log.child({ subscription: spec.deadLetterWatchSubscription });
  let inFlight = 0;
  count('deadLetters', { subscription: spec.name }, 0);
  const subscription = options.pubsub.subscription(spec.deadLetterWatchSubscription, {
    flowControl: { maxMessages: 2, allowExcessMessages: false },
    closeOptions: { behavior: SubscriptionCloseBehaviors.NackImmediately },
  });
  subscription.on('message', (message: Message) => {
    inFlight += 1;
    const raw = message.data.toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const ids = idsFrom(message.attributes, body);
    options
      .onDeadLetter({
        subscription: spec.name,
        topic: spec.topic,
        messageId: message.attributes.CloudPubSubDeadLetterSourceMessageId ?? message.id,
        ...ids,
        // Enough to diagnose; the full letter stays on the hold subscription.
        data: raw.slice(0, 4096),
        attributes: message.attributes,
      })
      .then(() => {
        message.ack();
        // Counted once recorded: a letter whose record failed comes back and is counted then.
        count('deadLetters', { subscription: spec.name });
      })
      .catch((error: unknown) => {
        log.error('could not record a dead letter', { error, ...ids });
        message.nack();
      })
      .finally(() => {
        inFlight -= 1;
      });
  });
  subscription.on('error', (error: Error) => log.error('dead-letter stream error', { error }));
  return {
    subscription: spec.deadLetterWatchSubscription,
    close: () => subscription.close(),
    inFlight: () => inFlight,
  };
}
