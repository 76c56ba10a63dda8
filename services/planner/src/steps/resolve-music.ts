import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordJobMusic, type Job, type JobMusic } from '@aiprod/job-store';
import { audioFileInfo, MediaError, probe } from '@aiprod/media';
import type { Log } from '@aiprod/pubsub';
import { failJob } from '@aiprod/service-runtime';
import { jobReferenceKey } from '@aiprod/storage';
import type { PlannerDeps } from '../app';
import { assetBytes, download, UnusableInput } from './resolve-references';

/** Shorter than this is a sting, not a bed: it would loop audibly under a 5 s cut. */
const MUSIC_MIN_SECONDS = 1;
/** ffprobe reads the container's header, not the whole file: seconds at most. */
const MUSIC_PROBE_TIMEOUT_MS = 20_000;

/**
 * The brief's music (brief.music), stored with the job before anything is planned or spent, as
 * the reference images are: a URL fetched with the logo's protections, or the tenant's uploaded
 * asset copied; either must be MP3, WAV, M4A, Ogg or FLAC by its own bytes, and must decode to an
 * audio stream of at least a second (ffprobe). Stored under the job's prefix as
 * `references/music.<ext>` and recorded once; a file that cannot be had fails the job
 * (planning_failed, naming brief.music) with nothing spent.
 */
export async function resolveMusic(
  deps: PlannerDeps,
  job: Job,
  log: Log,
): Promise<{ ok: true; music: JobMusic | undefined } | { ok: false }> {
  if (job.music) return { ok: true, music: job.music };
  const wanted = job.brief.music;
  if (!wanted) return { ok: true, music: undefined };
  let music: JobMusic;
  try {
    music = await storeMusic(deps, job, wanted);
  } catch (err) {
    if (!(err instanceof UnusableInput)) throw err;
    const reason = `brief.music: ${err.message}`;
    log.warn('music unusable; failing the job', { reason });
    await failJob(deps, job, 'planning_failed', reason);
    return { ok: false };
  }
  const recorded = await recordJobMusic(deps.db, job.jobId, music);
  if (recorded.changed) {
    log.info('music stored', { durationSeconds: music.durationSeconds, sizeBytes: music.sizeBytes });
    return { ok: true, music };
  }
  if (recorded.why === 'already_there' && recorded.job?.music) return { ok: true, music: recorded.job.music };
  log.info('job left PLANNING while its music was fetched', { why: recorded.why });
  return { ok: false };
}

async function storeMusic(deps: PlannerDeps, job: Job, wanted: NonNullable<Job['brief']['music']>): Promise<JobMusic> {
  const bytes = 'url' in wanted ? await download(deps, wanted.url) : await assetBytes(deps, job, wanted);
  const audio = audioFileInfo(bytes);
  if (!audio) throw new UnusableInput('the file is not an MP3, WAV, M4A, Ogg or FLAC file (judged by its bytes)');
  const durationSeconds = await decodedSeconds(bytes, audio.extension);
  const path = jobReferenceKey(job, 'music', audio.extension);
  const put = await deps.storage.putBytes(path, bytes, { contentType: audio.contentType });
  return {
    path,
    contentType: audio.contentType,
    sizeBytes: put.sizeBytes,
    sha256: put.sha256,
    durationSeconds,
    source: 'url' in wanted ? { kind: 'url', url: wanted.url } : { kind: 'asset', assetId: wanted.assetId },
  };
}

/** The file's audio length by ffprobe, in a scratch file the probe can read. */
async function decodedSeconds(bytes: Buffer, extension: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'aiprod-music-'));
  try {
    const file = join(dir, `music.${extension}`);
    await writeFile(file, bytes);
    const info = await probe(file, { timeoutMs: MUSIC_PROBE_TIMEOUT_MS }).catch((err: unknown) => {
      if (err instanceof MediaError && (err.kind === 'exit' || err.kind === 'invalid'))
        throw new UnusableInput(`the file does not decode: ${err.message}`);
      throw err;
    });
    if (!info.audio) throw new UnusableInput('the file has no audio stream');
    if (!(info.durationSeconds >= MUSIC_MIN_SECONDS))
      throw new UnusableInput(
        `the music lasts ${info.durationSeconds.toFixed(2)} s; at least ${MUSIC_MIN_SECONDS} s is needed`,
      );
    return Number(info.durationSeconds.toFixed(3));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
