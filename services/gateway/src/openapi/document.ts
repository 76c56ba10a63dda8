import { Type, type TSchema } from '@sinclair/typebox';
import { BriefSchema, JobEstimateSchema, PresetsViewSchema, PROBLEM_TYPES } from '@aiprod/contracts';
import { AssetViewSchema } from '../routes/assets';
import { ASSET_OPERATIONS, requestBodyOf } from './asset-operations';
import { AUDIT_COMPONENTS, AUDIT_OPERATIONS } from './audit-operations';
import { ReviewLinkRequestSchema, ReviewLinkSchema } from '../routes/review';
import {
  CostsViewSchema,
  ErasedJobViewSchema,
  HealthSchema,
  JobListQuerySchema,
  JobListSchema,
  JobViewSchema,
  OpenApiDocumentSchema,
  OutputsQuerySchema,
  OutputsViewSchema,
  ReadySchema,
  WebhookPutSchema,
  WebhookViewSchema,
  problemKindsByStatus,
  problemSchema,
} from './schemas';
import { problemExamples } from './examples';
import { API_INFO, serversFor } from './info';
import { FILE_OPERATION, PAGE_OPERATIONS } from './pages';
import { ESTIMATE_COMPONENTS, ESTIMATE_OPERATIONS } from './estimate-operations';
import { IF_MATCH, PLAN_COMPONENTS, PLAN_OPERATIONS } from './plan-operations';
import { EVERY_OPERATION_4XX, IDEMPOTENCY_KEY, RESPONSE_HEADERS } from './responses';
import { webhookSection } from './webhooks';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** Who may call an operation: nobody needs to authenticate (public) or a key/token with the scope. */
export type Access = 'public' | 'jobs:read' | 'jobs:write' | 'jobs:approve' | 'admin';

export interface OperationSpec {
  method: Method;
  /** OpenAPI form: /v1/jobs/{id}. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  access: Access;
  tag: string;
  pathParams?: Record<string, TSchema>;
  query?: TSchema;
  headers?: Record<string, { schema: TSchema; description: string; required?: boolean }>;
  body?: { schema: TSchema; ref: string };
  /** A body that is a file, not JSON: its accepted media types. */
  fileBody?: { mediaTypes: readonly string[]; description: string };
  /** Success responses: status → JSON schema (a component name), another media type, or no body. */
  success: Record<
    number,
    {
      description: string;
      ref?: string;
      schema?: TSchema;
      mediaTypes?: string[];
      headers?: string[];
      /** Named examples of the JSON body. */
      examples?: Record<string, unknown>;
    }
  >;
  /** Statuses answered with application/problem+json, besides the ones every operation may give. */
  problems: number[];
}

const JOB_ID_PARAM = { id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'Job id.' }) };
const AUTHED_PROBLEMS = [401, 403, 429];
const JOB_VIEW = { description: 'The job.', ref: 'JobView' };

/**
 * Every route the gateway serves. The OpenAPI document is generated from this list and the
 * TypeBox schemas the routes validate with; a test walks the express router and checks that the
 * two list the same routes, and validates real responses against these schemas.
 */
export const OPERATIONS: OperationSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    summary: 'Liveness: the process answers.',
    access: 'public',
    tag: 'operations',
    success: { 200: { description: 'Alive.', schema: HealthSchema } },
    problems: [],
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'ready',
    summary: 'Readiness: the process accepts traffic (503 while starting or draining).',
    access: 'public',
    tag: 'operations',
    success: {
      200: { description: 'Ready.', schema: ReadySchema },
      503: { description: 'Starting or shutting down.', schema: ReadySchema },
    },
    problems: [],
  },
  {
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'openapi',
    summary: 'This OpenAPI 3.1 document.',
    description: 'Public like the health checks: it describes the API, it holds no tenant data.',
    access: 'public',
    tag: 'operations',
    success: { 200: { description: 'The document.', schema: OpenApiDocumentSchema } },
    problems: [],
  },
  FILE_OPERATION,
  ...PAGE_OPERATIONS,
  {
    method: 'post',
    path: '/v1/jobs',
    operationId: 'createJob',
    summary: 'Submit a brief; the job is created QUEUED and planned asynchronously.',
    access: 'jobs:write',
    tag: 'jobs',
    headers: IDEMPOTENCY_KEY,
    body: { schema: BriefSchema, ref: 'Brief' },
    success: {
      202: {
        ...JOB_VIEW,
        description: 'Accepted: follow Location or the events.',
        headers: ['Location', 'Idempotent-Replayed'],
      },
    },
    // 410: an Idempotency-Key retried after its job was erased (DELETE /v1/jobs/{id}).
    problems: [400, 409, 410, 413, 415, 422, 503],
  },
  {
    method: 'get',
    path: '/v1/jobs',
    operationId: 'listJobs',
    summary: "The tenant's jobs, newest first, a page at a time.",
    access: 'jobs:read',
    tag: 'jobs',
    query: JobListQuerySchema,
    success: { 200: { description: 'A page of jobs.', ref: 'JobList' } },
    problems: [400],
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}',
    operationId: 'getJob',
    summary: 'One job with its shots, timeline and signed outputs.',
    access: 'jobs:read',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    success: { 200: JOB_VIEW },
    problems: [404],
  },
  {
    method: 'delete',
    path: '/v1/jobs/{id}',
    operationId: 'eraseJob',
    summary: 'Erase a job: its files and creative content, for good; a tombstone stays for billing.',
    description:
      'A job still running is canceled first (its renders stop), then every file under the job (shots, evidence frames, outputs, captions, voice tracks, previews, references) and its brief, plan, prompts, timeline and share links are erased. What stays is a tombstone: the status it ended in, its cost, when it was erased. While a canceled shot is still stopping at its vendor (its record is what lets its pool cancel the task and book the cost) it answers 503 with Retry-After and erases nothing: send it again. Repeating it answers the same 200; afterwards every other route of the job answers 410 Gone, and the job list shows the tombstone with `erasedAt`. A review link cannot erase its job.',
    access: 'jobs:write',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    headers: IDEMPOTENCY_KEY,
    success: {
      200: { description: 'The tombstone of the erased job.', ref: 'ErasedJob', headers: ['Idempotent-Replayed'] },
    },
    problems: [404, 422, 503],
  },
  {
    method: 'post',
    path: '/v1/jobs/{id}/cancel',
    operationId: 'cancelJob',
    summary: 'Cancel a job that has not finished; repeating it is harmless.',
    description:
      'Any non-terminal job becomes CANCELED; pending vendor renders are cancelled where the vendor supports it. A job already CANCELED answers 200 again; a DELIVERED or FAILED job is 409.',
    access: 'jobs:write',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    headers: IDEMPOTENCY_KEY,
    success: { 200: { ...JOB_VIEW, description: 'The canceled job.', headers: ['Idempotent-Replayed'] } },
    problems: [404, 409, 422, 503],
  },
  {
    method: 'post',
    path: '/v1/jobs/{id}/approve',
    operationId: 'approveJob',
    summary: 'Approve one version of a plan parked in AWAITING_APPROVAL; exactly that version is rendered.',
    description:
      'Needs the `jobs:approve` scope (a key that only submits jobs cannot approve its own spend). If-Match names the version approved: missing is 428; a version that is no longer current is 412 and changes nothing. Once approved the plan no longer changes; repeating the same approval is harmless.',
    access: 'jobs:approve',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    headers: IF_MATCH(true, 'required'),
    success: { 202: { ...JOB_VIEW, description: 'Approval sent; the job moves to RENDERING.', headers: ['ETag'] } },
    problems: [404, 409, 412, 428, 503],
  },
  ...PLAN_OPERATIONS,
  {
    method: 'post',
    path: '/v1/jobs/{id}/review-link',
    operationId: 'createReviewLink',
    summary: "A share link to the job's review page, for someone without an API key.",
    description:
      "The link opens this job's review page (storyboard, preview, approve, request changes, cancel, live progress, the delivered files) and nothing else. It grants at most the caller's own scopes among jobs:read, jobs:write and jobs:approve, and expires (default 7 days, at most 30). Its token travels in the URL fragment, which browsers never send to a server. Only the gateway's REVIEW_LINK_SECRET can make one; rotating the secret revokes every link.",
    access: 'jobs:read',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    body: { schema: ReviewLinkRequestSchema, ref: 'ReviewLinkRequest' },
    success: { 201: { description: 'The link.', schema: ReviewLinkSchema } },
    problems: [400, 404],
  },
  {
    method: 'get',
    path: '/review/{id}',
    operationId: 'reviewPage',
    summary: "The review page of a job (HTML); it reads the job with the token of its link's fragment.",
    description: 'Public: the page is a static shell that holds no data; everything it shows is read with the link.',
    access: 'public',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    success: { 200: { description: 'The page.', mediaTypes: ['text/html'] } },
    problems: [],
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/events',
    operationId: 'streamJobEvents',
    summary: "Server-Sent Events: the job's timeline, live.",
    description:
      'Each event has `id:` (send it back as Last-Event-ID to resume), `event:` (the type) and `data:` (JSON, the JobEvent shape). A comment line every 15 s keeps the connection alive. The stream ends after the event that makes the job DELIVERED, FAILED or CANCELED, when the job was already over, and after at most SSE_MAX_SECONDS.',
    access: 'jobs:read',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    headers: {
      'Last-Event-ID': {
        schema: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,200}$' }),
        description: 'Resume after this event id.',
      },
    },
    success: { 200: { description: 'An event stream.', mediaTypes: ['text/event-stream'] } },
    problems: [400, 404, 503],
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/outputs',
    operationId: 'getJobOutputs',
    summary: "A delivered job's files as short-lived signed links.",
    access: 'jobs:read',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    query: OutputsQuerySchema,
    success: { 200: { description: 'Signed links.', ref: 'Outputs' } },
    problems: [400, 404, 409, 410],
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/costs',
    operationId: 'getJobCosts',
    summary: "The job's cost ledger: one line per vendor task, with what it was billed.",
    description:
      'Each line is one vendor task of a shot attempt (or a free outcome: a cache hit, the local backend, a refused request): backend, model, outcome, seconds of video billed, whether the vendor charges it and the amount. `totalUsd` is their sum; `budgetCapUsd` the cap the plan was made within (compared with its worst case). Vendor task ids are never shown, only an opaque `task` reference. An erased job keeps its ledger (billing fields only) for the invoice, so it answers here too.',
    access: 'jobs:read',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    success: { 200: { description: 'The ledger.', ref: 'JobCosts' } },
    problems: [404],
  },
  ...ESTIMATE_OPERATIONS,
  ...ASSET_OPERATIONS,
  ...AUDIT_OPERATIONS,
  {
    method: 'get',
    path: '/v1/presets',
    operationId: 'listPresets',
    summary: 'The presets and what each allows.',
    access: 'jobs:read',
    tag: 'planning',
    success: { 200: { description: 'The presets.', ref: 'Presets' } },
    problems: [],
  },
  {
    method: 'get',
    path: '/v1/webhook',
    operationId: 'getWebhook',
    summary: "The tenant's webhook endpoint (never its secrets).",
    access: 'admin',
    tag: 'webhook',
    success: { 200: { description: 'The endpoint.', ref: 'Webhook' } },
    problems: [404],
  },
  {
    method: 'put',
    path: '/v1/webhook',
    operationId: 'putWebhook',
    summary: 'Set the webhook endpoint; a repeat rotates the signing secret.',
    description:
      'https only (plain http only to loopback in local mode). The host is resolved and refused when it is private, loopback, link-local, a metadata service, IPv6 unique-local or an encoded address; redirects are never followed. The signing secret is generated here and returned once. A second PUT rotates: the new secret and the previous one both sign during the overlap.',
    access: 'admin',
    tag: 'webhook',
    body: { schema: WebhookPutSchema, ref: 'WebhookPut' },
    success: {
      200: { description: 'Rotated: note the new secret.', ref: 'Webhook' },
      201: { description: 'Created: note the secret.', ref: 'Webhook' },
    },
    problems: [400, 413, 415],
  },
  {
    method: 'delete',
    path: '/v1/webhook',
    operationId: 'deleteWebhook',
    summary: 'Stop webhook deliveries (the endpoint is disabled; PUT sets it up again).',
    access: 'admin',
    tag: 'webhook',
    success: { 204: { description: 'Deliveries stopped.' } },
    problems: [404],
  },
];

/** Every route of one job answers 410 once it is erased, but DELETE itself, which repeats its 200. */
const goneOf = (op: OperationSpec) =>
  op.path.startsWith('/v1/jobs/{id}') && !(op.method === 'delete' && op.path === '/v1/jobs/{id}') ? [410] : [];

/** The problems every operation can give: 500 always, and the authentication ones when it needs a key. */
export function problemStatuses(op: OperationSpec): number[] {
  const all = new Set([...op.problems, ...(op.access === 'public' ? [] : AUTHED_PROBLEMS), ...goneOf(op), 500]);
  // Only statuses the gateway has a problem type for (a route may list one another part adds).
  const known = problemKindsByStatus();
  return [...all].filter((s) => known.has(s)).sort((a, b) => a - b);
}

const COMPONENT_SCHEMAS: Record<string, TSchema> = {
  Brief: BriefSchema,
  JobView: JobViewSchema,
  JobList: JobListSchema,
  ErasedJob: ErasedJobViewSchema,
  Outputs: OutputsViewSchema,
  JobCosts: CostsViewSchema,
  JobEstimate: JobEstimateSchema,
  ...ESTIMATE_COMPONENTS,
  Presets: PresetsViewSchema,
  WebhookPut: WebhookPutSchema,
  Webhook: WebhookViewSchema,
  ReviewLinkRequest: ReviewLinkRequestSchema,
  Asset: AssetViewSchema,
  ...PLAN_COMPONENTS,
  ...AUDIT_COMPONENTS,
};

/** A TypeBox schema as plain JSON (drops TypeBox's symbol keys). */
const plain = (schema: TSchema) => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function queryParameters(schema: TSchema) {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const required = new Set((schema as { required?: string[] }).required ?? []);
  return Object.entries(properties).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: plain(s),
    ...(s.description ? { description: s.description } : {}),
  }));
}

/** The OpenAPI 3.1 document, built from OPERATIONS and the schemas. */
export function buildOpenApiDocument(options: { serverUrl?: string } = {}) {
  const webhooks = webhookSection();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters = [
      ...Object.entries(op.pathParams ?? {}).map(([name, schema]) => ({
        name,
        in: 'path',
        required: true,
        schema: plain(schema),
        ...(schema.description ? { description: schema.description } : {}),
      })),
      ...(op.query ? queryParameters(op.query) : []),
      ...Object.entries(op.headers ?? {}).map(([name, h]) => ({
        name,
        in: 'header',
        required: h.required ?? false,
        schema: plain(h.schema),
        description: h.description,
      })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(op.success)) {
      const schema = r.ref ? ref(r.ref) : r.schema ? plain(r.schema) : undefined;
      const content = r.mediaTypes
        ? Object.fromEntries(r.mediaTypes.map((m) => [m, { schema: m.endsWith('json') ? {} : { type: 'string' } }]))
        : schema
          ? { 'application/json': { schema, ...(r.examples ? { examples: r.examples } : {}) } }
          : undefined;
      responses[status] = {
        description: r.description,
        headers: Object.fromEntries(['X-Request-Id', ...(r.headers ?? [])].map((h) => [h, RESPONSE_HEADERS[h]])),
        ...(content ? { content } : {}),
      };
    }
    for (const status of problemStatuses(op)) {
      responses[String(status)] = {
        description: problemKindsByStatus()
          .get(status)!
          .map((k) => PROBLEM_TYPES[k].title)
          .join(' / '),
        headers: Object.fromEntries(
          [
            'X-Request-Id',
            ...(status === 429 || status === 503 ? ['Retry-After'] : []),
            ...(status === 412 ? ['ETag'] : []),
          ].map((h) => [h, RESPONSE_HEADERS[h]]),
        ),
        content: {
          'application/problem+json': {
            schema: ref(`Problem${status}`),
            examples: problemExamples(problemKindsByStatus().get(status)!),
          },
        },
      };
    }
    for (const [status, description] of Object.entries(EVERY_OPERATION_4XX)) {
      responses[status] ??= { description };
    }
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: [op.tag],
      security: op.access === 'public' ? [] : [{ apiKey: [op.access] }, { oidc: [op.access] }],
      ...(parameters.length ? { parameters } : {}),
      ...requestBodyOf(op),
      responses,
    };
  }

  const problems: Record<string, unknown> = {};
  for (const [status, kinds] of problemKindsByStatus()) problems[`Problem${status}`] = plain(problemSchema(kinds));

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: API_INFO,
    servers: serversFor(options.serverUrl),
    tags: [
      { name: 'jobs', description: 'Briefs in, videos out.' },
      { name: 'planning', description: 'Presets and prices.' },
      { name: 'webhook', description: 'Signed job notifications.' },
      { name: 'outputs', description: 'Delivered files.' },
      { name: 'operations', description: 'Health and this document.' },
    ],
    paths,
    webhooks: webhooks.webhooks,
    components: {
      schemas: {
        ...Object.fromEntries(Object.entries(COMPONENT_SCHEMAS).map(([k, v]) => [k, plain(v)])),
        ...problems,
        ...webhooks.schemas,
      },
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'aiprod_<env>_<32 base62><6 base62 checksum>',
          description: 'An API key of the tenant; its scopes are listed per operation.',
        },
        oidc: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'An OIDC JWT signed by the configured issuer for the configured audience; the tenant and scopes come from its claims.',
        },
      },
    },
  };
}
