import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Timestamp } from '@google-cloud/firestore';
import type { Brief, ShotSpec } from '@aiprod/contracts';
import { PreviewStore, WebhookStore, type Job, type JobPlan } from '@aiprod/job-store';
import { runFfmpeg } from '@aiprod/media';
import type { HandlerContext } from '@aiprod/pubsub';
import { espeakEngine } from '@aiprod/speech';
import { createBlobStore, shotClipKey } from '@aiprod/storage';
import { aBrief, emulatorProject } from '@aiprod/testing';
import { buildDelivery, type DeliveryDeps } from '../src/app';

// Shared by the sound suites: real espeak-ng voices, real ffmpeg, real emulators; only the jobs'
// earlier life (planning, rendering, QA) is seeded, as those services would have stored it.

const FFMPEG_MS = 60_000;
export const RATE = 16_000;

export function soundSuite(name: string) {
  const env = emulatorProject(name, 'delivery');
  const storage = createBlobStore({
    kind: 'local',
    rootDir: mkdtempSync(join(tmpdir(), `${name}-store-`)),
    publicBaseUrl: 'http://127.0.0.1:9',
    signingKey: Buffer.alloc(32, 7),
  });
  const deps: DeliveryDeps = {
    ...env.core,
    webhooks: new WebhookStore(env.db),
    allowLoopbackHttp: true,
    timeoutMs: 2000,
    scheduleScale: 0.0002,
    storage,
    previews: new PreviewStore(env.db),
    workDir: tmpdir(),
    assemblyTimeoutMs: 240_000,
    speech: espeakEngine(),
  };
  const handler = buildDelivery(deps)['aiprod.job.assemble.v1'];
  /** Runs the assembly as the job.assemble handler would on a delivered message; its seconds. */
  const assemble = async (job: Job, overrides: Partial<DeliveryDeps> = {}): Promise<number> => {
    const ctx: HandlerContext = {
      topic: 'aiprod.job.assemble.v1',
      subscription: 'aiprod.job.assemble.v1.delivery',
      messageId: randomBytes(4).toString('hex'),
      deliveryAttempt: 1,
      publishTime: new Date(),
      log: env.log,
    };
    const started = Date.now();
    const run = Object.keys(overrides).length
      ? buildDelivery({ ...deps, ...overrides })['aiprod.job.assemble.v1']
      : handler;
    await run.handle({ v: 1, jobId: job.jobId, tenantId: job.tenantId }, ctx);
    return (Date.now() - started) / 1000;
  };

  /**
   * A job in ASSEMBLING as the render and QA services leave it: the plan saved, every shot PASSED
   * on attempt 1 with its clip stored and one successful try; the client's music stored with the
   * job when given (as the planner does with brief.music).
   */
  async function seedAssembling(opts: {
    brief: Brief;
    preset: string;
    plan: JobPlan;
    specs: ShotSpec[];
    clips: string[];
    backend?: 'local' | 'veo';
    music?: string;
  }): Promise<Job> {
    const jobId = `job_snd_${randomBytes(5).toString('hex')}`;
    const tenantId = 't-sound';
    const backend = opts.backend ?? 'local';
    await env.jobs.createJob({ jobId, tenantId, brief: opts.brief, preset: opts.preset });
    await env.jobs.transition(jobId, 'QUEUED', 'PLANNING');
    await env.jobs.savePlan(
      jobId,
      opts.plan,
      opts.specs.map((spec) => ({ spec, backend })),
      'RENDERING',
    );
    const jobRef = env.db.collection('jobs').doc(jobId);
    for (const [i, spec] of opts.specs.entries()) {
      const stored = await storage.putFile(
        shotClipKey({ tenantId, jobId, shotId: spec.shotId, attempt: 1 }),
        opts.clips[i]!,
      );
      const at = Timestamp.now();
      await jobRef
        .collection('shots')
        .doc(spec.shotId)
        .update({
          status: 'PASSED',
          attempt: 1,
          attempts: {
            '1': {
              attempt: 1,
              backend,
              status: 'PASSED',
              clipUri: stored.uri,
              startedAt: at,
              finishedAt: at,
              tries: [{ backend, model: `${backend}-test`, outcome: 'succeeded', costUsd: 0, at }],
            },
          },
        });
    }
    if (opts.music) {
      const path = `tenants/${tenantId}/jobs/${jobId}/music/track.wav`;
      const stored = await storage.putFile(path, opts.music);
      await jobRef.update({
        music: {
          path,
          contentType: 'audio/wav',
          sizeBytes: stored.sizeBytes,
          sha256: stored.sha256,
          durationSeconds: 20,
          source: { kind: 'asset', assetId: 'asset_music' },
        },
      });
    }
    await jobRef.update({ passedShotIds: opts.specs.map((s) => s.shotId) });
    await env.jobs.transition(jobId, 'RENDERING', 'ASSEMBLING');
    return (await env.jobs.getJob(jobId))!;
  }

  const download = (uri: string) => storage.withLocalFile(storage.keyFromUri(uri), (file) => readFile(file));
  const withDownloaded = <T>(uri: string, fn: (file: string) => Promise<T>) =>
    storage.withLocalFile(storage.keyFromUri(uri), fn);

  return { env, storage, deps, assemble, seedAssembling, download, withDownloaded };
}

export type SoundSuite = ReturnType<typeof soundSuite>;

export const scratch = () => mkdtemp(join(tmpdir(), 'sound-test-'));
export const cleanup = (dir: string) => rm(dir, { recursive: true, force: true });

/** A plan as the planner lays one out: shots of 4, 4 and 3.5 s, 0.5 s fades, a 2 s end card (12 s). */
export const SHOT_SECONDS = [4, 4, 3.5];
export const CUT_SECONDS = 12;
/** The brief of every sound test job: a 12 s cut, one ratio, a call to action. */
export const brief = (extra: Parameters<typeof aBrief>[0] = {}) =>
  aBrief({
    brand: { name: 'Kettle & Co', colors: ['#F2AA4C'] },
    keyMessage: 'Fresh coffee, delivered',
    durationSeconds: CUT_SECONDS,
    aspectRatios: ['16:9'],
    callToAction: 'Order today',
    ...extra,
  });
export const plan = (extra: Partial<JobPlan> = {}): JobPlan => ({
  version: 1,
  director: 'local',
  shotIds: ['s01', 's02', 's03'],
  width: 1280,
  height: 720,
  fps: 30,
  endCardSeconds: 2,
  transition: { kind: 'fade', durationSeconds: 0.5 },
  estimatedCostUsd: 0,
  ...extra,
});
const CAMERAS = ['zoom_in', 'pan_left', 'pan_right'] as const;
export const shotSpec = (i: number, extra: Partial<ShotSpec> = {}): ShotSpec => ({
  shotId: `s0${i + 1}`,
  index: i,
  purpose: i === 0 ? 'hook' : 'product',
  durationSeconds: SHOT_SECONDS[i]!,
  prompt: 'Steam rising from a cup of coffee on a sunlit kitchen table',
  camera: CAMERAS[i]!,
  palette: ['#1B1B3A', '#F2AA4C'],
  width: 1280,
  height: 720,
  fps: 30,
  ...extra,
});

/** Runs ffmpeg quietly, bounded; its stderr (for the filters that report there). */
export const ffmpeg = (args: string[], level = 'error') =>
  runFfmpeg(['-v', level, ...args], { timeoutMs: FFMPEG_MS, operation: 'sound_test' });

/** `file`'s audio (from `fromSeconds`, `seconds` long, after `filter`), mono float PCM at RATE. */
export async function pcm(file: string, fromSeconds: number, seconds: number, filter = 'anull'): Promise<Float32Array> {
  const dir = await scratch();
  try {
    const out = join(dir, 'a.f32');
    await ffmpeg([
      '-i',
      `file:${file}`,
      '-vn',
      '-af',
      `aresample=48000,${filter},pan=mono|c0=0.5*c0+0.5*c1,aresample=${RATE},atrim=start=${fromSeconds}:duration=${seconds}`,
      '-f',
      'f32le',
      '-y',
      `file:${out}`,
    ]);
    const bytes = await readFile(out);
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  } finally {
    await cleanup(dir);
  }
}

export const rmsDb = (x: Float32Array) => 10 * Math.log10(x.reduce((s, v) => s + v * v, 0) / x.length + 1e-20);

/** Normalised cross-correlation of a with b shifted by `lag` samples (b[i + lag] against a[i]). */
export function correlation(a: Float32Array, b: Float32Array, lag: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i += 1) {
    const y = b[i + lag];
    if (y === undefined) continue;
    ab += a[i]! * y;
    aa += a[i]! * a[i]!;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb || 1);
}

/** Where speech is in a voice track: silencedetect's sounding intervals, in seconds. */
export async function speechIntervals(file: string): Promise<{ start: number; end: number }[]> {
  const { stderr } = await ffmpeg(
    ['-i', `file:${file}`, '-af', 'silencedetect=n=-45dB:d=0.08', '-f', 'null', '-'],
    'info',
  );
  const starts = [...stderr.matchAll(/silence_start: (-?[\d.]+)/g)].map((m) => Number(m[1]));
  const ends = [...stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
  const total = /Duration: (\d+):(\d+):([\d.]+)/
    .exec(stderr)!
    .slice(1)
    .reduce((s, v) => s * 60 + Number(v), 0);
  // Sounding = between a silence's end and the next silence's start (or the file's end).
  const spans: { start: number; end: number }[] = [];
  if (starts.length === 0 || starts[0]! > 0.01) spans.push({ start: 0, end: starts[0] ?? total });
  for (const [k, end] of ends.entries()) spans.push({ start: end, end: starts[k + 1] ?? total });
  return spans.filter((s) => s.end - s.start > 0.02);
}

/** ffmpeg's own EBU R128 meter over a file: integrated loudness and true peak. */
export async function ebur128(file: string): Promise<{ integrated: number; truePeak: number }> {
  const { stderr } = await ffmpeg(
    ['-i', `file:${file}`, '-vn', '-af', 'ebur128=peak=true:framelog=verbose', '-f', 'null', '-'],
    'info',
  );
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  return {
    integrated: Number(/I:\s+(-?[\d.]+) LUFS/.exec(summary)![1]),
    truePeak: Number(/Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary)![1]),
  };
}
