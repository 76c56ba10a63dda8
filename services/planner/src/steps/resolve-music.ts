import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordJobMusic, type Job, type JobMusic } from '@aiprod/job-store';
import { audioFileInfo, MediaError, measureLoudness, probe, runFfmpeg, type AudioFileInfo } from '@aiprod/media';
import type { Log } from '@aiprod/pubsub';
import { failJob } from '@aiprod/service-runtime';
import { jobReferenceKey } from '@aiprod/storage';
import type { PlannerDeps } from '../app';
import { assetBytes, download, UnusableInput } from './resolve-references';

/** Shorter than this is a sting, not a bed: it would loop audibly under a 5 s cut. */
const MUSIC_MIN_SECONDS = 1;
/** What is kept of a longer track: a cut lasts at most 60 s, and the rest would only be stored. */
const MUSIC_MAX_SECONDS = 120;
/** Decoding two minutes of audio takes well under a second; a file that takes this long is hostile. */
const MUSIC_DECODE_TIMEOUT_MS = 30_000;
/** Integrated loudness below this is silence (ebur128's absolute gate is -70 LUFS). */
const MUSIC_SILENCE_LUFS = -60;

/**
 * The brief's music (brief.music), stored with the job before anything is planned or spent, as
 * the reference images are: a URL fetched with the logo's protections, or the tenant's uploaded
 * asset copied; either must be MP3, WAV, M4A, Ogg or FLAC by its own bytes, and must decode (with
 * that format's demuxer only) to at least a second of sound. Stored decoded, under the job's prefix
 * as `references/music.wav`, and recorded once; a file that cannot be had fails the job
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
  const canonical = await canonicalMusic(bytes, audio);
  const path = jobReferenceKey(job, 'music', 'wav');
  const put = await deps.storage.putBytes(path, canonical.wav, { contentType: 'audio/wav' });
  return {
    path,
    contentType: 'audio/wav',
    sizeBytes: put.sizeBytes,
    sha256: put.sha256,
    sourceSha256: createHash('sha256').update(bytes).digest('hex'),
    durationSeconds: canonical.durationSeconds,
    source: 'url' in wanted ? { kind: 'url', url: wanted.url } : { kind: 'asset', assetId: wanted.assetId },
  };
}

/** ffmpeg's demuxer for each format the bytes were judged to be: nothing else may read them. */
const DEMUXER: Record<AudioFileInfo['extension'], string> = {
  mp3: 'mp3',
  wav: 'wav',
  m4a: 'mov',
  ogg: 'ogg',
  flac: 'flac',
};

/**
 * The client's file decoded once, here, into the one form delivery mixes: 48 kHz stereo 16-bit
 * WAV, at most MUSIC_MAX_SECONDS. ffmpeg is told the demuxer the bytes were judged by and may open
 * no other file: a file that merely starts like an MP3 but is a playlist (HLS, concat) naming
 * other files on this machine is refused instead of followed. A file that does not decode, or
 * decodes to silence, is refused here, naming brief.music, before anything is spent — not found
 * at assembly after every shot is paid for.
 */
async function canonicalMusic(bytes: Buffer, audio: AudioFileInfo): Promise<{ wav: Buffer; durationSeconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'aiprod-music-'));
  try {
    const source = join(dir, `source.${audio.extension}`);
    const wav = join(dir, 'music.wav');
    await writeFile(source, bytes);
    const run = { timeoutMs: MUSIC_DECODE_TIMEOUT_MS, operation: 'music_decode' };
    await runFfmpeg(
      [
        '-v',
        'error',
        '-protocol_whitelist',
        'file',
        '-f',
        DEMUXER[audio.extension],
        '-i',
        source,
        '-map',
        '0:a:0',
        '-t',
        String(MUSIC_MAX_SECONDS),
        '-ac',
        '2',
        '-ar',
        '48000',
        '-c:a',
        'pcm_s16le',
        '-f',
        'wav',
        '-y',
        wav,
      ],
      run,
    ).catch(unusable('does not decode'));
    const info = await probe(wav, run).catch(unusable('does not decode'));
    if (!info.audio || !(info.durationSeconds >= MUSIC_MIN_SECONDS)) {
      throw new UnusableInput(
        `the music lasts ${info.durationSeconds.toFixed(2)} s; at least ${MUSIC_MIN_SECONDS} s is needed`,
      );
    }
    const loudness = await measureLoudness(wav, run).catch(unusable('does not decode'));
    if (!(loudness.integratedLufs > MUSIC_SILENCE_LUFS)) throw new UnusableInput('the music is silent');
    return { wav: await readFile(wav), durationSeconds: Number(info.durationSeconds.toFixed(3)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A decoder's refusal of the client's bytes is the file's fault; anything else (no ffmpeg, a timeout) is ours. */
const unusable =
  (what: string) =>
  (err: unknown): never => {
    if (err instanceof MediaError && (err.kind === 'exit' || err.kind === 'invalid'))
      throw new UnusableInput(`the file ${what}: ${err.message}`);
    throw err;
  };
