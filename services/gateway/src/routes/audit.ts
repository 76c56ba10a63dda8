import { Router, type RequestHandler } from 'express';
import { Type } from '@sinclair/typebox';
import {
  AUDIT_LIST_MAX_LIMIT,
  isAuditEventId,
  listAuditEvents,
  type ApiKeyScope,
  type AuditRecord,
} from '@aiprod/job-store';
import type { Firestore } from '@google-cloud/firestore';
import { decodeCursor, encodeCursor } from '../cursor';
import { HttpProblem } from '../problem';
import { parseQuery, tenantOf } from '../request';

const Closed = { additionalProperties: false } as const;

export const AuditQuerySchema = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: AUDIT_LIST_MAX_LIMIT, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'Opaque, from nextCursor.' })),
    jobId: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'Only requests about this job.' }),
    ),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Requests received at or after this time.' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Requests received before this time.' })),
  },
  Closed,
);

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const AuditEventSchema = Type.Object(
  {
    id: Type.String({ description: 'Sorts by time: the arrival time and the request id.' }),
    at: Type.String({ format: 'date-time', description: 'When the request arrived.' }),
    requestId: Type.String(),
    method: Type.String(),
    route: Type.Union([Type.String(), Type.Null()], {
      description: 'The route pattern (`/v1/jobs/:id`); null when no route matched.',
    }),
    jobId: NullableString,
    status: Type.Integer({ minimum: 100, maximum: 599 }),
    actor: Type.String({ description: "The API key's prefix, `oidc:<subject>` or `review:<jobId>`; never a secret." }),
    via: Type.String({ enum: ['api_key', 'oidc', 'review_link'] }),
    scope: Type.Union([Type.String(), Type.Null()], {
      description: 'The scope the request used (`admin` when it stood in for the one asked); null when none was.',
    }),
  },
  Closed,
);

export const AuditListSchema = Type.Object(
  {
    events: Type.Array(AuditEventSchema),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Absent more: null.' }),
  },
  Closed,
);

export interface AuditRoutesDeps {
  db: Firestore;
  requireScope: (scope: ApiKeyScope) => RequestHandler;
}

/** Bound to the filters it was made with, so a page of one query cannot continue another. */
const filtersOf = (q: { jobId?: string; since?: string; until?: string }) => [
  q.jobId ?? null,
  q.since ?? null,
  q.until ?? null,
];

const auditCursor = (lastId: string, filters: unknown[]): string => encodeCursor([lastId, ...filters]);

function auditAfter(text: string, filters: unknown[]): string {
  const [lastId] = decodeCursor(
    text,
    1 + filters.length,
    ([lastId, ...given]) =>
      typeof lastId === 'string' && isAuditEventId(lastId) && given.every((g, i) => g === filters[i]),
  );
  return lastId as string;
}

function instant(name: string, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const date = new Date(raw);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 9999) {
    throw new HttpProblem('validation', 'the query string is not valid', {
      errors: [{ field: `/query/${name}`, rule: 'format', message: 'must be an RFC 3339 date-time' }],
    });
  }
  return date;
}

export const auditEventView = (e: AuditRecord & { id: string }) => ({
  id: e.id,
  at: e.at.toDate().toISOString(),
  requestId: e.requestId,
  method: e.method,
  route: e.route,
  jobId: e.jobId,
  status: e.status,
  actor: e.keyPrefix,
  via: e.via,
  scope: e.scope,
});

/** GET /v1/audit: the caller's tenant's audit trail (admin only), newest first. */
export function auditRoutes(deps: AuditRoutesDeps): Router {
  const router = Router();
  router.get('/v1/audit', deps.requireScope('admin'), async (req, res) => {
    const query = parseQuery(req, AuditQuerySchema, ['limit']);
    const since = instant('since', query.since);
    const until = instant('until', query.until);
    const filters = filtersOf(query);
    const afterId = query.cursor ? auditAfter(query.cursor, filters) : undefined;
    const page = await listAuditEvents(deps.db, tenantOf(req), {
      limit: query.limit ?? 50,
      ...(afterId ? { afterId } : {}),
      ...(query.jobId ? { jobId: query.jobId } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
    });
    res.json({
      events: page.events.map(auditEventView),
      nextCursor: page.lastId ? auditCursor(page.lastId, filters) : null,
    });
  });
  return router;
}
