import type { NextFunction, Request, Response } from 'express';
import type { ApiKeyScope, TenantStore } from '@aiprod/job-store';
import { HttpProblem } from './problem';

export interface Principal {
  tenantId: string;
  scopes: ApiKeyScope[];
  keyPrefix: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      principal?: Principal;
      requestId: string;
    }
  }
}

/** API-key authentication: `Authorization: Bearer aiprod_<env>_…`, looked up by its SHA-256. */
export function authenticate(tenants: TenantStore) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new HttpProblem('unauthenticated', 'send an API key as "Authorization: Bearer <key>"'));
    const record = await tenants.findActiveApiKey(match[1]!);
    if (!record) return next(new HttpProblem('unauthenticated', 'the API key is not valid'));
    req.principal = { tenantId: record.tenantId, scopes: record.scopes, keyPrefix: record.prefix };
    next();
  };
}

export function requireScope(scope: ApiKeyScope) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const scopes = req.principal?.scopes ?? [];
    if (scopes.includes(scope) || scopes.includes('admin')) return next();
    next(new HttpProblem('forbidden', `this action needs the ${scope} scope`));
  };
}
