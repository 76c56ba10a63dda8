import { Type } from '@sinclair/typebox';

/** The Idempotency-Key request header of the operations that honour it. */
export const IDEMPOTENCY_KEY = {
  'Idempotency-Key': {
    schema: Type.String({ minLength: 1, maxLength: 255 }),
    description:
      'Makes a retry safe: the same key with the same body replays the stored response for 24 h; the same key with another body is 422; a retry while the first is in flight is 409.',
  },
};

/** Response headers the document names, by name. */
export const RESPONSE_HEADERS: Record<string, { description: string; schema: Record<string, unknown> }> = {
  Location: { description: 'Where the created resource lives.', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
  'X-Request-Id': { description: 'Quote it when you report a problem.', schema: { type: 'string' } },
  'Accept-Ranges': { description: 'Byte ranges can be asked for.', schema: { type: 'string', enum: ['bytes'] } },
  'Content-Range': { description: 'The range sent, or `bytes */<size>` with 416.', schema: { type: 'string' } },
  'Content-Disposition': {
    description: '`inline` (a browser shows or plays it) or `attachment` (a download), with the file name when signed.',
    schema: { type: 'string' },
  },
  ETag: {
    description: "A file's version (send it back as If-None-Match), or a plan's, quoted (send it as If-Match).",
    schema: { type: 'string' },
  },
  'Last-Modified': { description: 'Send it back as If-Modified-Since.', schema: { type: 'string' } },
  'Idempotent-Replayed': {
    description: '"true" when this is the stored response of an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
};

/**
 * 4xx answers every operation can give, whoever adds it: request headers too large for the HTTP
 * server (Node answers 431 itself, before any route; so does Google's front end), without a body.
 */
export const EVERY_OPERATION_4XX: Record<number, string> = {
  431: 'Request headers too large: answered by the HTTP server before any route, without a body.',
};

/** What the local store's file route serves, and the headers a browser player relies on. */
export const FILE_TYPES = [
  'video/mp4',
  'image/png',
  'image/jpeg',
  'text/vtt',
  'application/json',
  'application/octet-stream',
];
export const FILE_HEADERS = ['Accept-Ranges', 'Content-Disposition', 'ETag', 'Last-Modified'];
