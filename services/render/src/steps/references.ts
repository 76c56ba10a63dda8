import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PermanentError, RetryableError, type ShotSpec } from '@aiprod/contracts';
import { BlobNotFoundError, type BlobStore } from '@aiprod/storage';
import type { LoadedReference } from '../backends/backend';

/**
 * The shot's reference images, read from our own storage (the planner stored them with the job)
 * and checked against the digest the plan recorded, so a vendor is sent exactly the image the
 * client gave, never the client's URL. Read before each create: the copies are small (≤ 10 MB,
 * at most 5) and a create is rare next to its polls.
 */
export async function loadReferences(storage: BlobStore, spec: ShotSpec): Promise<LoadedReference[]> {
  const loaded: LoadedReference[] = [];
  for (const ref of spec.references ?? []) {
    let bytes: Buffer;
    try {
      bytes = await storage.withLocalFile(ref.path, (file) => readFile(file));
    } catch (error) {
      // Gone from our own bucket: nothing a retry brings back (erasure, or a broken plan).
      if (error instanceof BlobNotFoundError)
        throw new PermanentError('render_failed', `reference ${ref.id} is missing from storage`, { cause: error });
      throw new RetryableError(`reference ${ref.id} could not be read`, undefined, { cause: error });
    }
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== ref.sha256)
      throw new PermanentError('render_failed', `reference ${ref.id} does not match its recorded digest`);
    loaded.push({
      id: ref.id,
      role: ref.role,
      contentType: ref.contentType,
      bytes,
      ...(ref.description ? { description: ref.description } : {}),
    });
  }
  return loaded;
}

/** `data:<type>;base64,…` — how Runway and Replicate take an image inline. */
export const dataUri = (ref: LoadedReference): string =>
  `data:${ref.contentType};base64,${ref.bytes.toString('base64')}`;

/** The length of `dataUri(ref)`, worked out without encoding: a limit is checked before the copy is made. */
export const dataUriLength = (ref: LoadedReference): number =>
  `data:${ref.contentType};base64,`.length + 4 * Math.ceil(ref.bytes.length / 3);
