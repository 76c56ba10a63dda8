import type { SpeechEngineName } from '@aiprod/speech';
import type { BackendName } from '@aiprod/contracts';
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import {
  EstimateStore,
  planVersionOf,
  type AssetStore,
  type AuditTrail,
  type Job,
  type JobStore,
  type PlanStore,
  type TenantStore,
  type WebhookStore,
} from '@aiprod/job-store';
import type { Log, Publisher } from '@aiprod/pubsub';
import type { BlobStore } from '@aiprod/storage';
import type { ResolveHost } from '@aiprod/webhooks';
import { authenticate, requireScope } from './auth';
import type { AuthFailureLimiter } from './auth-failure-limit';
import type { OidcVerifier } from './oidc';
import { corsAllowList } from './cors';
import { HttpProblem, sendProblem } from './problem';
import { assetRoutes, briefAssetsOwned } from './routes/assets';
import { auditRoutes } from './routes/audit';
import { costRoutes } from './routes/costs';
import { docsRoutes } from './routes/docs';
import { estimateRoutes } from './routes/estimates';
import { EventStreams, eventRoutes, SSE_HEARTBEAT_MS } from './routes/events';
import { fileRoutes } from './routes/files';
import { jobRoutes } from './routes/jobs';
import { openApiRoutes } from './routes/openapi';
import { outputRoutes } from './routes/outputs';
import { planRoutes } from './routes/plan';
import { presetRoutes } from './routes/presets';
import { problemRoutes } from './routes/problems';
import { requestMetrics } from './request-metrics';
import { confineReviewLinks, type ReviewLinks } from './review-links';
import { reviewRoutes } from './routes/review';
import { webhookRoutes } from './routes/webhook';
import { serverSpans } from './tracing';

export interface GatewayDeps {
  log: Log;
  jobs: JobStore;
  /** The plan's versions: edits, change requests and approvals. */
  plans: PlanStore;
  tenants: TenantStore;
  webhooks: WebhookStore;
  publisher: Publisher<'gateway'>;
  storage: BlobStore;
  /** Tenants' uploaded reference images (POST /v1/assets), which briefs may name. */
  assets: AssetStore;
  /** Only for the local store: the key its signed links are made with. */
  signingKey?: Buffer;
  outputUrlTtlSeconds: number;
  isReady: () => boolean;
  /** The open SSE streams; main.ts keeps it to close them on shutdown. */
  streams?: EventStreams;
  /** Browser origins allowed by CORS; empty or absent: CORS off. */
  corsAllowedOrigins?: readonly string[];
  /** Local mode: webhooks may be plain http to loopback. */
  allowLoopbackHttp?: boolean;
  webhookSecretOverlapSeconds?: number;
  /** DNS for the webhook SSRF guard (tests pin it). */
  resolveHost?: ResolveHost;
  /** Accept OIDC JWTs besides API keys. */
  oidc?: OidcVerifier;
  /** How long a verified API key is trusted before its record is read again (default 0: never cached). */
  apiKeyCacheMs?: number;
  /** Failed authentications per client address, checked before any database read (absent: not enforced). */
  authFailureLimit?: AuthFailureLimiter;
  /** Proxies in front whose X-Forwarded-For is believed for the client address (default 0). */
  trustProxyHops?: number;
  /** Per-tenant request limit on every authenticated /v1 request (absent: not enforced). */
  rateLimit?: BackgroundHandler;
  /** Idempotency-Key on POST /v1/jobs, cancel and POST /v1/estimates (absent: the header is ignored). */
  idempotency?: BackgroundHandler;
  /** Tenant quotas on POST /v1/jobs (absent: not enforced). */
  jobQuotas?: BackgroundHandler;
  /** The tenant's daily estimate quota on POST /v1/estimates (absent: not enforced). */
  estimateQuotas?: BackgroundHandler;
  /** The render pools this deployment runs; plan edits may use only these (default: local). */
  enabledBackends?: readonly BackendName[];
  /** Estimate records the planner answers (default: on the job store's database). */
  estimates?: EstimateStore;
  /** How long POST /v1/estimates waits for the planner before answering 202 (default 10 s). */
  estimateWaitMs?: number;
  /** The planner translates a brief's further languages (PLANNER_TRANSLATOR); default: it does not. */
  translator?: boolean;
  /** The deployment's speech engine (SPEECH_ENGINE), whose languages a brief may ask for; default espeak-ng. */
  speechEngine?: SpeechEngineName;
  /** Signs and checks review links (absent: no links are made and none is accepted). */
  reviewLinks?: ReviewLinks;
  /** The gateway's public origin, for the links it hands out (absent: the request's host). */
  publicBaseUrl?: string;
  /** Asks for a free preview of a plan version a client's edit made (absent: none). */
  requestPreview?: (job: Job) => Promise<void>;
  /** Keeps each authenticated request in the tenant's audit trail (absent: the access log only). */
  audit?: AuditTrail;
}

/** Middleware that may start Firestore work it does not wait for; close() waits for it. */
export type BackgroundHandler = RequestHandler & { close?: () => Promise<void> };

/** The gateway app; close() waits for the Firestore work its requests left running (see main.ts). */
export type Gateway = express.Express & { close(): Promise<void> };

export const BODY_LIMIT_BYTES = 64 * 1024;
/** ESTIMATE_WAIT_MS's default, for tests and embedders that do not set it. */
export const DEFAULT_ESTIMATE_WAIT_MS = 10_000;
const redactPath = (path: string) => (path.startsWith('/files/') ? '/files/[redacted]' : path);

/**
 * Builds the gateway without listening (main.ts listens; tests drive it with supertest). Call
 * close() after the last request and before terminating the Firestore client.
 */
export function buildGateway(deps: GatewayDeps): Gateway {
  const streams =
    deps.streams ?? new EventStreams({ maxStreams: 1000, maxSeconds: 3600, heartbeatMs: SSE_HEARTBEAT_MS });
  const app = express();
  app.disable('x-powered-by');
  // The client address keys the failed-authentication limit: behind a load balancer it is the
  // hop that balancer added, never an X-Forwarded-For entry the client could write itself.
  app.set('trust proxy', deps.trustProxyHops ? deps.trustProxyHops : false);
  // First: everything a request does runs inside its server span.
  app.use(serverSpans());
  app.use(helmet());
  app.use(requestMetrics());
  app.use(requestContext(deps.log, deps.audit));
  app.use(corsAllowList(deps.corsAllowedOrigins ?? []));

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', (_req, res) => void res.status(deps.isReady() ? 200 : 503).json({ ready: deps.isReady() }));
  app.use(openApiRoutes());
  app.use(docsRoutes());
  app.use(problemRoutes());
  if (deps.storage.kind === 'local' && deps.signingKey) app.use(fileRoutes(deps.storage, deps.signingKey));

  // Everything under /v1 below needs a key or token, checked before the body is even parsed; an
  // unknown /v1 path is 401 before it is 404, so routes are not discoverable without credentials.
  // Failed authentications are limited per client address first: checking a key reads Firestore.
  if (deps.authFailureLimit) app.use('/v1', deps.authFailureLimit.before);
  const auth = authenticate({
    tenants: deps.tenants,
    log: deps.log,
    ...(deps.apiKeyCacheMs ? { apiKeyCacheMs: deps.apiKeyCacheMs } : {}),
    ...(deps.oidc ? { oidc: deps.oidc } : {}),
    ...(deps.reviewLinks ? { reviewLinks: deps.reviewLinks } : {}),
  });
  app.use('/v1', auth);
  // A review link opens its own job and nothing else.
  app.use('/v1', confineReviewLinks);
  if (deps.authFailureLimit) app.use('/v1', deps.authFailureLimit.after);
  // Counted per tenant, after authentication: anonymous requests are refused before they cost more.
  if (deps.rateLimit) app.use('/v1', deps.rateLimit);
  const briefOptions = { translator: deps.translator ?? false, speechEngine: deps.speechEngine ?? 'espeak-ng' };
  const scoped = { requireScope: requireScope as (scope: Parameters<typeof requireScope>[0]) => RequestHandler };
  // Before the JSON-only rule: an upload's body is the image itself.
  app.use(assetRoutes({ ...scoped, assets: deps.assets, storage: deps.storage }));
  app.use('/v1', (req, _res, next) => {
    // Only a body that is there must be JSON: cancel and approve are bodiless POSTs.
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (hasBody && req.is('application/json') === false) {
      return next(new HttpProblem('unsupported_media_type', 'send the body as application/json'));
    }
    next();
  });
  app.use('/v1', express.json({ limit: BODY_LIMIT_BYTES, strict: true }));

  app.use(
    jobRoutes({
      ...scoped,
      jobs: deps.jobs,
      publisher: deps.publisher,
      storage: deps.storage,
      assets: deps.assets,
      outputUrlTtlSeconds: deps.outputUrlTtlSeconds,
      briefOptions,
      log: deps.log,
      ...(deps.idempotency ? { idempotency: deps.idempotency } : {}),
      ...(deps.jobQuotas ? { jobQuotas: deps.jobQuotas } : {}),
    }),
  );
  app.use(
    planRoutes({
      ...scoped,
      jobs: deps.jobs,
      plans: deps.plans,
      publisher: deps.publisher,
      storage: deps.storage,
      outputUrlTtlSeconds: deps.outputUrlTtlSeconds,
      enabledBackends: deps.enabledBackends ?? ['local'],
      log: deps.log,
      // A client's edit makes a new version: delivery renders its free preview.
      requestPreview:
        deps.requestPreview ??
        (async (job: Job) => {
          await deps.publisher.publish('aiprod.preview.requested.v1', {
            v: 1,
            jobId: job.jobId,
            tenantId: job.tenantId,
            planVersion: planVersionOf(job),
          });
        }),
    }),
  );
  app.use(eventRoutes({ ...scoped, jobs: deps.jobs, streams }));
  app.use(
    outputRoutes({ ...scoped, jobs: deps.jobs, storage: deps.storage, outputUrlTtlSeconds: deps.outputUrlTtlSeconds }),
  );
  app.use(costRoutes({ ...scoped, jobs: deps.jobs }));
  // An estimate refuses a brief naming another tenant's asset as a job would.
  // Middleware, not a second route: the router lists each route once (the OpenAPI test checks it).
  const assetsOwned = briefAssetsOwned(deps.assets, briefOptions);
  app.use('/v1/estimates', (req, res, next) => (req.method === 'POST' ? assetsOwned(req, res, next) : next()));
  app.use(
    estimateRoutes({
      ...scoped,
      estimates: deps.estimates ?? new EstimateStore(deps.jobs.db),
      publisher: deps.publisher,
      waitMs: deps.estimateWaitMs ?? DEFAULT_ESTIMATE_WAIT_MS,
      briefOptions,
      log: deps.log,
      ...(deps.idempotency ? { idempotency: deps.idempotency } : {}),
      ...(deps.estimateQuotas ? { estimateQuotas: deps.estimateQuotas } : {}),
    }),
  );
  app.use(presetRoutes(scoped));
  app.use(auditRoutes({ ...scoped, db: deps.jobs.db }));
  if (deps.reviewLinks) {
    app.use(
      reviewRoutes({
        ...scoped,
        jobs: deps.jobs,
        links: deps.reviewLinks,
        ...(deps.publicBaseUrl ? { publicBaseUrl: deps.publicBaseUrl } : {}),
      }),
    );
  }
  app.use(
    webhookRoutes({
      ...scoped,
      webhooks: deps.webhooks,
      allowLoopbackHttp: deps.allowLoopbackHttp ?? false,
      secretOverlapSeconds: deps.webhookSecretOverlapSeconds ?? 24 * 3600,
      ...(deps.resolveHost ? { resolve: deps.resolveHost } : {}),
    }),
  );

  app.use((req, _res, next) =>
    next(new HttpProblem('not_found', `no route for ${req.method} ${redactPath(req.path)}`)),
  );
  app.use(problemHandler(deps.log));
  // Background leases, recounts and writes the middleware started and nobody awaits: a read
  // started after the Firestore client is terminated would be an unhandled rejection.
  const background: BackgroundHandler[] = [
    auth,
    deps.rateLimit,
    deps.idempotency,
    deps.jobQuotas,
    deps.estimateQuotas,
  ].filter((h): h is BackgroundHandler => h !== undefined);
  return Object.assign(app, {
    close: async () => {
      await Promise.all(background.map((h) => h.close?.()));
      // Last: the audit records of every request above, written before the client is terminated.
      await deps.audit?.close();
    },
  });
}

/**
 * Request ids and the access log, which is the audit trail: who (tenant and key prefix or OIDC
 * subject), what (method and route pattern), which job, the outcome. Never the query string
 * (signed links carry their signature there), never a /files path, never a credential.
 */
function requestContext(log: Log, audit?: AuditTrail): RequestHandler {
  return (req, res, next) => {
    const arrivedAt = new Date();
    const given = req.get('x-request-id');
    req.requestId = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.requestId);
    const started = process.hrtime.bigint();
    // 'close' also fires when the client goes away first (an SSE stream), unlike 'finish'.
    res.once('close', () => {
      const principal = req.principal as (Request['principal'] & { subject?: string }) | undefined;
      const route = req.route ? `${req.baseUrl}${String((req.route as { path: string }).path)}` : null;
      const jobId = (res.locals.jobId as string | undefined) ?? undefined;
      // The same event as data, for GET /v1/audit: buffered here, written after the response.
      if (audit && principal?.tenantId) {
        audit.record(principal.tenantId, {
          at: arrivedAt,
          requestId: req.requestId,
          method: req.method,
          route,
          jobId: jobId ?? null,
          status: res.statusCode,
          keyPrefix: principal.keyPrefix,
          subject: principal.subject ?? null,
          via: principal.via,
          scope: (res.locals.scope as string | undefined) ?? null,
        });
      }
      log.info('request', {
        requestId: req.requestId,
        method: req.method,
        route,
        path: redactPath(req.path),
        status: res.statusCode,
        completed: res.writableFinished,
        tenantId: principal?.tenantId,
        keyPrefix: principal?.keyPrefix,
        subject: principal?.subject,
        // Why authentication failed (set by authenticate), never the credential itself.
        authFailure: (res.locals.authFailure as string | undefined) ?? undefined,
        jobId,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      });
    });
    next();
  };
}

function problemHandler(log: Log) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const instance = redactPath(req.originalUrl.split('?')[0]!);
    if (res.headersSent) {
      // A streaming response failed midway: nothing can be said any more but to end it.
      log.warn('error after the response started', { requestId: req.requestId });
      return void res.end();
    }
    if (error instanceof HttpProblem) return sendProblem(res, error, instance, req.requestId);
    const status = (error as { status?: number }).status;
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large')
      return sendProblem(
        res,
        new HttpProblem('payload_too_large', `the body is larger than ${BODY_LIMIT_BYTES / 1024} KiB`),
        instance,
        req.requestId,
      );
    if (type === 'entity.parse.failed')
      return sendProblem(res, new HttpProblem('validation', 'the body is not valid JSON'), instance, req.requestId);
    if (status === 415)
      return sendProblem(
        res,
        new HttpProblem('unsupported_media_type', 'send the body as UTF-8 application/json, uncompressed'),
        instance,
        req.requestId,
      );
    if (status && status >= 400 && status < 500)
      return sendProblem(res, new HttpProblem('validation', 'the request is malformed'), instance, req.requestId);
    log.error('unhandled error', {
      requestId: req.requestId,
      error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
    });
    sendProblem(
      res,
      new HttpProblem('internal', 'an internal error occurred; quote the request id'),
      instance,
      req.requestId,
    );
  };
}
