import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { JobStore, TenantStore } from '@aiprod/job-store';
import type { Log, Publisher } from '@aiprod/pubsub';
import type { BlobStore } from '@aiprod/storage';
import { HttpProblem, sendProblem } from './problem';
import { fileRoutes } from './routes/files';
import { jobRoutes } from './routes/jobs';

export interface GatewayDeps {
  log: Log;
  jobs: JobStore;
  tenants: TenantStore;
  publisher: Publisher;
  storage: BlobStore;
  /** Only for the local store: the key its signed links are made with. */
  signingKey?: Buffer;
  outputUrlTtlSeconds: number;
  isReady: () => boolean;
}

/** Builds the gateway without listening (main.ts listens; tests drive it with supertest). */
export function buildGateway(deps: GatewayDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(helmet());
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    req.requestId = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // The audit trail: who did what, never the credential or a signed URL.
      deps.log.info('request', {
        requestId: req.requestId,
        method: req.method,
        path: req.path.startsWith('/files/') ? '/files/[redacted]' : req.path,
        status: res.statusCode,
        tenantId: req.principal?.tenantId,
        keyPrefix: req.principal?.keyPrefix,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      });
    });
    next();
  });

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', (_req, res) => void res.status(deps.isReady() ? 200 : 503).json({ ready: deps.isReady() }));
  if (deps.storage.kind === 'local' && deps.signingKey) app.use(fileRoutes(deps.storage, deps.signingKey));

  app.use('/v1', (req, _res, next) => {
    if (req.method === 'POST' && !req.is('application/json')) {
      return next(new HttpProblem('unsupported_media_type', 'send the body as application/json'));
    }
    next();
  });
  app.use('/v1', express.json({ limit: '64kb', strict: true }));
  app.use('/v1', jobRoutes(deps));

  app.use((req, _res, next) => next(new HttpProblem('not_found', `no route for ${req.method} ${req.path}`)));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const instance = req.originalUrl.startsWith('/files/') ? '/files/[redacted]' : req.originalUrl.split('?')[0]!;
    if (error instanceof HttpProblem) return sendProblem(res, error, instance, req.requestId);
    const status = (error as { status?: number; type?: string }).status;
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large')
      return sendProblem(
        res,
        new HttpProblem('payload_too_large', 'the body is larger than 64 KiB'),
        instance,
        req.requestId,
      );
    if (type === 'entity.parse.failed')
      return sendProblem(res, new HttpProblem('validation', 'the body is not valid JSON'), instance, req.requestId);
    if (status && status >= 400 && status < 500)
      return sendProblem(res, new HttpProblem('validation', 'the request is malformed'), instance, req.requestId);
    deps.log.error('unhandled error', { requestId: req.requestId, error });
    sendProblem(
      res,
      new HttpProblem('internal', 'an internal error occurred; quote the request id'),
      instance,
      req.requestId,
    );
  });
  return app;
}
