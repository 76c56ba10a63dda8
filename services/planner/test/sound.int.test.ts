import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderTopicFor, RetryableError, type Brief, type MessageOf } from '@aiprod/contracts';
import { AssetStore, DirectorPlanCache, EstimateStore, PlanStore, TenantStore } from '@aiprod/job-store';
import { probe, runFfmpeg } from '@aiprod/media';
import { localDirector } from '@aiprod/planning';
import type { HandlerContext } from '@aiprod/pubsub';
import { recordDeadLetter } from '@aiprod/service-runtime';
import { espeakEngine, googleTtsEngine } from '@aiprod/speech';
import { LocalBlobStore, tenantAssetKey } from '@aiprod/storage';
import { aBrief, emulatorProject } from '@aiprod/testing';
import { buildPlanner, planLetterSuperseded, plannerSweep, type PlannerDeps } from '../src/app';

const env = emulatorProject('planner-sound', 'planner');
const { db, jobs, log } = env;
const tenants = new TenantStore(db);
const assets = new AssetStore(db);
const root = mkdtempSync(join(tmpdir(), 'planner-sound-'));
const storage = new LocalBlobStore({
  rootDir: root,
  publicBaseUrl: 'https://127.0.0.1:1',
  signingKey: Buffer.alloc(32),
});
let published: Awaited<ReturnType<typeof env.collect>> = () => [];
let server: Server;
let base = '';
const files: Record<string, Buffer> = {};

function deps(overrides: Partial<PlannerDeps> = {}): PlannerDeps {
  return {
    ...env.core,
    tenants,
    director: localDirector,
    fallbackToLocal: false,
    enabledBackends: ['local'],
    ...overrides,
    plans: new PlanStore(db),
    directorPlans: new DirectorPlanCache(db),
    estimates: new EstimateStore(db),
    storage,
    assets,
    allowLoopbackHttp: true,
    referenceFetchTimeoutMs: 5_000,
    speech: espeakEngine(),
  };
}

async function newJob(overrides: Partial<Brief>) {
  const jobId = `job_${randomBytes(5).toString('hex')}`;
  const brief = aBrief({ aspectRatios: ['9:16'], preset: 'social_quick', ...overrides });
  await jobs.createJob({ jobId, tenantId: 't-sound', brief, preset: 'social_quick' });
  return jobId;
}

/** A first delivery of `topic` to the planner, as its subscription hands it over. */
const contextOf = (topic: 'aiprod.job.requested.v1' | 'aiprod.job.approved.v1'): HandlerContext => ({
  topic,
  subscription: `${topic}.planner`,
  messageId: randomBytes(4).toString('hex'),
  deliveryAttempt: 1,
  publishTime: new Date(),
  log,
});

async function deliver(jobId: string) {
  await buildPlanner(deps())['aiprod.job.requested.v1'].handle(
    { v: 1, jobId, tenantId: 't-sound' },
    contextOf('aiprod.job.requested.v1'),
  );
}

const renderRequestsFor = async (jobId: string) => {
  // Published before the handler returned; the collector's pull may lag a little.
  await new Promise((r) => setTimeout(r, 300));
  return [...published(renderTopicFor('local')), ...published(renderTopicFor('replicate'))].filter(
    (m) => (m as MessageOf<'aiprod.render.local.v1'>).jobId === jobId,
  ) as MessageOf<'aiprod.render.local.v1'>[];
};

const FR = {
  keyMessage: 'Voici Aurora',
  audience: 'les coureurs du matin',
  callToAction: 'Courez plus fort',
};

beforeAll(async () => {
  await env.provision();
  published = await env.collect([renderTopicFor('local'), renderTopicFor('replicate')]);
  await tenants.createTenant({ tenantId: 't-sound', name: 'Sound', autoApproveLimitUsd: 100 });
  const make = async (name: string, args: string[]) => {
    const file = join(root, name);
    await runFfmpeg([...args, '-y', file], { timeoutMs: 20_000 });
    files[name] = readFileSync(file);
  };
  await make('bed.wav', ['-f', 'lavfi', '-i', 'sine=frequency=220:duration=3', '-ac', '1', '-ar', '44100']);
  await make('bed.mp3', ['-f', 'lavfi', '-i', 'sine=frequency=330:duration=2.5', '-c:a', 'libmp3lame']);
  await make('silent.wav', ['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=mono', '-t', '3']);
  // A local media file a hostile playlist would have ffmpeg read into the client's music.
  await make('secret.ts', ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=5', '-c:a', 'mp2', '-f', 'mpegts']);
  files['playlist.mp3'] = Buffer.concat([
    // An empty ID3v2.4 tag: ten bytes the sniffer takes for an MP3. ffmpeg's format probe skips
    // ID3 tags, so without a forced demuxer the rest is read as HLS (ffprobe: format hls, 5 s).
    Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0]),
    Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:5.0,\n${join(root, 'secret.ts')}\n#EXT-X-ENDLIST\n`),
  ]);
  await make('short.wav', ['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=mono', '-t', '0.2']);
  await make('still.png', ['-f', 'lavfi', '-i', 'testsrc=size=64x64', '-frames:v', '1']);
  server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    if (files[name]) return void res.writeHead(200, { 'content-type': 'audio/wav' }).end(files[name]);
    res.writeHead(404).end('no such file');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await env.close();
  rmSync(root, { recursive: true, force: true });
});

jest.setTimeout(120_000);

describe('planner: the voice in every language', () => {
  it('plans a two-language voice-over: fr words on the plan, render specs with the en line and no on-screen text', async () => {
    const jobId = await newJob({
      voiceOver: true,
      audience: 'morning runners',
      callToAction: 'Run brighter',
      languages: ['en', 'fr'],
      translations: { fr: FR },
    });
    await deliver(jobId);

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    const languages = job.plan!.languages!;
    expect(languages.map((l) => l.language)).toEqual(['en', 'fr']);
    const fr = languages[1]!;
    expect(fr.source).toBe('supplied');
    expect(fr.shots[0]!.voiceOver).toBe('Voici Aurora.');
    expect(fr.shots.length).toBe(job.plan!.shotIds.length);
    expect(fr.shots.at(-1)!.voiceOver).toContain('Courez plus fort');
    expect(fr.callToAction).toBe('Courez plus fort');

    const en = languages[0]!;
    const sent = await renderRequestsFor(jobId);
    expect(sent.length).toBe(job.plan!.shotIds.length);
    for (const m of sent) expect(m.spec.onScreenText).toBeUndefined();
    const byShot = new Map(sent.map((m) => [m.shotId, m.spec.voiceOver]));
    job.plan!.shotIds.forEach((shotId, i) => expect(byShot.get(shotId)).toBe(en.shots[i]!.voiceOver));
    expect([...byShot.values()].some((v) => v?.includes('Meet Aurora'))).toBe(true);
    // No line needed shortening: nothing on the timeline says so.
    expect((await jobs.listEvents(jobId)).map((e) => e.type)).not.toContain('plan.voice_shortened');
  });

  it('shortens a translation too long for its shot and says so on the timeline', async () => {
    const long =
      "Voici Aurora, la chaussure de course la plus légère que nous ayons jamais fabriquée, pensée pour chaque matin, chaque route et chaque saison, et qui ne vous laissera jamais tomber quand vous courez vers l'horizon";
    const jobId = await newJob({
      voiceOver: true,
      durationSeconds: 10,
      languages: ['en', 'fr'],
      translations: { fr: { keyMessage: long } },
    });
    await deliver(jobId);

    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    const frLine = job.plan!.languages![1]!.shots[0]!.voiceOver!;
    expect(frLine.length).toBeLessThan(long.length);
    expect(long.startsWith(frLine.replace(/[.!?]$/, ''))).toBe(true);
    const events = (await jobs.listEvents(jobId)).filter((e) => e.type === 'plan.voice_shortened');
    expect(events.length).toBe(1);
    const lines = (events[0]!.data as { lines: { language: string; shotId: string; to: string; from: string }[] })
      .lines;
    expect(lines).toContainEqual(
      expect.objectContaining({ language: 'fr', shotId: job.plan!.shotIds[0], to: frLine, from: `${long}.` }),
    );
  });
});

describe("planner: the client's music", () => {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  /** The stored copy is the client's audio decoded to 48 kHz stereo 16-bit WAV, recorded with both digests. */
  async function expectStoredMusic(jobId: string, source: Buffer, seconds: number, from: object) {
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('RENDERING');
    const prefix = `tenants/t-sound/jobs/${jobId}/references`;
    const stored = readFileSync(join(root, prefix, 'music.wav'));
    expect(job.music).toEqual(
      expect.objectContaining({
        path: `${prefix}/music.wav`,
        contentType: 'audio/wav',
        sha256: sha(stored),
        sizeBytes: stored.length,
        sourceSha256: sha(source),
        source: from,
      }),
    );
    expect(job.music!.durationSeconds).toBeCloseTo(seconds, 1);
    expect(readdirSync(join(root, prefix))).toEqual(['music.wav']);
    const info = await probe(join(root, prefix, 'music.wav'), { timeoutMs: 10_000 });
    expect(info.audio).toEqual({ codec: 'pcm_s16le', sampleRate: 48_000, channels: 2 });
  }

  it('fetches music by URL and stores it decoded under the job, recorded with its hashes and length', async () => {
    const jobId = await newJob({ music: { url: `${base}/bed.wav` } });
    await deliver(jobId);
    await expectStoredMusic(jobId, files['bed.wav']!, 3, { kind: 'url', url: `${base}/bed.wav` });
  });

  it('copies an uploaded audio asset named as music', async () => {
    const assetId = `asset_${randomBytes(12).toString('hex')}`;
    const path = tenantAssetKey('t-sound', assetId);
    const put = await storage.putBytes(path, files['bed.mp3']!, { contentType: 'audio/mpeg' });
    await assets.create({
      assetId,
      tenantId: 't-sound',
      contentType: 'audio/mpeg',
      sizeBytes: put.sizeBytes,
      sha256: put.sha256,
      path,
    });
    const jobId = await newJob({ music: { assetId } });
    await deliver(jobId);
    await expectStoredMusic(jobId, files['bed.mp3']!, 2.5, { kind: 'asset', assetId });
  });

  it.each([
    ['a file that is not audio', 'still.png', /^brief\.music: the file is not an MP3, WAV, M4A, Ogg or FLAC file/],
    ['a 0.2 s silence', 'short.wav', /^brief\.music: the music lasts 0\.20 s; at least 1 s is needed/],
    ['a 404', 'missing.wav', /^brief\.music: could not be fetched: HTTP 404/],
    ['three seconds of silence', 'silent.wav', /^brief\.music: the music is silent/],
    // Starts like an MP3 (an ID3 tag), is an HLS playlist naming a file on the planner's disk:
    // read with the MP3 demuxer only, it decodes to nothing, and the file is never opened.
    ['a playlist dressed as an MP3', 'playlist.mp3', /^brief\.music: the file does not decode/],
  ])('fails the job naming brief.music for %s, with nothing planned or published', async (_what, name, reason) => {
    const jobId = await newJob({ music: { url: `${base}/${name}` } });
    await deliver(jobId);
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error?.reason).toBe('planning_failed');
    expect(job.error?.message).toMatch(reason);
    expect(job.plan).toBeUndefined();
    expect(job.music).toBeUndefined();
    expect(await jobs.listShots(jobId)).toEqual([]);
    expect(await renderRequestsFor(jobId)).toEqual([]);
  });
});

describe('an approved plan whose line no longer fits', () => {
  const plans = new PlanStore(db);
  // A paid backend, so the plan costs something and waits for the client's approval.
  const paid = deps({ enabledBackends: ['local', 'replicate'] });
  const approve = (jobId: string, planVersion: number) =>
    buildPlanner(paid)['aiprod.job.approved.v1'].handle(
      { v: 1, jobId, tenantId: 't-sound-approve', approver: 'key:test', planVersion },
      contextOf('aiprod.job.approved.v1'),
    );

  async function waitingJob(): Promise<string> {
    const jobId = `job_${randomBytes(5).toString('hex')}`;
    const brief = aBrief({ aspectRatios: ['9:16'], preset: 'social_quick', voiceOver: true });
    await jobs.createJob({ jobId, tenantId: 't-sound-approve', brief, preset: 'social_quick' });
    await buildPlanner(paid)['aiprod.job.requested.v1'].handle(
      { v: 1, jobId, tenantId: 't-sound-approve' },
      contextOf('aiprod.job.requested.v1'),
    );
    expect((await jobs.getJob(jobId))!.status).toBe('AWAITING_APPROVAL');
    return jobId;
  }

  beforeAll(() => tenants.createTenant({ tenantId: 't-sound-approve', name: 'Approve', autoApproveLimitUsd: 0 }));

  it('fails the job before any render when an edited line, short on paper, is too long spoken', async () => {
    const jobId = await waitingJob();
    // Short by characters (the gateway's speaking-rate estimate lets it through on a 5 s shot);
    // spoken, the numbers take several times as long.
    const line = 'Call 1-800-555-0199 before 12/31/2025 for $49.99.';
    const revised = await plans.revise(jobId, 1, 'edit', (job, shots) => ({
      plan: job.plan!,
      shots: shots.map((s, i) => ({ spec: i === 0 ? { ...s.spec, voiceOver: line } : s.spec, backend: s.backend })),
      event: { by: 'key:test', shots: ['s01'] },
    }));
    expect('ok' in revised && revised.ok).toBe(true);
    expect(await plans.approve(jobId, 2, 'key:test')).toMatchObject({ ok: true });
    await approve(jobId, 2);
    const job = (await jobs.getJob(jobId))!;
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({
      reason: 'planning_failed',
      message: expect.stringMatching(
        /^shot s01's en voice-over "Call 1-800.*" lasts [\d.]+ s spoken and its shot leaves [\d.]+ s/,
      ),
    });
    expect(await renderRequestsFor(jobId)).toEqual([]);
  });

  it('a Text-to-Speech outage at approval leaves the recorded approval to the decision sweep, which renders it', async () => {
    const jobId = await waitingJob();
    expect(await plans.approve(jobId, 1, 'key:test')).toMatchObject({ ok: true });
    // The engine is down (nothing listens on its address): every delivery of job.approved fails.
    const down = googleTtsEngine({ baseUrl: 'http://127.0.0.1:9', headers: async () => ({ 'x-goog-api-key': 'k' }) });
    const approvedHandler = buildPlanner({ ...paid, speech: down })['aiprod.job.approved.v1'];
    const failure = await approvedHandler
      .handle(
        { v: 1, jobId, tenantId: 't-sound-approve', approver: 'key:test', planVersion: 1 },
        contextOf('aiprod.job.approved.v1'),
      )
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RetryableError);
    // Its message dead-letters: the job keeps waiting with its approval recorded, not failed.
    await recordDeadLetter(
      env.core,
      {
        subscription: 'aiprod.job.approved.v1.planner',
        topic: 'aiprod.job.approved.v1',
        messageId: randomBytes(4).toString('hex'),
        jobId,
        data: JSON.stringify({ v: 1, jobId, tenantId: 't-sound-approve', approver: 'key:test', planVersion: 1 }),
      },
      (letter) => planLetterSuperseded(paid, letter),
    );
    const waiting = (await jobs.getJob(jobId))!;
    expect(waiting.status).toBe('AWAITING_APPROVAL');
    expect(waiting.plan?.approval).toMatchObject({ version: 1 });
    expect(await renderRequestsFor(jobId)).toEqual([]);
    // The engine is back: the decision sweep acts on the recorded approval.
    await plannerSweep(paid).AWAITING_APPROVAL.nudge!(waiting);
    expect((await jobs.getJob(jobId))!.status).toBe('RENDERING');
    expect((await renderRequestsFor(jobId)).length).toBeGreaterThan(0);
  });

  it('renders an approved plan whose lines all fit', async () => {
    const jobId = await waitingJob();
    expect(await plans.approve(jobId, 1, 'key:test')).toMatchObject({ ok: true });
    await approve(jobId, 1);
    expect((await jobs.getJob(jobId))!.status).toBe('RENDERING');
    expect((await renderRequestsFor(jobId)).length).toBeGreaterThan(0);
  });
});
