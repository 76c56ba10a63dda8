import { Type } from '@sinclair/typebox';
import { BriefSchema } from '@aiprod/contracts';
import type { OperationSpec } from './document';
import { PENDING_ESTIMATE_BOUND_MS } from '../routes/estimates';
import { IDEMPOTENCY_KEY } from './responses';

const ESTIMATE_ID_PARAM = { id: Type.String({ pattern: '^est_[0-9a-f]{24}$', description: 'Estimate id.' }) };

/** The body of a 202 from the estimate operations: the planner is still planning. */
const EstimatePendingSchema = Type.Object(
  {
    estimateId: Type.String({ pattern: '^est_[0-9a-f]{24}$' }),
    status: Type.Literal('PENDING'),
  },
  { additionalProperties: false },
);

export const ESTIMATE_COMPONENTS = { EstimatePending: EstimatePendingSchema };

/** Estimates: planned by the planner (docs/decisions/2026-12-estimates-through-the-planner.md). */
export const ESTIMATE_OPERATIONS: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/estimates',
    operationId: 'estimate',
    summary: 'Price a brief without creating a job.',
    description:
      "The planner plans the brief exactly as it would plan the job (the same creative director, backends and fallback policy), and a job created from the same brief within a day gets the plan that was priced. The gateway waits up to a few seconds for the answer: 200 with the estimate; 422 `estimate_failed` when the brief cannot be planned; or, when the planner is slower, 202 with `Location` and `Retry-After`: poll GET /v1/estimates/{id}. 503 with `Retry-After` when the planner could not be asked (nothing is kept; repeat the request). Each estimate counts against the tenant's daily estimate quota (429 `quota_exceeded`, quota `estimates_per_day`).",
    access: 'jobs:read',
    tag: 'planning',
    headers: IDEMPOTENCY_KEY,
    body: { schema: BriefSchema, ref: 'Brief' },
    success: {
      200: { description: 'The estimate.', ref: 'JobEstimate', headers: ['Idempotent-Replayed'] },
      202: {
        description: 'Still being planned: follow Location after Retry-After seconds.',
        ref: 'EstimatePending',
        headers: ['Location', 'Retry-After', 'Idempotent-Replayed'],
      },
    },
    problems: [400, 413, 415, 422, 503],
  },
  {
    method: 'get',
    path: '/v1/estimates/{id}',
    operationId: 'getEstimate',
    summary: 'An estimate asked for with POST /v1/estimates (kept a day).',
    description: `200 with the estimate once the planner has answered, 202 while it is still planning, 422 \`estimate_failed\` when the brief could not be planned, or when it was not answered within ${PENDING_ESTIMATE_BOUND_MS / 60_000} minutes (the planner was down or the request lost: ask for a new estimate). Another tenant's estimate answers 404, like a missing one.`,
    access: 'jobs:read',
    tag: 'planning',
    pathParams: ESTIMATE_ID_PARAM,
    success: {
      200: { description: 'The estimate.', ref: 'JobEstimate' },
      202: {
        description: 'Still being planned: ask again after Retry-After seconds.',
        ref: 'EstimatePending',
        headers: ['Location', 'Retry-After'],
      },
    },
    problems: [404, 422],
  },
];
