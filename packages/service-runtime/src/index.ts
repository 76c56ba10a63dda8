import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PubSub } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import { recordDeadLetter, type DeadLetterInfo } from './dead-letters';
import { parseStateDeadlines } from './env';
import { recordingHandled } from './handled-ledger';
import { failJob } from './fail-job';
import { startSweeper, type SweepPolicies } from './sweeper';
import { subscriptionsFor, type BackendName, type ServiceName, type TopicName } from '@aiprod/contracts';
import { createFirestore, JobStore, MessageLedger, type EstimateStore } from '@aiprod/job-store';
import {
  Publisher,
  startConsumer,
  startDeadLetterWatcher,
  type HandlerDef,
  type Log,
  type OutcomeRecorder,
  type RunningConsumer,
  type TopicPublisher,
} from '@aiprod/pubsub';

/** How often a service looks for overdue jobs in the states it owns, unless the service says. */
const SWEEP_INTERVAL_MS = 30_000;
/** Cloud Run sends SIGKILL 10 s after SIGTERM: be done (or handed back) a second before then. */
const SHUTDOWN_HARD_STOP_MS = 9_000;

/** What every service needs; built once in main.ts and passed down. It publishes as service S. */
export interface CoreDeps<S extends ServiceName> {
  log: Log;
  db: Firestore;
  pubsub: PubSub;
  jobs: JobStore;
  ledger: MessageLedger;
  publisher: Publisher<S>;
}

export function createCoreDeps<S extends ServiceName>(
  service: S,
  options: {
    projectId: string;
    log: Log;
    stateDeadlines?: string;
  },
): CoreDeps<S> {
  const db = createFirestore(options.projectId);
  const pubsub = new PubSub({ projectId: options.projectId });
  const jobs = new JobStore(db, parseStateDeadlines(options.stateDeadlines));
  return {
    log: options.log,
    db,
    pubsub,
    jobs,
    ledger: new MessageLedger(db, jobs),
    // Messages published outside any span (sweeps, pollers, replays) join their job's trace.
    publisher: new Publisher(pubsub, service, (jobId) => jobs.traceparentOf(jobId)),
  };
}

/** What the shared runtime needs of a service's deps: it only ever publishes job.finished (failJob). */
type RuntimeDeps = Omit<CoreDeps<ServiceName>, 'publisher'> & {
  publisher: TopicPublisher<'aiprod.job.finished.v1'> & { close(): Promise<void> };
  /** Answered FAILED when an estimate request dead-letters (default: on the job store's database). */
  estimates?: EstimateStore;
};

export function outcomeRecorder(deps: RuntimeDeps): OutcomeRecorder {
  return {
    invalidMessage: (info) => deps.ledger.recordInvalid(info),
    permanentFailure: (info) =>
      failJob(deps, { jobId: info.jobId, tenantId: info.tenantId }, info.error.reason, info.error.message),
  };
}

export interface RunningService {
  /** Resolves once every subscription is open. */
  ready: boolean;
  close(): Promise<void>;
}

export interface WorkerServiceOptions<S extends ServiceName = ServiceName> {
  service: S;
  backend?: BackendName;
  deps: RuntimeDeps;
  handlers: Partial<Record<TopicName, HandlerDef<TopicName>>>;
  port: number;
  host: string;
  maxConcurrent?: number;
  /** Lease extension bound for long handlers (render pools). */
  maxLeaseMinutes?: number;
  /** The longest single lease extension (render pools: a killed worker's message comes back sooner). */
  maxAckExtensionSeconds?: number;
  /** The job states this service sweeps when overdue (those SWEEPERS gives it), and how. */
  sweep?: SweepPolicies<S>;
  sweepIntervalMs?: number;
  /** Says why a dead letter no longer matters (its step was done by another message), or null. */
  deadLetterSuperseded?: (letter: DeadLetterInfo) => Promise<string | null>;
  /** Extra work to stop on shutdown. */
  onClose?: () => Promise<void>;
  /** Serves GET /metrics (the telemetry handle's Prometheus text). Worker pools have no ingress on
   *  Cloud Run, so this port is reachable only by a local Prometheus. */
  metricsHandler?: MetricsHandler;
}

export type MetricsHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Starts a worker: one consumer per subscription the catalogue gives this service (and backend),
 * a watcher on each of their dead-letter topics, and a health endpoint (Cloud Run needs one).
 * SIGTERM stops pulling, lets in-flight messages finish (8 s), then closes the clients.
 */
export async function runWorkerService<S extends ServiceName>(
  options: WorkerServiceOptions<S>,
): Promise<RunningService> {
  const { deps, service } = options;
  const specs = subscriptionsFor(service, options.backend);
  const consumers: RunningConsumer[] = [];
  const recorder = outcomeRecorder(deps);
  for (const spec of specs) {
    const handler = options.handlers[spec.topic];
    if (!handler) throw new Error(`${service} has no handler for ${spec.topic}`);
    consumers.push(
      startConsumer({
        pubsub: deps.pubsub,
        spec,
        handler: recordingHandled(handler, deps.ledger),
        log: deps.log,
        recorder,
        maxConcurrent: options.maxConcurrent,
        ...(options.maxLeaseMinutes ? { maxLeaseMinutes: options.maxLeaseMinutes } : {}),
        ...(options.maxAckExtensionSeconds ? { maxAckExtensionSeconds: options.maxAckExtensionSeconds } : {}),
      }),
      startDeadLetterWatcher({
        pubsub: deps.pubsub,
        spec,
        log: deps.log,
        onDeadLetter: (letter) => recordDeadLetter(deps, letter, options.deadLetterSuperseded),
      }),
    );
  }
  const sweeper = options.sweep
    ? startSweeper({
        jobs: deps.jobs,
        publisher: deps.publisher,
        log: deps.log,
        policies: options.sweep,
        intervalMs: options.sweepIntervalMs ?? SWEEP_INTERVAL_MS,
      })
    : undefined;
  const state: RunningService = { ready: false, close: async () => undefined };
  const server = await startHealthServer(options.port, options.host, () => state.ready, options.metricsHandler);
  state.ready = true;
  let closing: Promise<void> | undefined;
  state.close = () => {
    closing ??= (async () => {
      state.ready = false;
      await Promise.allSettled([...consumers.map((c) => c.close()), sweeper?.stop()]);
      await options.onClose?.();
      await deps.publisher.close();
      await Promise.allSettled([deps.pubsub.close(), deps.db.terminate()]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })();
    return closing;
  };
  deps.log.info(`${service} started`, { subscriptions: specs.map((s) => s.name), port: options.port });
  return state;
}

export function startHealthServer(
  port: number,
  host: string,
  isReady: () => boolean,
  metricsHandler?: MetricsHandler,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics' && metricsHandler && req.method === 'GET') {
      metricsHandler(req, res);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const ready = isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready }));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** Wires SIGTERM/SIGINT to a graceful close, then exits; a second signal exits at once. */
export function exitOnSignals(close: () => Promise<void>, log: Log): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info('shutting down', { signal });
    const hardStop = setTimeout(() => process.exit(1), SHUTDOWN_HARD_STOP_MS);
    hardStop.unref();
    close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        log.error('shutdown failed', { error });
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

export * from './dead-letters';
export * from './env';
export * from './fail-job';
export * from './handled-ledger';
export * from './replay';
export * from './sweeper';
export * from './retention';
