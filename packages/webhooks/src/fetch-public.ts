import http from 'node:http';
import https from 'node:https';
import { assertSafeWebhookUrl, type ResolveHost } from './ssrf';
import { describe, pinnedLookup, USER_AGENT } from './sender';

export class PublicFetchError extends Error {
  override readonly name = 'PublicFetchError';
}

/**
 * GETs a small file from a client-supplied URL (a brand logo) with the same protections as a
 * webhook: the SSRF guard, the connection pinned to the checked address, no redirects, a time
 * bound and a size cap. Rejects with PublicFetchError saying why.
 */
export async function fetchPublicFile(
  url: string,
  options: { maxBytes: number; timeoutMs: number; allowLoopbackHttp?: boolean; resolve?: ResolveHost },
): Promise<Buffer> {
  let checked;
  try {
    checked = await assertSafeWebhookUrl(url, {
      allowLoopbackHttp: options.allowLoopbackHttp,
      resolve: options.resolve,
    });
  } catch (e) {
    throw new PublicFetchError(`refused: ${(e as Error).message}`);
  }
  const { url: target, addresses } = checked;
  return new Promise<Buffer>((resolve, reject) => {
    const request = (target.protocol === 'https:' ? https : http).request(
      target,
      {
        method: 'GET',
        headers: { 'user-agent': USER_AGENT, accept: 'image/png, image/jpeg' },
        agent: false,
        lookup: pinnedLookup(target.hostname, addresses),
        timeout: options.timeoutMs,
      },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          request.destroy();
          reject(
            new PublicFetchError(
              `HTTP ${response.statusCode ?? 0}${response.statusCode && response.statusCode < 400 && response.statusCode >= 300 ? ' (redirects are not followed)' : ''}`,
            ),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            request.destroy();
            reject(new PublicFetchError(`larger than ${options.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks)));
        response.on('error', (e) => reject(new PublicFetchError(describe(e))));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (e) => reject(new PublicFetchError(describe(e))));
    request.end();
  });
}
