import { Type } from '@sinclair/typebox';
import { ASSET_MEDIA_TYPES } from '../routes/assets';
import type { OperationSpec } from './document';
import { REQUEST_EXAMPLES } from './examples';

/** Uploaded reference images: the body of the upload is the image itself, not JSON. */
export const ASSET_OPERATIONS: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/assets',
    operationId: 'uploadAsset',
    summary: 'Upload a reference image (PNG, JPEG or WebP, at most 10 MB) that briefs may name by its id.',
    description:
      'The body is the file itself: an image (image/png, image/jpeg, image/webp) or a music file (audio/mpeg, audio/wav, audio/mp4, audio/ogg, audio/flac). Any other Content-Type is 415, and the bytes must be that format by their own header, whatever the header claims (otherwise 422); more than 10 MB is 413. The file is stored under the tenant; a brief names an image as `{ "assetId": ..., "role": "product" | "brand" | "style" }` in referenceImages and an audio file as `{ "assetId": ... }` in music, and only the tenant that uploaded it can.',
    access: 'jobs:write',
    tag: 'jobs',
    fileBody: { mediaTypes: ASSET_MEDIA_TYPES, description: 'The image.' },
    success: { 201: { description: 'Stored.', ref: 'Asset', headers: ['Location'] } },
    problems: [413, 415, 422],
  },
  {
    method: 'get',
    path: '/v1/assets/{id}',
    operationId: 'getAsset',
    summary: "An uploaded image's metadata (another tenant's asset is 404).",
    access: 'jobs:read',
    tag: 'jobs',
    pathParams: { id: Type.String({ pattern: '^asset_[0-9a-f]{24}$', description: 'Asset id.' }) },
    success: { 200: { description: 'The asset.', ref: 'Asset' } },
    problems: [404],
  },
];

/** The operation's request body: a JSON schema by reference, or a file in one of its media types. */
export function requestBodyOf(op: OperationSpec): { requestBody?: Record<string, unknown> } {
  if (op.body) {
    const examples = REQUEST_EXAMPLES[op.body.ref];
    const schema = { $ref: `#/components/schemas/${op.body.ref}` };
    return {
      requestBody: { required: true, content: { 'application/json': { schema, ...(examples ? { examples } : {}) } } },
    };
  }
  if (op.fileBody) {
    const content = Object.fromEntries(op.fileBody.mediaTypes.map((m) => [m, { schema: {} }]));
    return { requestBody: { required: true, description: op.fileBody.description, content } };
  }
  return {};
}
