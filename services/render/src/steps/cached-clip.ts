import type { RenderRequest } from '@aiprod/contracts';
import type { AttemptRef } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { shotClipKey } from '@aiprod/storage';
import type { RenderDeps } from '../app';
import { publishRendered } from './publish-rendered';
import { settleSpend, tryEntry } from './spend';

/**
 * Reuses a clip QA passed before for the same tenant, backend, model and spec, at no cost. An entry
 * whose file has gone is forgotten, and the shot is rendered anew.
 */
export async function reuseCachedClip(
  deps: RenderDeps,
  msg: RenderRequest,
  ref: AttemptRef,
  cacheKey: string,
  log: Log,
): Promise<boolean> {
  const hit = await deps.cache.lookup(cacheKey);
  if (!hit) return false;
  const source = deps.storage.keyFromUri(hit.clipUri);
  if (!(await deps.storage.exists(source))) {
    await deps.cache.forget(cacheKey);
    return false;
  }
  const target = shotClipKey(msg);
  const stored =
    source === target
      ? { uri: hit.clipUri, sizeBytes: hit.sizeBytes }
      : await deps.storage.withLocalFile(source, (path) =>
          deps.storage.putFile(target, path, { contentType: 'video/mp4' }),
        );
  const entry = tryEntry(deps, 'cache_hit', 0);
  await settleSpend(deps, msg, entry, { seconds: 0, charged: false });
  const done = await deps.attempts.complete(ref, { clipUri: stored.uri, sizeBytes: stored.sizeBytes }, { entry });
  if (done) await publishRendered(deps, msg.tenantId, done);
  log.info('render cache hit', { from: hit.clipUri });
  return true;
}
