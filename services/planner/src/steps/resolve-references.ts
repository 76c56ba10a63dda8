import { readFile } from 'node:fs/promises';
import {
  REFERENCE_ROLE_PRIORITY,
  briefReferences,
  type BriefReference,
  type ShotReference,
  type ShotSpec,
} from '@aiprod/contracts';
import { recordJobReferences, type Job, type JobReference } from '@aiprod/job-store';
import { stillImageInfo } from '@aiprod/media';
import type { Log } from '@aiprod/pubsub';
import { failJob } from '@aiprod/service-runtime';
import { BlobNotFoundError, jobReferenceKey } from '@aiprod/storage';
import { fetchPublicFile, PublicFetchError } from '@aiprod/webhooks';
import type { PlannerDeps } from '../app';

/** The same cap as an upload (POST /v1/assets): every vendor's reference-image limit is below it. */
export const REFERENCE_MAX_BYTES = 10 * 1024 * 1024;
/** One URL's download, overall (a trickling server is cut off), unless deps say otherwise. */
const REFERENCE_FETCH_TIMEOUT_MS = 20_000;

/** Why one brief input (a reference image, the music) cannot be had; the caller names the field. */
export class UnusableInput extends Error {}

/**
 * The brief's reference images, stored with the job before anything is planned or spent: a URL
 * is fetched with the logo's protections (SSRF guard, pinned address, no redirects, size cap,
 * overall deadline), an uploaded asset is copied from the tenant's asset; either must be a PNG,
 * JPEG or WebP by its own bytes. Stored under the job's prefix as `references/ref-<n>.<ext>` and
 * recorded on the job once: a redelivery that finds them recorded reuses them, and one that
 * finds only the objects writes the same keys again. A reference that cannot be had fails the job
 * (planning_failed, naming the field); nothing of it was published, so nothing was spent.
 */
export async function resolveReferences(
  deps: PlannerDeps,
  job: Job,
  log: Log,
): Promise<{ ok: true; references: JobReference[] } | { ok: false }> {
  if (job.references) return { ok: true, references: job.references };
  const wanted = briefReferences(job.brief);
  if (!wanted.length) return { ok: true, references: [] };
  const stored: JobReference[] = [];
  for (const [i, reference] of wanted.entries()) {
    const field = `brief.referenceImages[${i}]`;
    try {
      stored.push(await storeReference(deps, job, reference, i + 1));
    } catch (err) {
      if (!(err instanceof UnusableInput)) throw err;
      const reason = `${field}: ${err.message}`;
      log.warn('reference image unusable; failing the job', { reason });
      await failJob(deps, job, 'planning_failed', reason);
      return { ok: false };
    }
  }
  const recorded = await recordJobReferences(deps.db, job.jobId, stored);
  if (recorded.changed) {
    log.info('reference images stored', { count: stored.length });
    return { ok: true, references: stored };
  }
  // Another delivery recorded them first: its copy is the one the plan is made from.
  if (recorded.why === 'already_there' && recorded.job?.references) {
    return { ok: true, references: recorded.job.references };
  }
  log.info('job left PLANNING while its references were fetched', { why: recorded.why });
  return { ok: false };
}

async function storeReference(deps: PlannerDeps, job: Job, reference: BriefReference, n: number) {
  const bytes = reference.kind === 'url' ? await download(deps, reference.url) : await assetBytes(deps, job, reference);
  const image = stillImageInfo(bytes);
  if (!image) throw new UnusableInput('the file is not a PNG, JPEG or WebP image (judged by its bytes)');
  const id = `ref-${n}`;
  const path = jobReferenceKey(job, id, image.extension);
  const put = await deps.storage.putBytes(path, bytes, { contentType: image.contentType });
  return {
    id,
    role: reference.role,
    path,
    contentType: image.contentType,
    sizeBytes: put.sizeBytes,
    sha256: put.sha256,
    width: image.width,
    height: image.height,
    source:
      reference.kind === 'url' ? { kind: 'url', url: reference.url } : { kind: 'asset', assetId: reference.assetId },
    ...(reference.description !== undefined ? { description: reference.description } : {}),
  } satisfies JobReference;
}

/** A client's URL, fetched with the logo's protections; a failure is UnusableInput. */
export async function download(deps: PlannerDeps, url: string): Promise<Buffer> {
  try {
    return await fetchPublicFile(url, {
      maxBytes: REFERENCE_MAX_BYTES,
      timeoutMs: deps.referenceFetchTimeoutMs ?? REFERENCE_FETCH_TIMEOUT_MS,
      allowLoopbackHttp: deps.allowLoopbackHttp ?? false,
      ...(deps.resolveHost ? { resolve: deps.resolveHost } : {}),
    });
  } catch (err) {
    if (err instanceof PublicFetchError) throw new UnusableInput(`could not be fetched: ${err.message}`);
    throw err;
  }
}

/** An uploaded asset's bytes, for the job's tenant only; a missing one is UnusableInput. */
export async function assetBytes(deps: PlannerDeps, job: Job, reference: { assetId: string }): Promise<Buffer> {
  // The gateway checked ownership when the job was made; checked again, as the job is what is trusted here.
  const asset = await deps.assets.get(job.tenantId, reference.assetId);
  if (!asset) throw new UnusableInput(`asset ${reference.assetId} is not an asset of this tenant`);
  try {
    return await deps.storage.withLocalFile(asset.path, (file) => readFile(file));
  } catch (err) {
    if (err instanceof BlobNotFoundError) throw new UnusableInput(`asset ${reference.assetId} has no stored file`);
    throw err;
  }
}

/** What a shot carries of the job's references: all of them, product first, then brand, then style. */
export function shotReferences(references: readonly JobReference[]): ShotReference[] {
  const rank = (r: JobReference) => REFERENCE_ROLE_PRIORITY.indexOf(r.role);
  // Array.prototype.sort is stable: brief order within a role.
  return [...references]
    .sort((a, b) => rank(a) - rank(b))
    .map((r) => ({
      id: r.id,
      role: r.role,
      path: r.path,
      contentType: r.contentType,
      sha256: r.sha256,
      ...(r.description !== undefined ? { description: r.description } : {}),
    }));
}

/** The shots with the job's references attached (none: the specs as they are). */
export function withReferences<T extends { spec: ShotSpec }>(shots: T[], references: readonly JobReference[]): T[] {
  if (!references.length) return shots;
  const carried = shotReferences(references);
  return shots.map((s) => ({ ...s, spec: { ...s.spec, references: carried } }));
}
