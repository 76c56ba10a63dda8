import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BITEXACT_ARGS, BT709_ARGS, DEFAULT_FONT_FILE, h264Args, ffColor, fileUrl } from '../filters';
import { probe } from '../probe';
import { MediaError, runFfmpeg } from '../process';
import { buildGraph } from './graph';
import { AAC_ARGS, measureLoudness } from './loudness';
import { mapLimit } from './map-limit';
import { writeMix } from './mix';
import type { GraphContext, VariantPlan } from './overlays';
import { finishTimeline } from './timeline';
import { placeVoice } from './voice';
import { VARIANT_SIZES, type AspectRatio, type FinishInput, type FinishStrategy, type FinishedVariant } from './types';

export {
  VARIANT_SIZES,
  type AspectRatio,
  type FinishClip,
  type FinishCue,
  type FinishEndCard,
  type FinishInput,
  type FinishMusic,
  type FinishPhrase,
  type FinishStrategy,
  type FinishVariantRequest,
  type FinishVoice,
  type FinishVoiceLine,
  type FinishWord,
  type FinishedVariant,
  type TransitionKind,
} from './types';
export { placeVoice, voiceWindow, type VoicePlacement } from './voice';
export { MAX_VOICE_TEMPO, quickenVoiceLine } from './tempo';
export { finishTimeline, finishedDuration, type FinishTimeline } from './timeline';
export { measureLoudness } from './loudness';
export { contactSheet, posterFrame } from './stills';

// ---------------------------------------------------------------------------------------------
// finishCut
// ---------------------------------------------------------------------------------------------

const ASPECTS = Object.keys(VARIANT_SIZES) as AspectRatio[];

/** The picture alone: the one full-cost encode, made while the sound is mixed. */
function videoArgs(fps: number, totalFrames: number, file: string): string[] {
  return [
    '-frames:v',
    String(totalFrames),
    ...h264Args(23, fps),
    ...BT709_ARGS,
    '-an',
    ...BITEXACT_ARGS,
    '-f',
    'mp4',
    '-y',
    fileUrl(file),
  ];
}

/** The encoded picture (copied) and the mix (encoded to AAC) into the delivered MP4. */
function muxArgs(video: string, mix: string, partial: string): string[] {
  return [
    '-v',
    'error',
    '-i',
    fileUrl(video),
    '-i',
    fileUrl(mix),
    '-map',
    '0:v:0',
    '-map',
    '1:a:0',
    '-c:v',
    'copy',
    ...AAC_ARGS,
    ...BITEXACT_ARGS,
    '-movflags',
    '+faststart',
    '-f',
    'mp4',
    '-y',
    fileUrl(partial),
  ];
}

function planVariants(input: FinishInput): VariantPlan[] {
  if (input.variants.length === 0) throw new MediaError('finishing needs at least one variant', 'invalid');
  if (!ASPECTS.includes(input.sourceAspect))
    throw new MediaError(`unknown source aspect ${String(input.sourceAspect)}`, 'invalid');
  const files = new Set(input.variants.map((v) => v.outFile));
  if (files.size !== input.variants.length) throw new MediaError('two variants share an output file', 'invalid');
  return input.variants.map((request) => {
    if (!ASPECTS.includes(request.aspect)) throw new MediaError(`unknown aspect ${String(request.aspect)}`, 'invalid');
    const [dw, dh] = VARIANT_SIZES[request.aspect];
    const width = request.width ?? dw;
    const height = request.height ?? dh;
    const even = (x: number) => Number.isInteger(x) && x >= 16 && x % 2 === 0;
    if (!even(width) || !even(height))
      throw new MediaError(`variant size must be even and at least 16x16, got ${width}x${height}`, 'invalid');
    return { request, width, height };
  });
}

/**
 * The delivery step's finishing: joins the shots with transitions, burns in captions (each
 * shot's caption, or with voice lines the voice's phrase or word cues) and on-screen text, ends
 * on a brand card, and writes every requested aspect-ratio variant, each in one ffmpeg run (one
 * filtergraph, one encode; the runs go in parallel, see FinishStrategy). The sound is mixed
 * once beforehand (mix.ts): voice lines placed by placeVoice, the music bed and optionally the
 * clips' own audio ducked under the voice, all normalised to `loudnessLufs`. Each variant is laid out on its own: picture centre-cropped to
 * fill, captions and end card drawn for its frame. H.264 yuv420p CRF 23 veryfast, AAC 48 kHz
 * stereo, +faststart, byte-for-byte reproducible. Files appear at their outFile only when all
 * are complete. Returns each variant with its loudness as measured on the written file.
 * The length is finishedDuration(input): transitions shorten the cut (see finishTimeline).
 */
export async function finishCut(input: FinishInput): Promise<FinishedVariant[]> {
  return finishCutWith(input, 'each');
}

/** finishCut with an explicit run strategy (benchmark use). */
export async function finishCutWith(input: FinishInput, strategy: FinishStrategy): Promise<FinishedVariant[]> {
  const timeline = finishTimeline(input);
  const variants = planVariants(input);
  ffColor(input.endCard.colors[0]);
  ffColor(input.endCard.colors[1]);
  const target = input.loudnessLufs;
  const ceiling = input.truePeakDbtp ?? -1;
  if (!(target >= -70 && target <= -5)) throw new MediaError(`loudnessLufs out of range: ${target}`, 'invalid');
  if (!(ceiling >= -9 && ceiling <= 0)) throw new MediaError(`truePeakDbtp out of range: ${ceiling}`, 'invalid');
  const lines = input.voice?.lines ?? [];
  const duckDb = input.voice?.duckDb ?? 15;
  if (!(duckDb >= 0 && duckDb <= 60)) throw new MediaError(`duckDb out of range: ${duckDb}`, 'invalid');
  // Checked before anything runs: a line that does not fit its shot is refused, never cut.
  const placement = lines.length ? placeVoice(timeline, lines, input.voice?.leadSeconds) : undefined;
  const deadline = Date.now() + input.timeoutMs;
  // Aborted by the caller, or by the first ffmpeg run that fails (its siblings are pointless).
  const stop = new AbortController();
  const onAbort = () => stop.abort(input.signal?.reason);
  if (input.signal?.aborted) onAbort();
  input.signal?.addEventListener('abort', onAbort, { once: true });
  const run = () => ({ timeoutMs: Math.max(1, deadline - Date.now()), signal: stop.signal });

  const clipArgs = input.clips.flatMap((c) => ['-i', fileUrl(c.file)]);
  const logoInput = input.endCard.logoFile ? input.clips.length : undefined;
  const logoArgs = input.endCard.logoFile ? ['-i', fileUrl(input.endCard.logoFile)] : [];

  try {
    const dir = await mkdtemp(join(tmpdir(), 'aiprod-finish-'));
    const partials = variants.map((v) => `${v.request.outFile}.${randomBytes(4).toString('hex')}.partial`);
    try {
      // The sound, once for every variant (audio only), mixed while the pictures encode.
      const mix = join(dir, 'mix.wav');
      const stems = Object.entries(input.stems ?? {}).filter((e): e is [string, string] => !!e[1]);
      const stemPaths = Object.fromEntries(stems.map(([k]) => [k, join(dir, `stem-${k}.wav`)]));
      // The first failure is the cause; the runs it aborts fail after it with 'aborted'.
      let firstFailure: { err: unknown } | undefined;
      const failFast = (err: unknown) => {
        firstFailure ??= { err };
        stop.abort(err);
        throw err;
      };
      const mixed = writeMix(input, timeline, placement, mix, stemPaths, dir, run).catch(failFast);

      let count = 0;
      const ctx: GraphContext = {
        input,
        timeline,
        fontFile: input.fontFile ?? DEFAULT_FONT_FILE,
        text: async (body) => {
          const path = join(dir, `t${count++}.txt`);
          await writeFile(path, body, 'utf8');
          return path;
        },
        ...(logoInput === undefined ? {} : { logoInput }),
        ...(placement ? { placement } : {}),
      };
      const pictures = variants.map((_, i) => join(dir, `video-${i}.mp4`));
      const groups = strategy === 'one' ? [variants.map((_, i) => i)] : variants.map((_, i) => [i]);
      const encoded = mapLimit(groups, groups.length, async (group) => {
        const { graph, outputs } = await buildGraph(
          ctx,
          group.map((i) => variants[i]!),
        );
        const script = join(dir, `graph-${group[0]}.txt`);
        await writeFile(script, graph, 'utf8');
        const args = [
          '-v',
          'error',
          ...clipArgs,
          ...logoArgs,
          '-filter_complex_script',
          fileUrl(script),
          ...outputs.flatMap((o, k) => [
            '-map',
            `[${o.video}]`,
            ...videoArgs(timeline.fps, timeline.totalFrames, pictures[group[k]!]!),
          ]),
        ];
        await runFfmpeg(args, { ...run(), operation: 'finish_cut' }).catch(failFast);
      });
      // Both settled before anything is cleaned up: the first failure has aborted the other.
      const [mixOutcome, encodeOutcome] = await Promise.allSettled([mixed, encoded]);
      for (const outcome of [mixOutcome, encodeOutcome])
        if (outcome.status === 'rejected') throw firstFailure ? firstFailure.err : outcome.reason;
      await mapLimit(
        variants.map((_, i) => i),
        2,
        (i) => runFfmpeg(muxArgs(pictures[i]!, mix, partials[i]!), { ...run(), operation: 'finish_mux' }),
      );
      await Promise.all(variants.map((v, i) => rename(partials[i]!, v.request.outFile)));
      // The stems are written in the scratch folder; copied out (maybe across file systems) last.
      await Promise.all(stems.map(([k, file]) => copyFile(stemPaths[k]!, file)));
    } catch (err) {
      await Promise.all(partials.map((p) => rm(p, { force: true })));
      throw err;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    return await mapLimit(variants, 2, async (v) => {
      const [info, loudness] = await Promise.all([
        probe(v.request.outFile, run()),
        measureLoudness(v.request.outFile, run()),
      ]);
      return {
        aspect: v.request.aspect,
        outFile: v.request.outFile,
        width: info.video?.width ?? v.width,
        height: info.video?.height ?? v.height,
        durationSeconds: info.durationSeconds,
        ...loudness,
      };
    });
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
  }
}
