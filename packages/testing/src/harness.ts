import { randomBytes } from 'node:crypto';
import type { Message, Subscription } from '@google-cloud/pubsub';
import type { ServiceName, TopicName } from '@aiprod/contracts';
import { provisionCatalogue, Publisher } from '@aiprod/pubsub';
import { createCoreDeps, type CoreDeps } from '@aiprod/service-runtime';
import type { EmulatorHosts } from './emulators';
import { memoryLog } from './memory-log';

/** A project id no other suite uses, so suites never share emulator state. */
export const uniqueProjectId = (prefix: string) =>
  `${prefix.replace(/[^a-z0-9-]/g, '-').slice(0, 16)}-${randomBytes(4).toString('hex')}`;

/** The emulators' hosts, as jest's globalSetup (or a benchmark) exported them. */
export function requireEmulators(): EmulatorHosts {
  const pubsub = process.env.PUBSUB_EMULATOR_HOST;
  const firestore = process.env.FIRESTORE_EMULATOR_HOST;
  if (!pubsub || !firestore) throw new Error('emulators are not running: jest globalSetup should have started them');
  return { pubsub, firestore };
}

/** One test's own project on the shared emulators: the core deps every service is built from. */
export interface EmulatorProject<S extends ServiceName> extends CoreDeps<S> {
  /** The same deps as a plain object, to spread into a service's deps. */
  core: CoreDeps<S>;
  projectId: string;
  hosts: EmulatorHosts;
  /** What was logged through `log`. */
  logLines: ReturnType<typeof memoryLog>['lines'];
  /** Creates the catalogue's topics, subscriptions and dead-letter topics in this project. */
  provision(options?: Parameters<typeof provisionCatalogue>[1]): Promise<void>;
  /**
   * Collects what is published on `topics` through a subscription of the test's own (the
   * services' subscriptions stay untouched); returns the messages seen on a topic so far.
   */
  collect(topics: readonly TopicName[]): Promise<(topic: TopicName) => Record<string, unknown>[]>;
  /**
   * A publisher acting as another service, for a test that plays that service's part (publishes
   * what it publishes); closed with the project.
   */
  publisherFor<T extends ServiceName>(service: T): Publisher<T>;
  /** Closes the collecting subscriptions and the clients; the project's data stays. */
  close(): Promise<void>;
}

/**
 * A unique project on the running emulators with the core deps (Firestore, Pub/Sub, job store,
 * ledger, publisher) built as `createCoreDeps` builds them in `service`'s main.ts. Built
 * synchronously, so a suite may create it at the top of its file; `provision()` and `close()`
 * go in its beforeAll and afterAll (close last: it ends the clients the suite's services use).
 */
export function emulatorProject<S extends ServiceName>(name: string, service: S): EmulatorProject<S> {
  const hosts = requireEmulators();
  const projectId = uniqueProjectId(name);
  const memory = memoryLog();
  const core = createCoreDeps(service, { projectId, log: memory.log });
  const subscriptions: Subscription[] = [];
  const others: Publisher<ServiceName>[] = [];
  return {
    ...core,
    core,
    projectId,
    hosts,
    logLines: memory.lines,
    provision: (provisionOptions) => provisionCatalogue(core.pubsub, provisionOptions),
    async collect(topics) {
      const seen = new Map<TopicName, Record<string, unknown>[]>(topics.map((t) => [t, []]));
      for (const topic of topics) {
        const [sub] = await core.pubsub
          .topic(topic)
          .createSubscription(`${topic}.test-collect-${subscriptions.length}`);
        sub.on('message', (m: Message) => {
          seen.get(topic)!.push(JSON.parse(m.data.toString()) as Record<string, unknown>);
          m.ack();
        });
        subscriptions.push(sub);
      }
      return (topic) => seen.get(topic) ?? [];
    },
    publisherFor(other) {
      const publisher = new Publisher(core.pubsub, other);
      others.push(publisher);
      return publisher;
    },
    async close() {
      await Promise.all(subscriptions.splice(0).map((s) => s.close()));
      await Promise.all([core.publisher, ...others.splice(0)].map((p) => p.close()));
      await core.pubsub.close();
      await core.db.terminate();
    },
  };
}
