import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { fetchPublicFile, PublicFetchError } from '@aiprod/webhooks';
import type { DeliveryDeps } from './app';

/** The brand logo download, overall (a trickling server is cut off), unless deps say otherwise. */
const LOGO_FETCH_TIMEOUT_MS = 15_000;
const LOGO_MAX_BYTES = 2 * 1024 * 1024;

/**
 * The brand's logo for the end card, fetched with the webhook's protections (SSRF guard, pinned
 * address, no redirects, a size cap, an overall deadline). A logo that cannot be had or is not a PNG or JPEG leaves the
 * card without one and says why on the timeline: a broken link must not cost the client the video.
 */
export async function fetchLogo(deps: DeliveryDeps, job: Job, dir: string, log: Log): Promise<string | undefined> {
  const url = job.brief.brand.logoUrl;
  if (!url) return undefined;
  let reason: string;
  try {
    const bytes = await fetchPublicFile(url, {
      maxBytes: LOGO_MAX_BYTES,
      // An overall deadline (a trickling server is cut off), not only a socket idle timeout.
      timeoutMs: deps.logoFetchTimeoutMs ?? LOGO_FETCH_TIMEOUT_MS,
      allowLoopbackHttp: deps.allowLoopbackHttp,
    });
    const png = bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const jpeg = bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]));
    if (png || jpeg) {
      const file = join(dir, png ? 'logo.png' : 'logo.jpg');
      await writeFile(file, bytes);
      await deps.jobs.appendEvent(job.jobId, {
        key: 'logo-applied',
        type: 'logo.applied',
        data: { sizeBytes: bytes.length },
      });
      return file;
    }
    reason = 'the file is neither a PNG nor a JPEG';
  } catch (e) {
    if (!(e instanceof PublicFetchError)) throw e;
    reason = e.message;
  }
  log.warn('brand logo not used', { reason });
  await deps.jobs.appendEvent(job.jobId, { key: 'logo-skipped', type: 'logo.skipped', data: { reason } });
  return undefined;
}
