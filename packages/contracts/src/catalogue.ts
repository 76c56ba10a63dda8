import type { Static, TSchema } from '@sinclair/typebox';
import {
  EstimateRequestedSchema,
  JobApprovedSchema,
  JobAssembleSchema,
  JobFinishedSchema,
  JobRequestedSchema,
  PreviewRequestedSchema,
  PlanChangesRequestedSchema,
  RenderRequestSchema,
  ShotRenderedSchema,
} from './schemas';

export const SERVICES = ['gateway', 'planner', 'render', 'qa', 'delivery'] as const;
export type ServiceName = (typeof SERVICES)[number];
export const BACKENDS = ['runway', 'veo', 'replicate', 'local'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** How a subscription retries and when it gives up to its dead-letter topic. */
export interface DeliveryPolicy {
  ackDeadlineSeconds: number;
  maxDeliveryAttempts: number;
  minimumBackoffSeconds: number;
  maximumBackoffSeconds: number;
}

// Pub/Sub accepts 5..100 delivery attempts. Five is enough to ride out a restart or a short
// emulator/vendor blip, and keeps a poison message from burning work for long.
const QUICK: DeliveryPolicy = {
  ackDeadlineSeconds: 30,
  maxDeliveryAttempts: 5,
  minimumBackoffSeconds: 1,
  maximumBackoffSeconds: 60,
};
// Vendor renders take minutes; the consumer extends the lease while it works, so the deadline
// only decides how soon a crashed worker's message comes back.
const RENDER: DeliveryPolicy = { ...QUICK, ackDeadlineSeconds: 60, maximumBackoffSeconds: 300 };

interface SubscriberDecl {
  /** The service that pulls this subscription. */
  service: ServiceName;
  /** For render pools: the backend whose pool pulls it. */
  backend?: BackendName;
  policy: DeliveryPolicy;
}

interface TopicDecl {
  schema: TSchema;
  description: string;
  publishers: readonly ServiceName[];
  subscribers: readonly SubscriberDecl[];
}

const renderTopic = (backend: BackendName) =>
  ({
    schema: RenderRequestSchema,
    description: `Render one shot attempt on the ${backend} backend.`,
    publishers: ['planner', 'render', 'qa'],
    subscribers: [{ service: 'render', backend, policy: RENDER }],
  }) as const satisfies TopicDecl;

/**
 * The one catalogue of topics. Names are versioned and never renamed; a new shape is a new
 * topic (`.v2`). The local provisioner and Terraform both read this (exported as JSON).
 */
export const CATALOGUE = {
  'aiprod.job.requested.v1': {
    schema: JobRequestedSchema,
    description: 'A job was created and waits for a plan.',
    publishers: ['gateway'],
    subscribers: [{ service: 'planner', policy: QUICK }],
  },
  'aiprod.job.approved.v1': {
    schema: JobApprovedSchema,
    description: 'A job parked in AWAITING_APPROVAL was approved.',
    publishers: ['gateway'],
    subscribers: [{ service: 'planner', policy: QUICK }],
  },
  'aiprod.plan.changes.requested.v1': {
    schema: PlanChangesRequestedSchema,
    description: 'A client asked for changes to a plan waiting for approval; the director plans again.',
    publishers: ['gateway'],
    subscribers: [{ service: 'planner', policy: QUICK }],
  },
  // Estimates are planned by the planner with the director that will plan the job, so the quote and
  // the job agree (docs/decisions/2026-12-estimates-through-the-planner.md); the gateway waits for
  // the answer on the estimate's Firestore record.
  'aiprod.estimate.requested.v1': {
    schema: EstimateRequestedSchema,
    description: 'A client asked for an estimate of a brief; the planner plans it as it would plan the job.',
    publishers: ['gateway'],
    subscribers: [{ service: 'planner', policy: QUICK }],
  },
  'aiprod.render.runway.v1': renderTopic('runway'),
  'aiprod.render.veo.v1': renderTopic('veo'),
  'aiprod.render.replicate.v1': renderTopic('replicate'),
  'aiprod.render.local.v1': renderTopic('local'),
  'aiprod.shot.rendered.v1': {
    schema: ShotRenderedSchema,
    description: 'A shot attempt was rendered and stored; it waits for QA.',
    publishers: ['render'],
    subscribers: [{ service: 'qa', policy: QUICK }],
  },
  'aiprod.job.assemble.v1': {
    schema: JobAssembleSchema,
    description: 'Every shot passed QA; the final cut can be assembled.',
    publishers: ['qa'],
    subscribers: [{ service: 'delivery', policy: { ...QUICK, ackDeadlineSeconds: 120 } }],
  },
  // Delivery renders the preview with the local backend's animatic renderer and assembles it in one
  // step (docs/decisions/2026-12-free-preview.md): no vendor, no shot attempts, no ledger lines, so
  // it cannot touch the paid render's state. Its own subscription, so a preview never waits behind
  // (or holds up) an assembly; a preview that keeps failing is marked FAILED on job.preview, never
  // the job.
  'aiprod.preview.requested.v1': {
    schema: PreviewRequestedSchema,
    description: 'A free preview (animatic with the final timing) of one plan version is wanted.',
    publishers: ['planner', 'gateway'],
    subscribers: [{ service: 'delivery', policy: { ...QUICK, ackDeadlineSeconds: 120 } }],
  },
  // Five publishers, on purpose: every service that can fail a job announces it through the shared
  // failJob (planner, render, qa, delivery, and the sweepers they run); the gateway announces a
  // cancellation; and delivery announces DELIVERED to its own notifier. That last one goes through
  // Pub/Sub on a separate subscription, so a tenant's slow or failing webhook is retried there and
  // never holds up (or re-runs) an assembly.
  'aiprod.job.finished.v1': {
    schema: JobFinishedSchema,
    description: 'A job reached a terminal status.',
    publishers: ['gateway', 'planner', 'render', 'qa', 'delivery'],
    subscribers: [{ service: 'delivery', policy: QUICK }],
  },
} as const satisfies Record<string, TopicDecl>;

export type Catalogue = typeof CATALOGUE;
export type TopicName = keyof Catalogue;
export const TOPICS = Object.keys(CATALOGUE) as TopicName[];

/** The decoded payload of a topic, derived from its schema. */
export type MessageOf<T extends TopicName> = Static<Catalogue[T]['schema']>;

/** The topics one service (and, for render, one backend pool) subscribes to. */
export type TopicsOf<S extends ServiceName, B extends BackendName | undefined = undefined> = {
  [T in TopicName]: Catalogue[T]['subscribers'][number] extends infer D
    ? D extends { service: S; backend: infer DB }
      ? B extends undefined
        ? never
        : DB extends B
          ? T
          : never
      : D extends { service: S }
        ? T
        : never
    : never;
}[TopicName];

/**
 * The topics a service may publish: those whose catalogue entry lists it among the publishers.
 * `Publisher<S>` accepts only these, so publishing a topic the service does not own fails to compile.
 */
export type PublishableBy<S extends ServiceName> = {
  [T in TopicName]: S extends Catalogue[T]['publishers'][number] ? T : never;
}[TopicName];

export const renderTopicFor = <B extends BackendName>(backend: B) => `aiprod.render.${backend}.v1` as const;
/** A render pool's topic (one per backend). */
export type RenderTopicName = `aiprod.render.${BackendName}.v1`;

export function subscriptionName(topic: TopicName, service: ServiceName, backend?: BackendName): string {
  return `${topic}.${backend ? `${service}-${backend}` : service}`;
}
export const deadLetterTopicName = (subscription: string) => `${subscription}.dlq`;
/** Dead letters are kept on a subscription nobody consumes, so an operator can inspect and replay them. */
export const deadLetterHoldSubscriptionName = (subscription: string) => `${subscription}.dlq.hold`;
/** The owning service watches its dead letters to mark the job FAILED (`dead_lettered`). */
export const deadLetterWatchSubscriptionName = (subscription: string) => `${subscription}.dlq.watch`;

export interface SubscriptionSpec {
  name: string;
  topic: TopicName;
  service: ServiceName;
  backend?: BackendName;
  deadLetterTopic: string;
  deadLetterHoldSubscription: string;
  deadLetterWatchSubscription: string;
  policy: DeliveryPolicy;
}

export function subscriptions(): SubscriptionSpec[] {
  return TOPICS.flatMap((topic) =>
    (CATALOGUE[topic].subscribers as readonly SubscriberDecl[]).map((s) => {
      const name = subscriptionName(topic, s.service, s.backend);
      return {
        name,
        topic,
        service: s.service,
        ...(s.backend ? { backend: s.backend } : {}),
        deadLetterTopic: deadLetterTopicName(name),
        deadLetterHoldSubscription: deadLetterHoldSubscriptionName(name),
        deadLetterWatchSubscription: deadLetterWatchSubscriptionName(name),
        policy: s.policy,
      };
    }),
  );
}

export function subscriptionsFor(service: ServiceName, backend?: BackendName): SubscriptionSpec[] {
  return subscriptions().filter((s) => s.service === service && (s.backend === undefined || s.backend === backend));
}

/** The catalogue as plain JSON, for the local provisioner, Terraform and docs. */
export function catalogueJson() {
  return {
    version: 1,
    topics: TOPICS.map((topic) => ({
      name: topic,
      description: CATALOGUE[topic].description,
      publishers: [...CATALOGUE[topic].publishers],
      schema: JSON.parse(JSON.stringify(CATALOGUE[topic].schema)) as unknown,
    })),
    subscriptions: subscriptions(),
  };
}
