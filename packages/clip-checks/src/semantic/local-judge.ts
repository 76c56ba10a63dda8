import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RetryableError, type QaCheck, type ShotSpec } from '@aiprod/contracts';
import { createWorker, OEM, PSM, type Worker } from 'tesseract.js';
import {
  SAMPLE_FRACTIONS,
  frameFailure,
  imageOutput,
  rawRgbOutput,
  runExtraction,
  sampleClip,
  seekedInputs,
} from './frames';
import { clip, round2, skippedCheck, type JudgeInput, type JudgeResult, type SemanticJudge } from './judge';
import { bestMatch } from './text-match';

export interface LocalJudgeOptions {
  /**
   * Similarity (0..1) the recognised text must reach. 0.9, not 0.8: "Run brihgter" scores
   * 0.83 against "Run brighter" (a swapped pair is two edits in twelve letters), while clean
   * renders read back exactly (1.0), so 0.8 would pass that misspelling.
   */
  minTextSimilarity?: number;
  /** Largest RGB distance (0..441) between a palette colour and the plate's edge. */
  maxPaletteDistance?: number;
  /** Bound on each ffmpeg call. */
  timeoutMs?: number;
  /** The OCR engine is stopped after this long without work, and started again when needed. */
  idleMs?: number;
}

export const LOCAL_JUDGE_DEFAULTS = {
  minTextSimilarity: 0.9,
  maxPaletteDistance: 60,
  timeoutMs: 30_000,
  idleMs: 60_000,
} as const;

/**
 * The tesseract worker, started on demand and stopped after a quiet spell: it holds about 60 MB,
 * which an idle qa service should not (each service idles under 120 MB). Starting again costs
 * about 0.2–0.5 s, once per burst of work.
 */
class OcrEngine {
  private worker: Promise<Worker> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private busy = 0;

  constructor(
    private readonly start: () => Promise<Worker>,
    private readonly idleMs: number,
  ) {}

  get running(): boolean {
    return this.worker !== undefined;
  }

  adopt(worker: Worker): void {
    this.worker = Promise.resolve(worker);
    this.armIdleTimer();
  }

  async use<T>(fn: (worker: Worker) => Promise<T>): Promise<T> {
    clearTimeout(this.idleTimer);
    this.busy += 1;
    try {
      this.worker ??= this.start().catch((e: unknown) => {
        this.worker = undefined;
        throw e;
      });
      return await fn(await this.worker);
    } finally {
      this.busy -= 1;
      if (this.busy === 0) this.armIdleTimer();
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await (await worker).terminate();
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.busy === 0) void this.stop().catch(() => undefined);
    }, this.idleMs);
    this.idleTimer.unref();
  }
}

/**
 * The English LSTM model shipped in @tesseract.js-data/eng (the `_best_int` variant is what
 * tesseract.js itself fetches for LSTM-only workers). Read from disk: the judge never
 * downloads anything. Resolved when a judge is made, so a service that uses another judge
 * does not need the package.
 */
const langPath = () => join(dirname(require.resolve('@tesseract.js-data/eng')), '4.0.0_best_int');

/** The band is scaled to this height (a 720p frame's band), so stroke widths are about the
 *  same whatever the clip's size and one structuring element fits all. */
const BAND_HEIGHT = 288;
/**
 * The text band the animatic centres its line in (the middle 40% of the frame height), in
 * grey. Every branch after a split converts in its own `scale`: split makes its outputs share
 * one pixel format, so a `format=gray` reached through crop alone would turn the evidence
 * frames and palette strips grey too.
 */
const BAND = `crop=iw:ih*0.4:0:ih*0.3,scale=-2:${BAND_HEIGHT}:flags=bicubic,format=gray`;
/**
 * The structuring element of the top-hats: a 25 px square, wider than any glyph stroke at
 * BAND_HEIGHT (DejaVu Sans Bold at 64 px has ~10 px stems) and narrower than the plate
 * around the text box.
 */
const STRUCTURE = 'color=c=white:s=25x25:d=1,format=gray';

/**
 * OCR inputs for frame `i`, as filtergraph chains. Measured on animatics of ten palettes ×
 * four frame sizes: plain, grey, inverted or 2x-scaled crops read 6–17 of 20 renders
 * exactly, failing on light plates, where the white text sits in a grey box on a white plate
 * and global thresholding puts text and plate on the same side. A white top-hat (frame minus
 * its opening) keeps only thin bright strokes, whatever the plate: 20 of 20 (and 50 of 50
 * over ten palettes × five sizes from 320x180 to 1080x1920). The black top-hat is its
 * mirror, for dark lettering in vendor clips. Both are inverted (tesseract reads dark on
 * light best). `morpho` computes them in one pass each, ~4x less CPU than
 * chained 3x3 erosions and dilations, with identical output.
 */
function ocrChains(i: number): { white: string; black: string } {
  const hat = (input: string, mode: 'tophat' | 'blackhat', out: string) =>
    `[${input}${i}]${BAND}[${input}g${i}];${STRUCTURE}[${input}s${i}];` +
    `[${input}g${i}][${input}s${i}]morpho=mode=${mode}:structure=first,negate[${out}${i}]`;
  return { white: hat('t', 'tophat', 'w'), black: hat('u', 'blackhat', 'b') };
}

/** Strips 4% of the height tall, 2% in from the top and bottom edges: clear of the text box
 *  in the middle, and of the edge rows a zoom crops away. */
const TOP_STRIP = 'crop=iw:ih/25:0:ih/50,scale,format=rgb24';
const BOTTOM_STRIP = 'crop=iw:ih/25:0:ih-ih/50-ih/25,scale,format=rgb24';

function hexRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const toHex = (rgb: readonly number[]) =>
  `#${rgb.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`.toUpperCase();

function meanRgb(raw: Buffer): [number, number, number] {
  const sum = [0, 0, 0];
  const pixels = Math.floor(raw.length / 3);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) sum[c]! += raw[p * 3 + c]!;
  }
  return [sum[0]! / pixels, sum[1]! / pixels, sum[2]! / pixels];
}

const rgbDistance = (a: readonly number[], b: readonly number[]) =>
  Math.sqrt(a.reduce((s, v, i) => s + (v - (b[i] ?? 0)) ** 2, 0));

interface Plan {
  text: string | undefined;
  palette: boolean;
}

class LocalJudge implements SemanticJudge {
  readonly name = 'local-ocr';
  readonly paid = false;
  private closed = false;

  constructor(
    private readonly ocr: OcrEngine,
    private readonly opts: Required<LocalJudgeOptions>,
  ) {}

  /** Whether the OCR engine is loaded right now (it is stopped after `idleMs` without work). */
  get ocrRunning(): boolean {
    return this.ocr.running;
  }

  async judge(input: JudgeInput): Promise<JudgeResult> {
    if (this.closed) throw new Error('the local judge is closed');
    const { spec, backend } = input;
    const plan: Plan = { text: spec.onScreenText?.trim() || undefined, palette: backend === 'local' };
    const skippedText = skippedCheck('on_screen_text', 'no on-screen text planned for this shot');
    const skippedPalette = skippedCheck(
      'palette',
      `a ${backend} clip is not a palette plate: palette conformance is checked on local animatics only`,
    );
    if (!plan.text && !plan.palette)
      return { judge: this.name, checks: [skippedText, skippedPalette], evidenceFrames: [] };

    let frames: Frames;
    try {
      frames = await this.extract(input, plan);
    } catch (err) {
      const reason = frameFailure(this.name, err);
      const failed = (name: 'on_screen_text' | 'palette'): QaCheck => ({ name, verdict: 'fail', detail: reason });
      return {
        judge: this.name,
        checks: [plan.text ? failed('on_screen_text') : skippedText, plan.palette ? failed('palette') : skippedPalette],
        evidenceFrames: [],
      };
    }

    const used = new Set<string>();
    const checks: QaCheck[] = [];
    if (plan.text) {
      const text = await this.readText(
        plan.text,
        frames,
        input.minTextSimilarity ?? this.opts.minTextSimilarity,
        input.signal,
      );
      text.frames.forEach((f) => used.add(f));
      checks.push(text.check);
    } else {
      checks.push(skippedText);
    }
    if (plan.palette && frames.strips) {
      used.add(frames.evidence[1]!);
      checks.push(await this.palette(spec, frames.strips));
    } else {
      checks.push(skippedPalette);
    }
    return { judge: this.name, checks, evidenceFrames: frames.evidence.filter((f) => used.has(f)) };
  }

  /** One ffmpeg call: the three evidence frames, their OCR inputs and the palette strips. */
  private async extract(input: JudgeInput, plan: Plan): Promise<Frames> {
    const runOpts = { timeoutMs: this.opts.timeoutMs, ...(input.signal ? { signal: input.signal } : {}) };
    const { times } = await sampleClip(input.clipPath, SAMPLE_FRACTIONS, runOpts);
    const graph: string[] = [];
    const outputs: string[][] = [];
    const frames: Frames = { evidence: [], ocr: [] };
    times.forEach((_, i) => {
      const evidence = join(input.workDir, `frame-${i + 1}.png`);
      frames.evidence.push(evidence);
      const strips = plan.palette && i === 1;
      const branches = ['f', ...(plan.text ? ['t', 'u'] : []), ...(strips ? ['p', 'q'] : [])];
      graph.push(`[${i}:v]split=${branches.length}${branches.map((b) => `[${b}${i}]`).join('')}`);
      graph.push(`[f${i}]scale,format=rgb24[e${i}]`);
      outputs.push(imageOutput(`e${i}`, evidence, 'png'));
      if (plan.text) {
        const chains = ocrChains(i);
        graph.push(chains.white, chains.black);
        const white = join(input.workDir, `ocr-${i + 1}-white.png`);
        const black = join(input.workDir, `ocr-${i + 1}-black.png`);
        outputs.push(imageOutput(`w${i}`, white, 'png'), imageOutput(`b${i}`, black, 'png'));
        frames.ocr.push([white, black]);
      }
      if (strips) {
        const top = join(input.workDir, 'strip-top.rgb');
        const bottom = join(input.workDir, 'strip-bottom.rgb');
        graph.push(`[p${i}]${TOP_STRIP}[top]`, `[q${i}]${BOTTOM_STRIP}[bottom]`);
        outputs.push(rawRgbOutput('top', top), rawRgbOutput('bottom', bottom));
        frames.strips = { top, bottom };
      }
    });
    const files = [...frames.evidence, ...frames.ocr.flat(), ...(frames.strips ? Object.values(frames.strips) : [])];
    await runExtraction(
      this.name,
      [...seekedInputs(input.clipPath, times), '-filter_complex', graph.join(';'), ...outputs.flat()],
      files,
      runOpts,
    );
    return frames;
  }

  /** The best reading over frames and both top-hats; stops at a perfect one. */
  private async readText(
    expected: string,
    frames: Frames,
    min: number,
    signal: AbortSignal | undefined,
  ): Promise<{ check: QaCheck; frames: string[] }> {
    let best = { score: -1, text: '' };
    const used: string[] = [];
    for (const [i, images] of frames.ocr.entries()) {
      used.push(frames.evidence[i]!);
      for (const image of images) {
        // A recognition cannot be interrupted, but the next one need not start.
        if (signal?.aborted)
          throw new RetryableError(`${this.name}: aborted by the caller`, undefined, { cause: signal.reason });
        const { data } = await this.ocr.use((worker) => worker.recognize(image));
        const match = bestMatch(expected, data.text);
        if (match.score > best.score) best = { score: match.score, text: data.text };
        if (best.score >= 1) break;
      }
      if (best.score >= 1) break;
    }
    const score = Math.max(0, best.score);
    const recognised = clip(best.text, 200);
    return {
      check: {
        name: 'on_screen_text',
        verdict: score >= min ? 'pass' : 'fail',
        measured: round2(score),
        expected: `similarity ≥ ${min} to ${JSON.stringify(expected)}`,
        detail: recognised ? `recognised: ${recognised}` : 'no text recognised',
      },
      // Evidence: every frame that was read; a failure was looked for in all three.
      frames: used,
    };
  }

  private async palette(spec: ShotSpec, strips: { top: string; bottom: string }): Promise<QaCheck> {
    const [topHex, bottomHex] = spec.palette;
    const [top, bottom] = await Promise.all([readFile(strips.top), readFile(strips.bottom)]);
    const measuredTop = meanRgb(top);
    const measuredBottom = meanRgb(bottom);
    const dTop = rgbDistance(measuredTop, hexRgb(topHex ?? '#000000'));
    const dBottom = rgbDistance(measuredBottom, hexRgb(bottomHex ?? '#000000'));
    const worst = Math.max(dTop, dBottom);
    const max = this.opts.maxPaletteDistance;
    return {
      name: 'palette',
      verdict: worst <= max ? 'pass' : 'fail',
      measured: Math.round(worst * 10) / 10,
      expected: `top ≈ ${topHex}, bottom ≈ ${bottomHex} (RGB distance ≤ ${max})`,
      detail: `top ${toHex(measuredTop)} (distance ${dTop.toFixed(1)}), bottom ${toHex(measuredBottom)} (distance ${dBottom.toFixed(1)})`,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ocr.stop();
  }
}

interface Frames {
  /** Full frames at SAMPLE_FRACTIONS, as PNG: the evidence. */
  evidence: string[];
  /** Per frame: the white and black top-hat images for OCR. */
  ocr: [string, string][];
  /** Raw RGB strips near the top and bottom of the middle frame. */
  strips?: { top: string; bottom: string };
}

/**
 * The local judge: no network. Reads the planned on-screen text back with OCR and, on local
 * animatics, checks the plate's colours against the palette. Starts one tesseract worker
 * (about 0.2 s) that every call shares; calls queue on it. Close it when done.
 */
export async function createLocalJudge(options: LocalJudgeOptions = {}): Promise<SemanticJudge> {
  const opts: Required<LocalJudgeOptions> = {
    minTextSimilarity: options.minTextSimilarity ?? LOCAL_JUDGE_DEFAULTS.minTextSimilarity,
    maxPaletteDistance: options.maxPaletteDistance ?? LOCAL_JUDGE_DEFAULTS.maxPaletteDistance,
    timeoutMs: options.timeoutMs ?? LOCAL_JUDGE_DEFAULTS.timeoutMs,
    idleMs: options.idleMs ?? LOCAL_JUDGE_DEFAULTS.idleMs,
  };
  if (!(opts.minTextSimilarity >= 0 && opts.minTextSimilarity <= 1)) {
    throw new Error(`minTextSimilarity must be within 0..1, got ${opts.minTextSimilarity}`);
  }
  if (!(opts.maxPaletteDistance >= 0))
    throw new Error(`maxPaletteDistance must be ≥ 0, got ${opts.maxPaletteDistance}`);
  if (!(opts.timeoutMs > 0)) throw new Error(`timeoutMs must be positive, got ${opts.timeoutMs}`);
  const start = async (): Promise<Worker> => {
    const worker = await createWorker('eng', OEM.LSTM_ONLY, {
      langPath: langPath(),
      gzip: true,
      // 'none': neither read nor write a cache of the language data (no files appear in the cwd).
      cacheMethod: 'none',
      // Without a handler, tesseract.js rethrows a failed job from its message listener, which
      // crashes the process; the job's own promise already rejects with the error.
      errorHandler: () => undefined,
    });
    try {
      await worker.setParameters({
        // One block of text: the crop holds one line, or a few for longer copy.
        tessedit_pageseg_mode: PSM.SINGLE_BLOCK,
        // Sauvola (local) binarisation. On top-hat images it and plain Otsu both read 50 of 50
        // animatics exactly (10 palettes x 5 frame sizes); Leptonica's adaptive Otsu read 24.
        // Local thresholding is kept for vendor frames, whose backgrounds vary across the band.
        thresholding_method: '2',
      });
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    return worker;
  };
  const ocr = new OcrEngine(start, opts.idleMs);
  // Started once now so that a broken install fails at boot, not on the first clip.
  ocr.adopt(await start());
  return new LocalJudge(ocr, opts);
}
