import { join } from 'node:path';
import webvtt from 'node-webvtt';
import SrtParser from 'srt-parser-2';
import { presetOf, type PlanLanguage } from '@aiprod/contracts';
import type { Job } from '@aiprod/job-store';
import { renderAnimatic } from '@aiprod/media';
import {
  cleanup,
  brief,
  CUT_SECONDS,
  ebur128,
  ffmpeg,
  pcm,
  plan,
  rmsDb,
  scratch,
  shotSpec,
  soundSuite,
  speechIntervals,
} from './sound-fixtures';

// The vendor's own sound kept in a premium_spot cut, and a brief in two languages delivered as
// two complete sets: measured on the stored files.

const { env, seedAssembling, assemble, download, withDownloaded } = soundSuite('sound-lang');
const TONE_HZ = 2500;
const TONE_BAND = `bandpass=f=${TONE_HZ}:width_type=q:width=20,bandpass=f=${TONE_HZ}:width_type=q:width=20`;
const measured: Record<string, number> = {};

let dir: string;
/** Animatics without on-screen text (a several-language plan draws each language's own). */
let clean: string[];
/** The same, each with a sound track carrying a steady 2.5 kHz tone, as a Veo clip with audio. */
let withTone: string[];

beforeAll(async () => {
  await env.provision();
  dir = await scratch();
  clean = [];
  withTone = [];
  for (const i of [0, 1, 2]) {
    const file = join(dir, `clip-${i}.mp4`);
    await renderAnimatic(shotSpec(i), file, { timeoutMs: 60_000 });
    clean.push(file);
    const toned = join(dir, `veo-${i}.mp4`);
    await ffmpeg([
      '-i',
      `file:${file}`,
      '-f',
      'lavfi',
      '-i',
      `sine=f=${TONE_HZ}:sample_rate=48000:d=${shotSpec(i).durationSeconds}`,
      '-map',
      '0:v',
      '-map',
      '1:a',
      '-c:v',
      'copy',
      '-c:a',
      'aac',
      '-y',
      `file:${toned}`,
    ]);
    withTone.push(toned);
  }
}, 120_000);

afterAll(async () => {
  console.log(`sound (languages, native audio) measurements: ${JSON.stringify(measured)}`);
  await cleanup(dir);
  await env.close();
});

describe('a premium_spot cut', () => {
  const preset = presetOf('premium_spot');
  const veoJob = (clips: string[]) =>
    seedAssembling({
      brief: brief(),
      preset: 'premium_spot',
      plan: plan(),
      specs: [0, 1, 2].map((i) => shotSpec(i, { audio: true })),
      clips,
      backend: 'veo',
    });
  /** The tone's band over the shots (before the end card), in dB. */
  const toneLevel = (job: Job) =>
    withDownloaded(job.outputs![0]!.uri, async (file) => ({
      band: rmsDb(await pcm(file, 0.5, CUT_SECONDS - 3, TONE_BAND)),
      loudness: await ebur128(file),
    }));

  it('keeps the Veo clips’ own sound, at the preset’s loudness', async () => {
    const toned = await veoJob(withTone);
    measured.veoAssemblySeconds = await assemble(toned);
    const silent = await veoJob(clean);
    await assemble(silent);
    const [a, b] = await Promise.all([toned, silent].map(async (j) => (await env.jobs.getJob(j.jobId))!));
    expect(a!.status).toBe('DELIVERED');
    expect(b!.status).toBe('DELIVERED');
    const [withSound, without] = [await toneLevel(a!), await toneLevel(b!)];
    measured.toneRatioDb = Number((withSound.band - without.band).toFixed(1));
    expect(withSound.band - without.band).toBeGreaterThanOrEqual(20);
    measured.veoLoudnessErrorLu = Number(
      Math.abs(withSound.loudness.integrated - preset.deliveryLoudnessLufs).toFixed(2),
    );
    expect(Math.abs(withSound.loudness.integrated - preset.deliveryLoudnessLufs)).toBeLessThanOrEqual(1);
    expect(withSound.loudness.truePeak).toBeLessThanOrEqual(preset.deliveryTruePeakDbtp);
  }, 300_000);
});

describe('a brief in English and French', () => {
  const EN = ['Fresh coffee, every morning.', 'Delivered warm to your door.'];
  const FR = ['Du café frais, chaque matin.', 'Livré bien chaud chez vous.'];
  // As the planner stores them (plan-sound): the plan's own language first, every language's
  // lines and on-screen text by shot; the specs keep the own lines and no on-screen text.
  const languages: PlanLanguage[] = [
    {
      language: 'en',
      source: 'brief',
      shots: [
        { voiceOver: EN[0]!, onScreenText: 'Fresh coffee' },
        { voiceOver: EN[1]!, onScreenText: 'At your door' },
        { onScreenText: 'Kettle & Co' },
      ],
      callToAction: 'Order today',
    },
    {
      language: 'fr',
      source: 'supplied',
      shots: [
        { voiceOver: FR[0]!, onScreenText: 'Café frais' },
        { voiceOver: FR[1]!, onScreenText: 'Chez vous' },
        { onScreenText: 'Kettle & Co' },
      ],
      callToAction: 'Commandez',
    },
  ];

  it('delivers two complete sets: a video per variant, captions and a voice in each language', async () => {
    const job = await seedAssembling({
      brief: brief({
        voiceOver: true,
        aspectRatios: ['16:9', '9:16'],
        languages: ['en', 'fr'],
        translations: {
          fr: { keyMessage: 'Du café frais, livré', callToAction: 'Commandez' },
        },
      }),
      preset: 'social_quick',
      plan: plan({ languages }),
      specs: [0, 1, 2].map((i) => shotSpec(i, EN[i] ? { voiceOver: EN[i] } : {})),
      clips: clean,
    });
    measured.twoLanguageAssemblySeconds = await assemble(job);
    const delivered = (await env.jobs.getJob(job.jobId))!;
    expect(delivered.status).toBe('DELIVERED');

    const outputs = delivered.outputs!;
    expect(outputs.map((o) => [o.language, o.variant]).sort()).toEqual([
      ['en', '16:9'],
      ['en', '9:16'],
      ['fr', '16:9'],
      ['fr', '9:16'],
    ]);
    for (const o of outputs) expect([o.width, o.height]).toEqual(o.variant === '16:9' ? [1280, 720] : [720, 1280]);
    expect(new Set(outputs.map((o) => o.uri)).size).toBe(4);
    // The languages' files differ (their voice, captions and text), variant by variant.
    for (const variant of ['16:9', '9:16']) {
      const [en, fr] = ['en', 'fr'].map((l) => outputs.find((o) => o.language === l && o.variant === variant)!);
      expect(en!.sha256).not.toBe(fr!.sha256);
    }

    expect(delivered.voiceTracks!.map((t) => t.language)).toEqual(['en', 'fr']);
    const onsets = Object.fromEntries(
      await Promise.all(
        delivered.voiceTracks!.map(
          async (t) => [t.language, (await withDownloaded(t.uri, speechIntervals)).map((s) => s.start)] as const,
        ),
      ),
    );
    let worst = 0;
    for (const o of outputs) {
      expect(o.captions).toBeDefined();
      const vttText = (await download(o.captions!.vttUri)).toString('utf8');
      const vtt = webvtt.parse(vttText, { strict: true });
      expect(vtt.valid).toBe(true);
      expect(vtt.cues).toHaveLength(o.captions!.cues);
      const srt = new SrtParser().fromSrt((await download(o.captions!.srtUri)).toString('utf8'));
      expect(srt).toHaveLength(o.captions!.cues);
      const words = vtt.cues.map((c) => c.text).join(' ');
      expect(words).toBe((o.language === 'fr' ? FR : EN).join(' '));
      expect(srt.map((c) => c.text).join(' ')).toBe(words);
      // Each cue on its own language's voice.
      for (const cue of vtt.cues)
        worst = Math.max(worst, Math.min(...onsets[o.language!]!.map((t) => Math.abs(t - cue.start))));
    }
    measured.twoLanguageMaxCueOffsetMs = Math.round(worst * 1000);
    expect(worst).toBeLessThanOrEqual(0.15);
    const fr = outputs.find((o) => o.language === 'fr')!;
    expect((await download(fr.captions!.vttUri)).toString('utf8')).toMatch(/café frais, chaque matin/);
  }, 400_000);
});
