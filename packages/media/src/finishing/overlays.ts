import { ffColor, filterValue, oneLine } from '../filters';
import { ASCENT_EM, drawBlock, layoutText, LINE_EM } from '../text-layout';
import type { FinishTimeline } from './timeline';
import type { AspectRatio, FinishCue, FinishInput, FinishVariantRequest } from './types';
import { captionWindows, type VoicePlacement } from './voice';

// ---------------------------------------------------------------------------------------------
// What is drawn on the picture: end card, captions, mark, storyboard captions
// ---------------------------------------------------------------------------------------------

export interface VariantPlan {
  request: FinishVariantRequest;
  width: number;
  height: number;
}

export interface GraphContext {
  input: FinishInput;
  timeline: FinishTimeline;
  fontFile: string;
  /** Writes a drawtext text file and returns its path. */
  text: (body: string) => Promise<string>;
  logoInput?: number;
  /** Where the voice lines sit, when there are any: the captions follow their cues. */
  placement?: VoicePlacement;
}

/** Relative luminance (0..1) of #RRGGBB. */
function luminance(hex: string): number {
  const n = parseInt(ffColor(hex).slice(2), 16);
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin((n >> 16) & 255) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
}

/** The end card for one variant: drawn once as a single frame, then repeated. */
export async function endCardChain(ctx: GraphContext, v: VariantPlan, vi: number, graph: string[]): Promise<string> {
  const { width: w, height: h } = v;
  const { fps } = ctx.timeline;
  const card = ctx.input.endCard;
  const [top, bottom] = card.colors;
  const frames = ctx.timeline.endCard.end - ctx.timeline.endCard.start;
  const short = Math.min(w, h);
  const safeWidth = Math.round(0.9 * w);
  const gap = Math.round(0.04 * h);
  // Dark text on a light card, white with a soft shadow on anything else.
  const light = (luminance(top) + luminance(bottom)) / 2 > 0.45;
  const offset = Math.max(1, Math.round(short / 360));
  const style = light
    ? ['fontcolor=0x111111']
    : ['fontcolor=white', 'shadowcolor=black@0.45', `shadowx=${offset}`, `shadowy=${offset}`];

  const brand = oneLine(card.brandName);
  const cta = oneLine(card.callToAction);
  const brandBlock = brand ? layoutText(brand, short * 0.13, 2, () => safeWidth, 0.6) : undefined;
  const ctaBlock = cta ? layoutText(cta, short * 0.06, 2, () => safeWidth, 0.8) : undefined;
  const logoHeight = ctx.logoInput === undefined ? 0 : Math.round(0.2 * h);
  const items = [logoHeight, brandBlock?.height ?? 0, ctaBlock?.height ?? 0].filter((x) => x > 0);
  const total = items.reduce((a, b) => a + b, 0) + gap * (items.length - 1);
  // Centred vertically, never above the title-safe top (10%).
  let y = Math.max(Math.round(0.1 * h), Math.round((h - total) / 2));

  const background =
    `gradients=s=${w}x${h}:r=${fps}:c0=${ffColor(top)}:c1=${ffColor(bottom)}:n=2:x0=0:y0=0:x1=0:y1=${h - 1}` +
    // The source rotates at `speed`; it cannot be 0, but its first frame (the only one used)
    // is never rotated.
    ':speed=0.00001,trim=end_frame=1';
  let head = `${background},`;
  if (ctx.logoInput !== undefined) {
    graph.push(
      `[logo${vi}]scale=w=${safeWidth}:h=${logoHeight}:force_original_aspect_ratio=decrease:flags=bicubic,` +
        `format=rgba[logo${vi}s]`,
    );
    graph.push(`${background}[cardbg${vi}]`);
    head = `[cardbg${vi}][logo${vi}s]overlay=x=(main_w-overlay_w)/2:y=${y}+(${logoHeight}-overlay_h)/2:format=rgb,`;
    y += logoHeight + gap;
  }
  const chain: string[] = [];
  if (brandBlock) {
    chain.push(...(await drawBlock(ctx, brandBlock, y, style)));
    y += brandBlock.height + gap;
  }
  if (ctaBlock) chain.push(...(await drawBlock(ctx, ctaBlock, y, style)));
  // Everything above ran on one frame; only now is it turned into video and repeated.
  chain.push(
    'scale=out_color_matrix=bt709:out_range=tv',
    'format=yuv420p',
    `loop=loop=${frames - 1}:size=1:start=0`,
    `settb=1/${fps}`,
    'setpts=N',
  );
  const label = `card${vi}`;
  graph.push(`${head}${chain.join(',')}[${label}]`);
  return label;
}

/**
 * How far above the bottom the voice captions' box ends, by aspect: platforms draw their own
 * controls and text over the bottom of vertical video.
 */
const CAPTION_BOTTOM: Record<AspectRatio, number> = { '16:9': 0.1, '1:1': 0.1, '4:5': 0.12, '9:16': 0.2 };

/** enable= for frames [first, end) (half a frame either side, so unambiguous on frame timestamps). */
function enableFrames(first: number, end: number, fps: number): string {
  return `enable='between(t,${((first - 0.5) / fps).toFixed(4)},${((end - 0.5) / fps).toFixed(4)})'`;
}

/** One caption: white text on a translucent dark box, bottom-centred, within 90% of the width. */
async function captionBox(
  ctx: GraphContext,
  v: VariantPlan,
  text: string,
  size: number,
  maxLines: number,
  bottom: number,
  enable: string,
): Promise<string[]> {
  const { width: w, height: h } = v;
  const border = (s: number) => Math.round(s * 0.35);
  const block = layoutText(text, size, maxLines, (s) => 0.9 * w - 2 * border(s));
  const b = border(block.size);
  const boxWidth = Math.min(block.width + 2 * b, Math.round(0.9 * w));
  const boxHeight = block.height + 2 * b;
  const boxTop = Math.round((1 - bottom) * h) - boxHeight;
  return [
    `drawbox=x=${Math.round((w - boxWidth) / 2)}:y=${boxTop}:w=${boxWidth}:h=${boxHeight}:color=black@0.6:t=fill:${enable}`,
    ...(await drawBlock(ctx, block, boxTop + b, ['fontcolor=white', enable])),
  ];
}

/**
 * Caption filters for one variant: white text on a translucent dark box, bottom-centred within
 * 90% of the width. (drawbox and drawtext skip disabled frames outright; overlay, for one, would
 * copy every frame to make it writable, enabled or not.)
 *
 * With voice lines, the captions follow the voice: each phrase (or, in 'word' style, each word
 * alone and larger) from its cue's start to its end, held to the next cue across short gaps,
 * the box ending above the aspect's bottom margin (CAPTION_BOTTOM). Without, each shot's
 * `caption` shows while its shot is on screen, the box ending 10% above the bottom.
 */
export async function captionFilters(ctx: GraphContext, v: VariantPlan): Promise<string[]> {
  const { width: w, height: h } = v;
  const { fps } = ctx.timeline;
  const short = Math.min(w, h);
  const maxLines = w > h ? 2 : 3;
  const filters: string[] = [];
  if (ctx.placement) {
    const style = ctx.input.captionStyle ?? 'phrase';
    if (style === 'none') return [];
    const { words, cues: phrases } = ctx.placement;
    // A phrase the engine gave no word timings for is shown whole, even in 'word' style.
    const untimed = phrases.filter(
      (p) => !words.some((w) => w.startSeconds < p.endSeconds && w.endSeconds > p.startSeconds),
    );
    const cues: FinishCue[] = captionWindows(
      style === 'word' ? [...words, ...untimed].sort((a, b) => a.startSeconds - b.startSeconds) : phrases,
    );
    const bottom = CAPTION_BOTTOM[v.request.aspect];
    for (const cue of cues) {
      const text = oneLine(cue.text);
      const first = Math.round(cue.startSeconds * fps);
      const end = Math.min(ctx.timeline.totalFrames, Math.round(cue.endSeconds * fps));
      if (!text || end <= first) continue;
      const enable = enableFrames(first, end, fps);
      filters.push(
        ...(style === 'word'
          ? await captionBox(ctx, v, text, short / 12, 1, bottom, enable)
          : await captionBox(ctx, v, text, short / 20, maxLines, bottom, enable)),
      );
    }
    return filters;
  }
  for (const [i, clip] of ctx.input.clips.entries()) {
    const caption = oneLine(clip.caption);
    if (!caption) continue;
    const shot = ctx.timeline.shots[i]!;
    filters.push(
      ...(await captionBox(
        ctx,
        v,
        caption,
        short / 20,
        maxLines,
        0.1,
        enableFrames(shot.captionStart, shot.captionEnd, fps),
      )),
    );
  }
  return filters;
}

/**
 * Each shot's onScreenText, big and centred in the upper-middle of the frame (its block centred
 * on 30% of the height, never above the 10% title-safe line, within 80% of the width), white
 * with a soft shadow, while the shot is on screen.
 */
export async function onScreenTextFilters(ctx: GraphContext, v: VariantPlan): Promise<string[]> {
  const { width: w, height: h } = v;
  const { fps } = ctx.timeline;
  const short = Math.min(w, h);
  const offset = Math.max(1, Math.round(short / 360));
  const filters: string[] = [];
  for (const [i, clip] of ctx.input.clips.entries()) {
    const text = oneLine(clip.onScreenText);
    if (!text) continue;
    const block = layoutText(text, short / 11, 3, () => 0.8 * w, 0.7);
    const top = Math.max(Math.round(0.1 * h), Math.round(0.3 * h - block.height / 2));
    const shot = ctx.timeline.shots[i]!;
    const enable = enableFrames(shot.captionStart, shot.captionEnd, fps);
    filters.push(
      ...(await drawBlock(ctx, block, top, [
        'fontcolor=white',
        'shadowcolor=black@0.5',
        `shadowx=${offset}`,
        `shadowy=${offset}`,
        enable,
      ])),
    );
  }
  return filters;
}

/** Where the mark's box sits (and ends), in pixels, so the storyboard captions can go below it. */
function markBox(
  ctx: GraphContext,
  v: VariantPlan,
): { size: number; border: number; x: number; y: number; bottom: number } {
  const short = Math.min(v.width, v.height);
  const size = Math.max(10, Math.round(short / 16));
  const border = Math.round(size * 0.3);
  const x = Math.round(0.04 * v.width) + border;
  const y = Math.round(0.03 * v.height) + border;
  return { size, border, x, y, bottom: ctx.input.mark ? y + Math.ceil(LINE_EM * size) + border : 0 };
}

/** The mark: white on an opaque red box in the top-left corner, on every frame. */
export async function markFilters(ctx: GraphContext, v: VariantPlan): Promise<string[]> {
  const mark = oneLine(ctx.input.mark);
  if (!mark) return [];
  const box = markBox(ctx, v);
  return [
    [
      'drawtext=expansion=none',
      `fontfile=${filterValue(ctx.fontFile)}`,
      `textfile=${filterValue(await ctx.text(mark))}`,
      `fontsize=${box.size}`,
      'fontcolor=white',
      'box=1',
      'boxcolor=0xB71C1C@0.9',
      `boxborderw=${box.border}`,
      `x=${box.x}`,
      `y=${box.y}+${Math.round(ASCENT_EM * box.size)}-ascent`,
    ].join(':'),
  ];
}

/** A storyboard description is cut at a word to this many characters: a caption, not the prompt. */
const STORYBOARD_MAX_CHARS = 220;

function shortened(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}

/**
 * Storyboard captions for one variant (previews): the camera move on a first line in amber, the
 * shot's visual description wrapped below it in white, on a dark box across the upper part of
 * the frame (under the mark, clear of the centred on-screen text and the voice-over captions at
 * the bottom), each enabled while its shot is on screen, like the captions.
 */
export async function storyboardFilters(ctx: GraphContext, v: VariantPlan): Promise<string[]> {
  const { width: w, height: h } = v;
  const { fps } = ctx.timeline;
  const short = Math.min(w, h);
  const maxLines = w > h ? 3 : 5;
  const border = (size: number) => Math.round(size * 0.35);
  const filters: string[] = [];
  for (const [i, clip] of ctx.input.clips.entries()) {
    if (!clip.storyboard) continue;
    const heading = oneLine(`Camera: ${clip.storyboard.camera}`);
    const description = shortened(oneLine(clip.storyboard.description), STORYBOARD_MAX_CHARS);
    const width = (size: number) => 0.9 * w - 2 * border(size);
    const head = layoutText(heading, short / 24, 1, width, 0.5);
    const body = layoutText(description, short / 26, maxLines, width, 1, Math.max(10, Math.round(short / 40)));
    if (body.lines.length > maxLines) {
      body.lines = body.lines.slice(0, maxLines);
      body.lines[maxLines - 1] = `${body.lines[maxLines - 1]!.replace(/…$/, '')}…`;
      body.height = Math.ceil((maxLines - 1) * body.lineStep + LINE_EM * body.size);
    }
    const b = border(body.size);
    const gap = Math.round(body.size * 0.3);
    const boxWidth = Math.min(Math.max(head.width, body.width) + 2 * b, Math.round(0.9 * w));
    const boxHeight = head.height + gap + body.height + 2 * b;
    const boxTop = Math.max(markBox(ctx, v).bottom + Math.round(0.02 * h), Math.round(0.05 * h));
    const shot = ctx.timeline.shots[i]!;
    const from = ((shot.captionStart - 0.5) / fps).toFixed(4);
    const to = ((shot.captionEnd - 0.5) / fps).toFixed(4);
    const enable = `enable='between(t,${from},${to})'`;
    filters.push(
      `drawbox=x=${Math.round((w - boxWidth) / 2)}:y=${boxTop}:w=${boxWidth}:h=${boxHeight}:color=black@0.65:t=fill:${enable}`,
      ...(await drawBlock(ctx, head, boxTop + b, ['fontcolor=0xFFC107', enable])),
      ...(await drawBlock(ctx, body, boxTop + b + head.height + gap, ['fontcolor=white', enable])),
    );
  }
  return filters;
}
