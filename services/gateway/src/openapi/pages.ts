import { Type } from '@sinclair/typebox';
import type { OperationSpec } from './document';

const HTML = ['text/html'];

/** The pages a person reads: the API reference and the problem types' explanations. Public, static. */
export const PAGE_OPERATIONS: OperationSpec[] = [
  {
    method: 'get',
    path: '/docs',
    operationId: 'docs',
    summary: 'This API, as a page to read (Redoc, served from the gateway).',
    access: 'public',
    tag: 'operations',
    success: { 200: { description: 'The page.', mediaTypes: HTML } },
    problems: [],
  },
  {
    method: 'get',
    path: '/docs/redoc.standalone.js',
    operationId: 'docsScript',
    summary: "The docs page's script (Redoc's standalone bundle).",
    access: 'public',
    tag: 'operations',
    success: { 200: { description: 'The script.', mediaTypes: ['text/javascript'] } },
    problems: [],
  },
  {
    method: 'get',
    path: '/problems',
    operationId: 'listProblemTypes',
    summary: 'Every problem type the API answers with, explained.',
    access: 'public',
    tag: 'operations',
    success: { 200: { description: 'The page.', mediaTypes: HTML } },
    problems: [],
  },
  {
    method: 'get',
    path: '/problems/{type}',
    operationId: 'getProblemType',
    summary: "A problem type's page: what it means and what to do (where a problem's `type` resolves to).",
    access: 'public',
    tag: 'operations',
    pathParams: { type: Type.String({ pattern: '^[a-z-]{1,64}$', description: 'e.g. not-found.' }) },
    success: { 200: { description: 'The page.', mediaTypes: HTML } },
    problems: [404],
  },
];
