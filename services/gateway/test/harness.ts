import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub, type Message } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import type { TopicName } from '@aiprod/contracts';
import { createFirestore, JobStore, TenantStore, WebhookStore, type ApiKeyScope } from '@aiprod/job-store';
import { Publisher, provisionCatalogue } from '@aiprod/pubsub';
import { createBlobStore, type BlobStore } from '@aiprod/storage';
import { memoryLog, requireEmulators, uniqueProjectId } from '@aiprod/testing';
import type { ResolveHost } from '@aiprod/webhooks';
import { buildGateway, type GatewayDeps } from '../src/app';
import { EventStreams } from '../src/routes/events';

export interface Harness {
  app: ReturnType<typeof buildGateway>;
  db: Firestore;
  jobs: JobStore;
  tenants: TenantStore;
  webhooks: WebhookStore;
  storage: BlobStore;
  streams: EventStreams;
  logLines: ReturnType<typeof memoryLog>['lines'];
  /** Keys of tenant A by scope set, and one of tenant B. */
  keys: { read: string; write: string; admin: string; readWrite: string; other: string };
  tenantA: string;
  tenantB: string;
  /** Messages seen on a topic (through a test subscription of our own). */
  published: (topic: TopicName) => Record<string, unknown>[];
  close(): Promise<void>;
}

/** A gateway on the emulators with two tenants; public DNS answers are pinned for webhook tests. */
export async function startHarness(
  name: string,
  options: {
    streams?: EventStreams;
    deps?: (ctx: { db: Firestore; tenants: TenantStore }) => Partial<GatewayDeps>;
    wrapJobs?: (jobs: JobStore) => JobStore;
  } = {},
): Promise<Harness> {
  requireEmulators();
  const projectId = uniqueProjectId(name);
  const db = createFirestore(projectId);
  const pubsub = new PubSub({ projectId });
  await provisionCatalogue(pubsub);
  const seen = new Map<string, Record<string, unknown>[]>();
  const subscriptions = await Promise.all(
    (['aiprod.job.requested.v1', 'aiprod.job.approved.v1', 'aiprod.job.finished.v1'] as const).map(async (topic) => {
      const [sub] = await pubsub.topic(topic).createSubscription(`${topic}.gateway-test`);
      sub.on('message', (m: Message) => {
        seen.set(topic, [...(seen.get(topic) ?? []), JSON.parse(m.data.toString()) as Record<string, unknown>]);
        m.ack();
      });
      return sub;
    }),
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
  const signingKey = Buffer.alloc(32, 7);
  const storage = createBlobStore({
    kind: 'local',
    rootDir: dataDir,
    publicBaseUrl: 'https://127.0.0.1:8443',
    signingKey,
  });
  const jobs = new JobStore(db);
  const tenants = new TenantStore(db);
  const webhooks = new WebhookStore(db);
  const { log, lines } = memoryLog();
  const streams = options.streams ?? new EventStreams({ maxStreams: 50, maxSeconds: 60, heartbeatMs: 15_000 });
  // example.com's documentation address stands in for a public host; internal.test for a private one.
  const resolveHost: ResolveHost = async (host) =>
    host === 'hooks.example.com' ? ['93.184.215.14'] : host === 'internal.example.com' ? ['10.0.0.7'] : [];
  const publisher = new Publisher(pubsub, 'gateway');
  const app = buildGateway({
    log,
    jobs: options.wrapJobs ? options.wrapJobs(jobs) : jobs,
    tenants,
    webhooks,
    publisher,
    storage,
    signingKey,
    outputUrlTtlSeconds: 3600,
    isReady: () => true,
    streams,
    resolveHost,
    ...options.deps?.({ db, tenants }),
  });

  const tenantA = 'tenant-a';
  const tenantB = 'tenant-b';
  await tenants.createTenant({ tenantId: tenantA, name: 'A' });
  await tenants.createTenant({ tenantId: tenantB, name: 'B' });
  const key = async (tenantId: string, scopes: ApiKeyScope[]) =>
    (await tenants.createApiKey(tenantId, scopes, 'test')).key;
  const keys = {
    read: await key(tenantA, ['jobs:read']),
    write: await key(tenantA, ['jobs:write']),
    readWrite: await key(tenantA, ['jobs:read', 'jobs:write']),
    admin: await key(tenantA, ['admin']),
    other: await key(tenantB, ['jobs:read', 'jobs:write', 'admin']),
  };

  return {
    app,
    db,
    jobs,
    tenants,
    webhooks,
    storage,
    streams,
    logLines: lines,
    keys,
    tenantA,
    tenantB,
    published: (topic) => seen.get(topic) ?? [],
    async close() {
      streams.closeAll();
      await Promise.all(subscriptions.map((s) => s.close()));
      await publisher.close();
      await pubsub.close();
      await db.terminate();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const BRIEF = {
  product: 'Aurora running shoe',
  brand: { name: 'Aurora', colors: ['#FF5A1F', '#1B1B3A'] },
  keyMessage: 'Run brighter',
  durationSeconds: 15,
  aspectRatios: ['9:16'],
  callToAction: 'Run brighter',
  metadata: { campaign: 'spring-26' },
};
