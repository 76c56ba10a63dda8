import http from 'node:http';
import https from 'node:https';
import { assertSafeWebhookUrl, type ResolveHost } from './ssrf';
import { describe, pinnedLookup, USER_AGENT } from './sender';

export class PublicFetchError extends Error {
  override readonly name = 'PublicFetchError';
}

/**
 * GETs a small file from a client-supplied URL (a brand logo) with the same protections as a
 * webhook: the SSRF guard, the connection pinned to the checked address, no redirects, a size cap,
 * and one overall deadline, `timeoutMs`, from the DNS check to the last byte. A socket idle
 * timeout alone is not enough: a server trickling a byte every few seconds never goes idle and
 * would hold the caller for as long as it likes. Rejects with PublicFetchError saying why.
 */
export async function fetchPublicFile(
  url: string,
  options: { maxBytes: number; timeoutMs: number; allowLoopbackHttp?: boolean; resolve?: ResolveHost },
): Promise<Buffer> {
  const { timeoutMs } = options;
  if (!(timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
  let onDeadline: () => void = () => {};
  const timer = setTimeout(() => onDeadline(), timeoutMs);
  const deadlineError = () => new PublicFetchError(`no complete answer within the ${timeoutMs} ms deadline`);
  try {
    const checked = await new Promise<Awaited<ReturnType<typeof assertSafeWebhookUrl>>>((resolve, reject) => {
      onDeadline = () => reject(deadlineError());
      assertSafeWebhookUrl(url, { allowLoopbackHttp: options.allowLoopbackHttp, resolve: options.resolve }).then(
        resolve,
        (e: unknown) => reject(new PublicFetchError(`refused: ${(e as Error).message}`)),
      );
    });
    return await download(checked, options.maxBytes, (abort) => {
      onDeadline = () => abort(deadlineError());
    });
  } finally {
    clearTimeout(timer);
  }
}

function download(
  checked: Awaited<ReturnType<typeof assertSafeWebhookUrl>>,
  maxBytes: number,
  armDeadline: (abort: (error: PublicFetchError) => void) => void,
): Promise<Buffer> {
  const { url: target, addresses } = checked;
  return new Promise<Buffer>((resolve, reject) => {
    const request = (target.protocol === 'https:' ? https : http).request(
      target,
      {
        method: 'GET',
        headers: { 'user-agent': USER_AGENT, accept: 'image/png, image/jpeg' },
        agent: false,
        lookup: pinnedLookup(target.hostname, addresses),
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
          if (size > maxBytes) {
            request.destroy();
            reject(new PublicFetchError(`larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks)));
        response.on('error', (e) => reject(new PublicFetchError(describe(e))));
      },
    );
    // The first rejection wins; the destroy only frees the socket.
    armDeadline((error) => {
      reject(error);
      request.destroy(error);
    });
    request.on('error', (e) => reject(e instanceof PublicFetchError ? e : new PublicFetchError(describe(e))));
    request.end();
  });
}
