import { Type } from '@sinclair/typebox';
import type { OperationSpec } from './document';
import { FILE_HEADERS, FILE_TYPES } from './responses';

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

/** The local store's signed files, as a browser player and a download both need them. */
export const FILE_OPERATION: OperationSpec = {
  method: 'get',
  path: '/files/{path}',
  operationId: 'downloadFile',
  summary: 'A delivered file behind a signed, expiring link (local storage only).',
  description:
    'Only served when the gateway runs with the local store; in the cloud signed links point at Cloud Storage. The signature in the query string is the credential, so no API key is needed. Never logged. Shown in place (Content-Disposition: inline) unless the link was signed as a download (`download=1`); byte ranges (Range → 206, 416 outside the file) and conditional requests (ETag, Last-Modified → 304) as a browser player needs them.',
  access: 'public',
  tag: 'outputs',
  pathParams: { path: Type.String({ description: 'Storage key, as in the signed link.' }) },
  success: {
    200: { description: 'The file.', mediaTypes: FILE_TYPES, headers: FILE_HEADERS },
    206: {
      description: 'The byte range asked for.',
      mediaTypes: FILE_TYPES,
      headers: [...FILE_HEADERS, 'Content-Range'],
    },
    304: { description: 'Not modified since the ETag or date the client holds.', headers: ['ETag'] },
  },
  problems: [403, 404, 416],
};
