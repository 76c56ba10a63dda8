// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type AspectRatio = '16:9' | '9:16' | '1:1' | '4:5';

/** Output frame size of each delivery variant. */
export const VARIANT_SIZES: Record<AspectRatio, [number, number]> = {
  '16:9': [1280, 720],
  '9:16': [720, 1280],
  '1:1': [1080, 1080],
  '4:5': [864, 1080],
};

export type TransitionKind = 'cut' | 'fade' | 'slideleft' | 'wipeleft' | 'dissolve';

export interface FinishClip {
  file: string;
  /** The clip is held to exactly round(durationSeconds * fps) frames (cut, or last frame cloned). */
  durationSeconds: number;
  /** The shot's voice-over line, burned in as a caption while the shot is on screen. */
  caption?: string;
  /**
   * Previews only: what the paid shot will show (its visual description) and its camera move,
   * drawn as a storyboard caption in the upper part of the frame while the shot is on screen.
   */
  storyboard?: { camera: string; description: string };
  /**
   * Drawn by finishing, big and centred in the upper-middle of the frame (inside the title-safe
   * area), while the shot is on screen: for a language whose on-screen text differs from the
   * text baked into the clip.
   */
  onScreenText?: string;
}

export interface FinishWord {
  text: string;
  startSeconds: number;
  endSeconds: number;
}

export interface FinishPhrase {
  text: string;
  startSeconds: number;
  endSeconds: number;
  words: FinishWord[];
}

/** One synthesised voice-over line (a WAV file; times relative to its start). */
export interface FinishVoiceLine {
  shotIndex: number;
  file: string;
  durationSeconds: number;
  phrases: FinishPhrase[];
}

/** A caption cue, in seconds from the start of the cut. */
export interface FinishCue {
  startSeconds: number;
  endSeconds: number;
  text: string;
}

export interface FinishVoice {
  lines: FinishVoiceLine[];
  /** Seconds from a shot's caption start to its line's start; default 0.25. */
  leadSeconds?: number;
  /** How far the music bed and the clips' own audio are lowered while speech plays; default 15. */
  duckDb?: number;
}

export interface FinishEndCard {
  brandName: string;
  callToAction?: string;
  /** Top and bottom of the card's gradient, #RRGGBB (the same twice for a solid card). */
  colors: [string, string];
  durationSeconds: number;
  /** PNG (alpha honoured), drawn above the brand name at about 20% of the frame height. */
  logoFile?: string;
}

export interface FinishMusic {
  /** A supplied bed: looped if short, trimmed to the cut, faded out, loudness-normalised. */
  file?: string;
  /** Without a file, picks the generated bed's character (pitch, chord, pulse), e.g. "calm". */
  mood?: string;
}

export interface FinishVariantRequest {
  aspect: AspectRatio;
  outFile: string;
  /** Override VARIANT_SIZES[aspect] (even numbers; should have the same shape). */
  width?: number;
  height?: number;
}

export interface FinishInput {
  clips: FinishClip[];
  /** Between shots and into the end card. 'cut' (or a duration under one frame) joins hard. */
  transition: { kind: TransitionKind; durationSeconds: number };
  endCard: FinishEndCard;
  music?: FinishMusic;
  /** Integrated loudness of the result, LUFS (-14 social, -16, -23 broadcast); held to ±1 LU. */
  loudnessLufs: number;
  /** Maximum true peak, dBTP; default -1. */
  truePeakDbtp?: number;
  fps: number;
  /**
   * A label burned into the top-left corner of every frame, end card included (e.g. "PREVIEW"),
   * so that the file can never pass for a final cut.
   */
  mark?: string;
  /** One or more outputs from one plan; each gets its own picture layout, captions and card. */
  variants: FinishVariantRequest[];
  /**
   * What the clips were rendered at. A variant of another aspect is centre-cropped from them to
   * fill its frame (never letterboxed); one of the same aspect is only scaled if its size
   * differs. The crop is computed from each clip's real shape, so an off-shape clip is still
   * filled, never stretched.
   */
  sourceAspect: AspectRatio;
  timeoutMs: number;
  signal?: AbortSignal;
  fontFile?: string;
  /** Voice-over lines, placed on their shots and mixed over the (ducked) bed. */
  voice?: FinishVoice;
  /**
   * Burned-in captions when voice lines are given: 'phrase' (default) shows each phrase at its
   * timing, 'word' each word alone and larger, 'none' nothing. Without voice lines each clip's
   * `caption` is burned in for its whole shot, as before.
   */
  captionStyle?: 'phrase' | 'word' | 'none';
  /** Keep the clips' own audio (e.g. Veo's native sound) in the mix, ducked under the voice too. */
  clipAudio?: boolean;
  /** Also write the placed voice alone and the (ducked) music bed alone, as 48 kHz WAV, full length. */
  stems?: { voiceFile?: string; musicFile?: string };
}

export interface FinishedVariant {
  aspect: AspectRatio;
  outFile: string;
  width: number;
  height: number;
  durationSeconds: number;
  /** Measured on the written file with ebur128. */
  integratedLufs: number;
  truePeakDbtp: number;
}

/**
 * How the variants are split into ffmpeg runs. 'one': a single run decodes the clips once and
 * feeds every variant's encoder (split). 'each' (finishCut's choice): one run per variant, all
 * at once. ffmpeg 5.1 filters and feeds its encoders from one thread, so a single run leaves
 * part of the second core idle. Measured on 2 cores, three variants (16:9, 9:16, 1:1) of the
 * 15 s reference, 6 interleaved runs each: 'each' 6.2 s vs 'one' 6.8 s (medians), for ~11% more
 * CPU in total (12.0 vs 10.8 s: each run decodes the clips). (Those runs also made the bed each;
 * the sound is now mixed once beforehand, see mix.ts.) Under
 * heavy load (many jobs at once) 'one' would give more throughput. One variant is one run
 * either way. Exported for the benchmark only.
 */
export type FinishStrategy = 'one' | 'each';
