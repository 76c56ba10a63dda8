import { AUDIT_LIST_MAX_LIMIT } from '@aiprod/job-store';
import { AuditListSchema, AuditQuerySchema } from '../routes/audit';
import type { OperationSpec } from './document';

export const AUDIT_COMPONENTS = { AuditList: AuditListSchema };

/** The audit trail: the access log's authenticated requests, kept 400 days per tenant. */
export const AUDIT_OPERATIONS: OperationSpec[] = [
  {
    method: 'get',
    path: '/v1/audit',
    operationId: 'listAuditEvents',
    summary: "Who did what to which job, and when: the tenant's authenticated requests, newest first.",
    description: `Every authenticated request of the tenant's keys and tokens: when it arrived, its method and route pattern, the job it touched, the answer's status, the key's prefix or the token's subject, and the scope it used; never a query string, a body or a credential. Records appear within a few seconds of the request and are kept 400 days. \`limit\` 1..${AUDIT_LIST_MAX_LIMIT} (default 50); \`since\` is inclusive, \`until\` exclusive; a cursor continues only the query it came from.`,
    access: 'admin',
    tag: 'operations',
    query: AuditQuerySchema,
    success: { 200: { description: 'A page of audit events.', ref: 'AuditList' } },
    problems: [400],
  },
];
