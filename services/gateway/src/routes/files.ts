import { extname } from 'node:path';
import type { Request, Response } from 'express';
import { Router } from 'express';
import send from 'send';
import {
  contentDisposition,
  parseSignedFileRequest,
  verifyLocalSignature,
  type BlobStore,
  type SignedFileRequest,
} from '@aiprod/storage';
import { HttpProblem } from '../problem';

/**
 * What a browser may show in place (a player, an image, captions, a report). Anything else is
 * always an attachment: the gateway's origin never renders a stored HTML or SVG file.
 */
const INLINE_EXTENSIONS = new Set(['.mp4', '.png', '.jpg', '.jpeg', '.vtt', '.json']);

/**
 * Serves the local store's files behind HMAC-signed, expiring links: the signature is the
 * credential, so this route needs no API key. In the cloud the links point at Cloud Storage.
 * `send` does the HTTP part a browser needs (content types, Range with 206/416, conditional GET).
 */
export function fileRoutes(storage: BlobStore, signingKey: Buffer): Router {
  const router = Router();
  router.get('/files/*path', async (req, res) => {
    const parsed = parseSignedFileRequest(req.path, req.query);
    const verdict = parsed ? verifyLocalSignature({ ...parsed, signingKey }) : 'bad_signature';
    if (!parsed || verdict === 'bad_signature') throw new HttpProblem('forbidden', 'the link is not valid');
    if (verdict === 'expired') throw new HttpProblem('forbidden', 'the link has expired');
    if (!(await storage.stat(parsed.key))) throw new HttpProblem('not_found', 'no such file');
    await storage.withLocalFile(parsed.key, (path) => sendFile(req, res, path, parsed));
  });
  return router;
}

function sendFile(req: Request, res: Response, path: string, link: SignedFileRequest): Promise<void> {
  const inline = !link.download && INLINE_EXTENSIONS.has(extname(link.key).toLowerCase());
  return new Promise((resolve, reject) => {
    // No root: `path` is the store's own resolution of a validated key. Dotfiles allowed because
    // the store itself may live under a dot directory (.aiprod/); keys are checked before this.
    const stream = send(req, path, { index: false, dotfiles: 'allow', cacheControl: false });
    stream.on('headers', (out: Response) => {
      out.setHeader('Cache-Control', 'private, no-store');
      out.setHeader('Content-Disposition', contentDisposition(inline ? 'inline' : 'attachment', link.filename));
    });
    stream.on('directory', () => reject(new HttpProblem('not_found', 'no such file')));
    stream.on('error', (error: { status?: number; headers?: Record<string, string> }) => {
      if (error.status === 416) {
        if (error.headers?.['Content-Range']) res.setHeader('Content-Range', error.headers['Content-Range']);
        return reject(new HttpProblem('range_not_satisfiable', 'the Range asked for is not inside the file'));
      }
      reject(error.status === 404 ? new HttpProblem('not_found', 'no such file') : error);
    });
    res.once('close', () => resolve());
    stream.pipe(res);
  });
}
