import { Type } from '@sinclair/typebox';
import type { OperationSpec } from './document';
import { PlanChangesSchema, PlanPatchSchema, PlanViewSchema } from './plan-schemas';

const JOB_ID_PARAM = { id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'Job id.' }) };
const ETAG = Type.String({ pattern: '^"[1-9][0-9]{0,5}"(, *"[1-9][0-9]{0,5}")*$' });

/** The If-Match header of a plan change or approval. */
export const IF_MATCH = (required: boolean, what: string) => ({
  'If-Match': {
    schema: ETAG,
    required,
    description: `The plan's ETag (its version, quoted: "3") as last read; ${what}. A stale version is 412 and changes nothing.`,
  },
});

export const PLAN_COMPONENTS = { Plan: PlanViewSchema, PlanPatch: PlanPatchSchema, PlanChanges: PlanChangesSchema };

/** The storyboard operations (the approval, which names a version too, is beside the job's). */
export const PLAN_OPERATIONS: OperationSpec[] = [
  {
    method: 'get',
    path: '/v1/jobs/{id}/plan',
    operationId: 'getJobPlan',
    summary: 'The storyboard: every shot as it will be rendered, with its costs, and the plan version.',
    description:
      "Each shot's purpose, length, visual and negative prompt, camera move, on-screen text, voice-over line, continuity references, backend and model, and its cost: one take, expected with retakes, and the worst case over the fallback chain. The totals are the estimate the approval limit and budget cap were compared with. The ETag header (also `etag`) is the version to send as If-Match. 404 until the job is planned.",
    access: 'jobs:read',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    success: { 200: { description: 'The plan.', ref: 'Plan', headers: ['ETag'] } },
    problems: [404],
  },
  {
    method: 'patch',
    path: '/v1/jobs/{id}/plan',
    operationId: 'editJobPlan',
    summary: 'Edit shots of a plan waiting for approval: a new version, re-priced, with a new preview.',
    description:
      "Only while AWAITING_APPROVAL and before approval. Each listed shot may change its prompt, negative prompt, camera, on-screen text, voice-over line (null removes the optional ones), length and backend. A backend must be one the job's preset allows, this deployment runs, and of the preset's minimum quality tier or better (listed in the plan's `editable.backends`); a length must be one the shot's backend makes, and the cut must keep the brief's length (±0.5 s; the end card takes up to 1–3 s): lengthen one shot and shorten another together. The worst case must stay within the budget cap. Every broken rule is a field error.",
    access: 'jobs:write',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    headers: IF_MATCH(true, 'required'),
    body: { schema: PlanPatchSchema, ref: 'PlanPatch' },
    success: { 200: { description: 'The new version.', ref: 'Plan', headers: ['ETag'] } },
    problems: [400, 404, 409, 412, 413, 415, 428],
  },
  {
    method: 'post',
    path: '/v1/jobs/{id}/plan/changes',
    operationId: 'requestPlanChanges',
    summary: 'Ask the director to plan again following notes; the next version follows them.',
    description:
      "Only while AWAITING_APPROVAL and before approval; one request at a time (the plan shows it in `changesRequested` until the new version is stored). The director follows every note so far: the local director adds them to each shot's visual prompt. If no new plan can be made (e.g. over the budget cap) the timeline says why (`plan.changes_failed`) and the version stays.",
    access: 'jobs:write',
    tag: 'jobs',
    pathParams: JOB_ID_PARAM,
    headers: IF_MATCH(false, 'optional here (default: the current version)'),
    body: { schema: PlanChangesSchema, ref: 'PlanChanges' },
    success: { 202: { description: 'Recorded; the director is planning again.', ref: 'Plan', headers: ['ETag'] } },
    problems: [400, 404, 409, 412, 413, 415, 428, 503],
  },
];
