import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileUrl } from '../filters';
import { probe } from '../probe';
import { runFfmpeg } from '../process';
import { measureChain, measuredGain, TRUE_PEAK_MARGIN_DB } from './loudness';
import { bedLoudnessAtUnitGain, generatedBed, moodVoice, SAMPLE_RATE, suppliedBed } from './music-bed';
import type { FinishTimeline } from './timeline';
import type { FinishInput } from './types';
import { duckExpression, type VoicePlacement } from './voice';

// ---------------------------------------------------------------------------------------------
// The sound: voice, music bed and the clips' own audio, mixed once per finishCut (audio only)
// into a WAV that every variant's run takes as its audio
// ---------------------------------------------------------------------------------------------

/**
 * Where the bed (and the clips' own audio) sit under the voice before ducking, in LU. With the
 * default 15 dB duck the bed is ~21 LU under the voice while it speaks, and 6 LU under it, up
 * and audible, between lines.
 */
export const BED_UNDER_VOICE_LU = 6;

const FORMAT = `aformat=sample_fmts=fltp:sample_rates=${SAMPLE_RATE}:channel_layouts=stereo`;
/** Float WAV, so nothing between the mix and the AAC encode clips or dithers; no encoder tag. */
const WAV_ARGS = ['-c:a', 'pcm_f32le', '-ar', String(SAMPLE_RATE), '-ac', '2', '-fflags', '+bitexact', '-f', 'wav'];

/** The output arguments that write graph label `label` to `file` as WAV_ARGS. */
const wavOutput = (label: string, file: string) => ['-map', `[${label}]`, ...WAV_ARGS, '-y', fileUrl(file)];

type Opts = () => { timeoutMs: number; signal?: AbortSignal };

/** A filtergraph whose last statement is left unterminated (measureChain appends to it). */
const graphOf = (statements: string[], last: string) => [...statements, last].join(';');

/** `labels` summed as they are (no renormalisation), or passed through if only one. */
const sum = (labels: string[]) =>
  labels.length === 1
    ? `[${labels[0]}]anull`
    : `${labels.map((l) => `[${l}]`).join('')}amix=inputs=${labels.length}:normalize=0:duration=longest`;

/**
 * Writes the cut's sound to `outFile` (48 kHz stereo float WAV, exactly the cut's length) and
 * the stems asked for (the placed voice alone, the ducked bed alone; at the mix's gain). The bed is the supplied file or the generated pad; the voice lines are
 * placed at `placement.starts`; the clips' own audio (clipAudio) is laid at each shot's start,
 * trimmed to its frames. While speech plays the bed and the clip audio go down by duckDb on a
 * fixed envelope. The whole is brought to loudnessLufs under truePeakDbtp by measuredGain.
 */
export async function writeMix(
  input: FinishInput,
  timeline: FinishTimeline,
  placement: VoicePlacement | undefined,
  outFile: string,
  stems: { voiceFile?: string; musicFile?: string },
  dir: string,
  opts: Opts,
): Promise<void> {
  const samples = Math.round((timeline.totalFrames * SAMPLE_RATE) / timeline.fps);
  const target = input.loudnessLufs;
  const ceiling = input.truePeakDbtp ?? -1;
  const args: string[] = [];
  let inputs = 0;
  const addInput = (...a: string[]) => {
    args.push(...a);
    return inputs++;
  };

  const lines = placement ? (input.voice?.lines ?? []) : [];
  const voiceInputs = lines.map((line) => addInput('-i', fileUrl(line.file)));
  const musicFile = input.music?.file;
  const musicInput = musicFile ? addInput('-stream_loop', '-1', '-i', fileUrl(musicFile)) : -1;
  const withAudio = input.clipAudio
    ? (await Promise.all(input.clips.map(async (clip, i) => ((await probe(clip.file, opts())).audio ? i : -1)))).filter(
        (i) => i >= 0,
      )
    : [];
  const clipInputs = withAudio.map((i) => ({ shot: i, input: addInput('-vn', '-i', fileUrl(input.clips[i]!.file)) }));

  // The voice, placed: each line delayed to its start (in samples, so to the sample).
  const voice: string[] = voiceInputs.map(
    (index, k) =>
      `[${index}:a:0]aresample=${SAMPLE_RATE},${FORMAT},asetpts=PTS-STARTPTS,` +
      `adelay=delays=${Math.round(placement!.starts[k]! * SAMPLE_RATE)}S:all=1[vl${k}]`,
  );
  const voiceChain = voice.length
    ? `${sum(voice.map((_, k) => `vl${k}`))},apad=whole_len=${samples},atrim=end_sample=${samples}`
    : undefined;

  // The clips' own audio: each trimmed to its shot's frames and laid at its start, with short
  // fades where the shots cross (over the transition, or 10 ms on a cut, against clicks).
  const fade = Math.max(0.01, timeline.transitionFrames / timeline.fps);
  const clips: string[] = clipInputs.map(({ shot: i, input: index }) => {
    const shot = timeline.shots[i]!;
    const n = Math.round(((shot.end - shot.start) * SAMPLE_RATE) / timeline.fps);
    const d = Math.min(fade, n / SAMPLE_RATE / 2);
    return (
      `[${index}:a:0]aresample=${SAMPLE_RATE},${FORMAT},asetpts=PTS-STARTPTS,` +
      `apad=whole_len=${n},atrim=end_sample=${n},afade=t=in:d=${d},afade=t=out:st=${n / SAMPLE_RATE - d}:d=${d},` +
      `adelay=delays=${Math.round((shot.start * SAMPLE_RATE) / timeline.fps)}S:all=1[cl${i}]`
    );
  });
  const clipChain = clips.length
    ? `${sum(withAudio.map((i) => `cl${i}`))},apad=whole_len=${samples},atrim=end_sample=${samples}`
    : undefined;

  // The level everything else is set against: the voice, else the clips' own sound.
  const measure = async (statements: string[], chain: string) =>
    (await measureChain(args, graphOf(statements, chain), opts())).integratedLufs;
  const voiceLufs = voiceChain ? await measure(voice, voiceChain) : undefined;
  const clipLufs = clipChain ? await measure(clips, clipChain) : undefined;
  const reference = voiceLufs !== undefined && voiceLufs > -70 ? voiceLufs : clipLufs;

  const mood = moodVoice(input.music?.mood);
  if (reference === undefined || !(reference > -70)) {
    // No voice and no clip sound: the bed alone is the mix, its level computed (or measured);
    // one run writes it and the stems.
    const bed = await bedAlone(input, mood, musicInput, samples, target, ceiling, dir, opts);
    const graph = [stems.musicFile ? `${bed},asplit=2[mix][bedstem]` : `${bed},anull[mix]`];
    const outputs: string[] = [];
    const write = (label: string, file: string) => outputs.push(...wavOutput(label, file));
    write('mix', outFile);
    if (stems.musicFile) write('bedstem', stems.musicFile);
    if (stems.voiceFile) {
      graph.push(`anullsrc=r=${SAMPLE_RATE}:cl=stereo,atrim=end_sample=${samples}[voicestem]`);
      write('voicestem', stems.voiceFile);
    }
    await runGraph(args, graph, outputs, 'finish_mix');
    return;
  }
  let bed: string;
  const statements: string[] = [...voice, ...clips];
  const parts: string[] = [];
  const bedLevel = reference - BED_UNDER_VOICE_LU;
  if (musicFile) {
    const unit = (await measureChain(args, suppliedBed(musicInput, samples), opts())).integratedLufs;
    bed = `${suppliedBed(musicInput, samples)},volume=${(bedLevel - unit).toFixed(3)}dB`;
  } else {
    bed = generatedBed(mood, 10 ** ((bedLevel - bedLoudnessAtUnitGain(mood, samples / SAMPLE_RATE)) / 20), samples);
  }
  // Short frames, so the envelope (evaluated once a frame) moves in 5 ms steps.
  const duck =
    placement && placement.speech.length
      ? `,asetnsamples=n=240:p=0,volume=volume='${duckExpression(placement.speech, input.voice?.duckDb ?? 15)}':eval=frame`
      : '';
  bed += duck;
  if (voiceChain) parts.push(`${voiceChain}[voice]`);
  if (clipChain) {
    const gain = voiceLufs !== undefined && voiceLufs > -70 ? bedLevel - clipLufs! : 0;
    parts.push(`${clipChain},volume=${gain.toFixed(3)}dB${duck}[clips]`);
  }
  parts.push(`${bed}[bed]`);
  await premixedAndLevelled(args, [...statements, ...parts], { voice: !!voiceChain, clips: !!clipChain });

  /**
   * Voice, bed and clip sound summed once into a float WAV before any gain (and the voice and
   * bed alone, for the stems asked for): every loudness trial, and the final gain, then read
   * that file instead of synthesising the bed and placing the lines again (each synthesis of a
   * 15 s bed is about half a second, and the trials may take five).
   */
  async function premixedAndLevelled(
    inputArgs: string[],
    labelled: string[],
    has: { voice: boolean; clips: boolean },
  ): Promise<void> {
    const premix = join(dir, 'premix.wav');
    const voicePre = join(dir, 'premix-voice.wav');
    const bedPre = join(dir, 'premix-bed.wav');
    const pre: string[] = [];
    const preOutputs: string[] = [];
    const writePre = (label: string, file: string) => preOutputs.push(...wavOutput(label, file));
    for (const statement of labelled) {
      const at = statement.lastIndexOf('[');
      const label = statement.slice(at + 1, -1);
      const want = (label === 'voice' && !!stems.voiceFile) || (label === 'bed' && !!stems.musicFile);
      const chain = statement.slice(0, at);
      if (!['voice', 'bed', 'clips'].includes(label)) pre.push(statement);
      else pre.push(want ? `${chain},asplit=2[${label}m][${label}s]` : `${chain},anull[${label}m]`);
    }
    pre.push(`${sum([...(has.voice ? ['voicem'] : []), 'bedm', ...(has.clips ? ['clipsm'] : [])])}[pre]`);
    writePre('pre', premix);
    if (stems.voiceFile && has.voice) writePre('voices', voicePre);
    if (stems.musicFile) writePre('beds', bedPre);
    await runGraph(inputArgs, pre, preOutputs, 'finish_premix');

    const levelled = await measuredGain(['-i', fileUrl(premix)], '[0:a:0]anull', target, ceiling, dir, opts);
    const gainOnly = /^volume=-?[\d.]+dB/.exec(levelled)?.[0] ?? 'anull';
    const finalArgs = ['-i', fileUrl(premix)];
    const graph = [`[0:a:0]${levelled}[mix]`];
    const outputs: string[] = [];
    const write = (label: string, file: string) => outputs.push(...wavOutput(label, file));
    write('mix', outFile);
    if (stems.voiceFile) {
      if (has.voice) {
        finalArgs.push('-i', fileUrl(voicePre));
        graph.push(`[${finalArgs.length / 2 - 1}:a:0]${gainOnly}[voicestem]`);
      } else graph.push(`anullsrc=r=${SAMPLE_RATE}:cl=stereo,atrim=end_sample=${samples}[voicestem]`);
      write('voicestem', stems.voiceFile);
    }
    if (stems.musicFile) {
      finalArgs.push('-i', fileUrl(bedPre));
      graph.push(`[${finalArgs.length / 2 - 1}:a:0]${gainOnly}[bedstem]`);
      write('bedstem', stems.musicFile);
    }
    // One run writes the mix and the stems, so they line up to the sample.
    await runGraph(finalArgs, graph, outputs, 'finish_mix');
  }

  async function runGraph(inputArgs: string[], graph: string[], outputs: string[], operation: string) {
    const script = join(dir, `${operation}-graph.txt`);
    await writeFile(script, graph.join(';\n'), 'utf8');
    await runFfmpeg(['-v', 'error', ...inputArgs, '-filter_complex_script', fileUrl(script), ...outputs], {
      ...opts(),
      operation,
    });
  }
}

/** The bed alone at the target: computed gain for the generated pad when its peaks allow, else measured. */
async function bedAlone(
  input: FinishInput,
  mood: ReturnType<typeof moodVoice>,
  musicInput: number,
  samples: number,
  target: number,
  ceiling: number,
  dir: string,
  opts: Opts,
): Promise<string> {
  if (input.music?.file) {
    const args = ['-stream_loop', '-1', '-i', fileUrl(input.music.file)];
    const stage = await measuredGain(args, suppliedBed(0, samples), target, ceiling, dir, opts);
    return `${suppliedBed(musicInput, samples)},${stage}`;
  }
  const unit = bedLoudnessAtUnitGain(mood, samples / SAMPLE_RATE);
  const gain = 10 ** ((target - unit) / 20);
  // A sum of sines never peaks above the sum of their amplitudes.
  const peak = 20 * Math.log10(gain * mood.tones.reduce((a, [, level]) => a + level, 0));
  if (Number.isFinite(gain) && peak <= ceiling - TRUE_PEAK_MARGIN_DB) return generatedBed(mood, gain, samples);
  // Too loud a target for a sine pad under the ceiling: measure and limit instead.
  const raw = generatedBed(mood, 1, samples);
  return `${raw},${await measuredGain([], raw, target, ceiling, dir, opts)}`;
}
