import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Streams a file once to get its size and SHA-256 (videos are too big to read into memory). */
export async function hashFile(path: string): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(path)) {
    const buf = chunk as Buffer;
    hash.update(buf);
    sizeBytes += buf.length;
  }
  return { sizeBytes, sha256: hash.digest('hex') };
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Content-Disposition, safe against header injection: the quoted fallback keeps only printable
 *  ASCII minus `"` and `\`, the RFC 5987 form carries the exact UTF-8 name. */
export function contentDisposition(type: 'inline' | 'attachment', filename?: string): string {
  if (filename === undefined) return type;
  const name = filename.replace(/[/\\]/g, '_');
  if (name.length === 0 || name.length > 255) throw new RangeError('filename must be 1..255 characters');
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** Content-Disposition for a download (see contentDisposition). */
export const attachmentDisposition = (filename: string): string => contentDisposition('attachment', filename);
