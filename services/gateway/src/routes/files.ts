import { Router } from 'express';
import { parseSignedFileRequest, verifyLocalSignature, type BlobStore } from '@aiprod/storage';
import { HttpProblem } from '../problem';

/**
 * Serves the local store's files behind HMAC-signed, expiring links: the signature is the
 * credential, so this route needs no API key. In the cloud the links point at Cloud Storage.
 */
export function fileRoutes(storage: BlobStore, signingKey: Buffer): Router {
  const router = Router();
  router.get('/files/*path', async (req, res) => {
    const parsed = parseSignedFileRequest(req.path, req.query);
    const verdict = parsed ? verifyLocalSignature({ ...parsed, signingKey }) : 'bad_signature';
    if (!parsed || verdict === 'bad_signature') throw new HttpProblem('forbidden', 'the link is not valid');
    if (verdict === 'expired') throw new HttpProblem('forbidden', 'the link has expired');
    const stat = await storage.stat(parsed.key);
    if (!stat) throw new HttpProblem('not_found', 'no such file');
    res.setHeader('Content-Type', parsed.key.endsWith('.mp4') ? 'video/mp4' : 'application/octet-stream');
    res.setHeader('Content-Length', String(stat.sizeBytes));
    res.setHeader('Cache-Control', 'private, no-store');
    if (parsed.filename) res.attachment(parsed.filename);
    await new Promise<void>((resolve, reject) => {
      storage.createReadStream(parsed.key).on('error', reject).pipe(res).on('finish', resolve).on('error', reject);
    });
  });
  return router;
}
