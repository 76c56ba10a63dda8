import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  finishCut,
  finishTimeline,
  placeVoice,
  renderAnimatic,
  runFfmpeg,
  type FinishInput,
  type FinishVoiceLine,
} from '../index';
import { pixel, rgbFrame, scratchDir, sha256, shot } from '../../test/helpers';

const GREY = '#707070';
const T = { timeoutMs: 30_000 };

/** RMS level (dB) of `file`'s audio from `start` for `seconds`, through `filter` if given. */
async function rms(file: string, start: number, seconds: number, filter = 'anull'): Promise<number> {
  const { stderr } = await runFfmpeg(
    [
      ...['-v', 'info', '-nostats', '-ss', String(start), '-t', String(seconds), '-i', file, '-map', '0:a'],
      ...['-af', `${filter},astats=measure_overall=RMS_level:measure_perchannel=none`, '-f', 'null', '-'],
    ],
    T,
  );
  const m = /RMS level dB:\s*(-?[\d.]+|-inf)/.exec(stderr)?.[1];
  return m === '-inf' ? -Infinity : Number(m);
}

/** The audio of `file` as mono 48 kHz float samples. */
async function pcm(file: string, dir: string): Promise<Float32Array> {
  const out = join(dir, `pcm-${Date.now()}-${Math.random().toString(36).slice(2)}.f32`);
  await runFfmpeg(['-v', 'error', '-i', file, '-map', '0:a', '-ac', '1', '-ar', '48000', '-f', 'f32le', '-y', out], T);
  const buf = readFileSync(out);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
}

/** Normalised correlation of a[from..to) with b shifted by `lag` samples. */
function correlation(a: Float32Array, b: Float32Array, from: number, to: number, lag: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = from; i < to; i += 1) {
    const x = a[i]!;
    const y = b[i + lag] ?? 0;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Pixels of a rectangle that are nearly white. */
function whitePixels(frame: Buffer, width: number, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y += 1)
    for (let x = x0; x < x1; x += 1) if (Math.min(...pixel(frame, width, x, y)) > 200) n += 1;
  return n;
}

/** Pixels of row `y` darker than the grey background: the caption box's width on a row of its padding. */
function darkRun(frame: Buffer, width: number, y: number): number {
  let n = 0;
  for (let x = 0; x < width; x += 1) if (Math.max(...pixel(frame, width, x, y)) < 70) n += 1;
  return n;
}

describe('finishCut sound: voice, ducking, music, clip audio, captions', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());
  const out = (name: string) => join(scratch.dir, name);
  let grey = '';
  let toneClip = '';
  let voiceWav = '';
  let music = '';
  const results: Record<string, number> = {};
  afterAll(() => console.log(`sound measurements ${JSON.stringify(results)}`));

  beforeAll(async () => {
    grey = out('grey.mp4');
    await renderAnimatic(shot({ palette: [GREY, GREY], durationSeconds: 2.5 }), grey, T);
    // A grey clip carrying its own 2.5 kHz tone (as Veo's native audio would be).
    toneClip = out('tone.mp4');
    await runFfmpeg(
      [
        ...['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0x707070:s=320x180:r=30:d=2.5'],
        ...['-f', 'lavfi', '-i', 'sine=f=2500:d=2.5:sample_rate=48000', '-af', 'volume=-12dB'],
        ...['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-y', toneClip],
      ],
      T,
    );
    // Not speech: band-limited noise in two bursts, 0.2-0.8 s and 1.0-1.6 s, mono 22.05 kHz.
    voiceWav = out('voice.wav');
    await runFfmpeg(
      [
        ...['-v', 'error', '-f', 'lavfi', '-i', 'anoisesrc=d=1.6:c=white:r=22050:a=0.5:seed=7'],
        ...['-af', "highpass=f=300,lowpass=f=3000,aeval=exprs='val(0)*(between(t,0.2,0.8)+between(t,1.0,1.6))'"],
        ...['-c:a', 'pcm_s16le', '-y', voiceWav],
      ],
      T,
    );
    // A supplied track longer than the cut: pink noise, so any misplacement decorrelates it.
    music = out('music.wav');
    await runFfmpeg(
      [
        ...['-v', 'error', '-f', 'lavfi', '-i', 'anoisesrc=d=10:c=pink:r=44100:a=0.3:seed=3'],
        ...['-c:a', 'pcm_s16le', '-y', music],
      ],
      T,
    );
  });

  const line = (shotIndex: number): FinishVoiceLine => ({
    shotIndex,
    file: voiceWav,
    durationSeconds: 1.6,
    phrases: [
      {
        text: 'Lighter every mile',
        startSeconds: 0.2,
        endSeconds: 0.8,
        words: [
          { text: 'Lighter', startSeconds: 0.2, endSeconds: 0.45 },
          { text: 'every', startSeconds: 0.45, endSeconds: 0.6 },
          { text: 'mile', startSeconds: 0.6, endSeconds: 0.8 },
        ],
      },
      {
        text: 'Run brighter',
        startSeconds: 1.0,
        endSeconds: 1.6,
        words: [
          { text: 'Run', startSeconds: 1.0, endSeconds: 1.2 },
          { text: 'brighter', startSeconds: 1.2, endSeconds: 1.6 },
        ],
      },
    ],
  });

  // Three 2.5 s shots, 0.2 s fades, 1 s card: 7.9 s. Lines on shots 0 and 2; shot 1 is quiet,
  // so 2.6-4.4 s is bed alone, and 1.3-1.8 s and 5.2-5.7 s are inside speech.
  const base = (overrides: Partial<FinishInput> = {}): FinishInput => ({
    clips: [
      { file: grey, durationSeconds: 2.5 },
      { file: grey, durationSeconds: 2.5 },
      { file: grey, durationSeconds: 2.5 },
    ],
    transition: { kind: 'fade', durationSeconds: 0.2 },
    endCard: { brandName: 'Acme', colors: ['#111827', '#4338CA'], durationSeconds: 1 },
    loudnessLufs: -14,
    fps: 30,
    variants: [{ aspect: '16:9', outFile: out('x.mp4'), width: 320, height: 180 }],
    sourceAspect: '16:9',
    timeoutMs: 60_000,
    voice: { lines: [line(0), line(2)] },
    ...overrides,
  });
  const INSIDE: [number, number][] = [
    [1.3, 0.5],
    [5.2, 0.5],
  ];
  const OUTSIDE: [number, number] = [2.6, 1.8];

  it('places the voice, ducks the bed by 15 dB under it and holds loudness at -14 and -23', async () => {
    for (const target of [-14, -23]) {
      const voiceFile = out(`voice-stem${target}.wav`);
      const musicFile = out(`music-stem${target}.wav`);
      const input = base({
        loudnessLufs: target,
        stems: { voiceFile, musicFile },
        variants: [{ aspect: '16:9', outFile: out(`voiced${target}.mp4`), width: 320, height: 180 }],
      });
      const started = Date.now();
      const [result] = await finishCut(input);
      results[`finishMs${target}`] = Date.now() - started;
      // Loudness and true peak on the delivered file.
      results[`loudnessError${target}`] = +(result!.integratedLufs - target).toFixed(2);
      results[`truePeak${target}`] = result!.truePeakDbtp;
      expect(Math.abs(result!.integratedLufs - target)).toBeLessThanOrEqual(1);
      expect(result!.truePeakDbtp).toBeLessThanOrEqual(-1);

      // The bed, alone on its stem: down at least 10 dB inside speech.
      const outside = await rms(musicFile, ...OUTSIDE);
      for (const window of INSIDE) {
        const inside = await rms(musicFile, ...window);
        const voice = await rms(voiceFile, ...window);
        results[`duckDb${target}`] = +(outside - inside).toFixed(2);
        results[`voiceOverDuckedBedDb${target}`] = +(voice - inside).toFixed(2);
        expect(outside - inside).toBeGreaterThanOrEqual(10);
        expect(voice - inside).toBeGreaterThanOrEqual(10);
      }
      // The stems are the cut's length, at 48 kHz.
      expect((await pcm(musicFile, scratch.dir)).length).toBe(Math.round(7.9 * 48_000));

      // The voice's first onset is where placeVoice put the first cue.
      const { cues } = placeVoice(finishTimeline(input), input.voice!.lines);
      const { stderr } = await runFfmpeg(
        ['-v', 'info', '-nostats', '-i', voiceFile, '-af', 'silencedetect=n=-50dB:d=0.05', '-f', 'null', '-'],
        T,
      );
      const onset = Number(/silence_end:\s*([\d.]+)/.exec(stderr)?.[1]);
      results[`onsetErrorMs${target}`] = +((onset - cues[0]!.startSeconds) * 1000).toFixed(1);
      expect(Math.abs(onset - cues[0]!.startSeconds)).toBeLessThanOrEqual(0.03);
    }
  });

  it('plays the supplied music track in the cut, where it belongs, and is reproducible', async () => {
    const input = base({
      music: { file: music },
      variants: [{ aspect: '16:9', outFile: out('music1.mp4'), width: 320, height: 180 }],
    });
    const [result] = await finishCut(input);
    expect(Math.abs(result!.integratedLufs - -14)).toBeLessThanOrEqual(1);
    const cut = await pcm(result!.outFile, scratch.dir);
    const source = await pcm(music, scratch.dir);
    const from = OUTSIDE[0] * 48_000;
    const to = from + OUTSIDE[1] * 48_000;
    let best = { lag: 0, r: -1 };
    for (let lag = -240; lag <= 240; lag += 1) {
      const r = correlation(cut, source, from, to, lag);
      if (r > best.r) best = { lag, r };
    }
    results.musicCorrelation = +best.r.toFixed(4);
    results.musicLagSamples = best.lag;
    expect(best.r).toBeGreaterThan(0.9);
    expect(Math.abs(best.lag)).toBeLessThanOrEqual(48); // 1 ms
    // Elsewhere in the track it does not match: the correlation means placement, not noise.
    expect(Math.abs(correlation(cut, source, from, to, 48_000))).toBeLessThan(0.2);

    await finishCut({ ...input, variants: [{ ...input.variants[0]!, outFile: out('music2.mp4') }] });
    expect(sha256(out('music2.mp4'))).toBe(sha256(out('music1.mp4')));
  });

  it("keeps a clip's own audio with clipAudio, and drops it without", async () => {
    const clips = [
      { file: grey, durationSeconds: 2.5 },
      { file: toneClip, durationSeconds: 2.5 },
      { file: grey, durationSeconds: 2.5 },
    ];
    const tone = 'bandpass=f=2500:width_type=q:w=8';
    const [withAudio] = await finishCut(
      base({
        clips,
        clipAudio: true,
        variants: [{ aspect: '16:9', outFile: out('clip-yes.mp4'), width: 320, height: 180 }],
      }),
    );
    const [without] = await finishCut(
      base({ clips, variants: [{ aspect: '16:9', outFile: out('clip-no.mp4'), width: 320, height: 180 }] }),
    );
    const yes = await rms(withAudio!.outFile, ...OUTSIDE, tone);
    const no = await rms(without!.outFile, ...OUTSIDE, tone);
    const elsewhere = await rms(withAudio!.outFile, 7.0, 0.5, tone); // the end card: no clip
    results.clipToneWithDb = yes;
    results.clipToneWithoutDb = no;
    expect(yes).toBeGreaterThan(-40);
    expect(no).toBeLessThan(yes - 30);
    expect(elsewhere).toBeLessThan(yes - 30);
    expect(Math.abs(withAudio!.integratedLufs - -14)).toBeLessThanOrEqual(1);
  });

  it('burns in captions on the voice cues, by phrase or word, inside each aspect safe area', async () => {
    const input = (style: FinishInput['captionStyle'], name: string) =>
      base({
        captionStyle: style,
        clips: [
          { file: grey, durationSeconds: 2.5, onScreenText: 'Plus léger' },
          { file: grey, durationSeconds: 2.5 },
          { file: grey, durationSeconds: 2.5 },
        ],
        variants: [
          { aspect: '16:9', outFile: out(`${name}-wide.mp4`), width: 320, height: 180 },
          { aspect: '9:16', outFile: out(`${name}-tall.mp4`), width: 180, height: 320 },
        ],
      });
    await finishCut(input('phrase', 'phrase'));
    await finishCut(input('word', 'word'));
    await finishCut(input('none', 'none'));
    const frame = (file: string, seconds: number) => rgbFrame(file, Math.round(seconds * 30), scratch.dir);
    // 16:9: the box ends 10% above the bottom. First cue 0.45-1.05 s (held to 1.25 s).
    const band = [16, 120, 304, 162] as const;
    const before = await frame(out('phrase-wide.mp4'), 0.3);
    const during = await frame(out('phrase-wide.mp4'), 0.6);
    expect(whitePixels(before, 320, ...band)).toBe(0);
    expect(whitePixels(during, 320, ...band)).toBeGreaterThan(50);
    expect(whitePixels(during, 320, 0, 163, 320, 180)).toBe(0);
    // Quiet shot 1: no caption at all.
    expect(whitePixels(await frame(out('phrase-wide.mp4'), 3.5), 320, ...band)).toBe(0);
    // 'none' burns nothing.
    expect(whitePixels(await frame(out('none-wide.mp4'), 0.6), 320, ...band)).toBe(0);
    // 'word': one word, so a narrower box than the phrase's, and another word a moment later.
    const phraseBox = darkRun(during, 320, 160);
    const word1 = await frame(out('word-wide.mp4'), 0.55); // "Lighter"
    const word3 = await frame(out('word-wide.mp4'), 0.95); // "mile"
    const w1 = darkRun(word1, 320, 160);
    const w3 = darkRun(word3, 320, 160);
    results.phraseBoxPx = phraseBox;
    results.wordBoxPx = w1;
    expect(w1).toBeGreaterThan(20);
    expect(w1).toBeLessThan(phraseBox);
    expect(w3).toBeLessThan(w1); // "mile" is shorter than "Lighter"
    // 9:16: the box ends 20% above the bottom, where platforms draw their own controls.
    const tall = await frame(out('phrase-tall.mp4'), 0.6);
    expect(whitePixels(tall, 180, 9, 160, 171, 256)).toBeGreaterThan(30);
    expect(whitePixels(tall, 180, 0, 257, 180, 320)).toBe(0);
    // On-screen text: upper middle of the frame while shot 0 is on, gone on shot 1.
    expect(whitePixels(during, 320, 16, 18, 304, 90)).toBeGreaterThan(50);
    expect(whitePixels(await frame(out('phrase-wide.mp4'), 3.5), 320, 16, 18, 304, 90)).toBe(0);
  });

  it('refuses a voice line that does not fit its shot before running anything', async () => {
    const long = { ...line(1), durationSeconds: 2.4 };
    await expect(finishCut(base({ voice: { lines: [long] } }))).rejects.toMatchObject({
      kind: 'invalid',
      message: expect.stringContaining('shot 1') as unknown,
    });
  });
});
