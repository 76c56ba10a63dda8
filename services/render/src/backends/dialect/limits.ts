/** The prompt conventions a vendor model follows (camera words, reference phrasing). */
export type Dialect = 'runway' | 'veo' | 'seedance' | 'kling' | 'hailuo' | 'wan' | 'local';

/**
 * How a prompt names the images sent with it:
 * - `first-frame`: the one image is the clip's first frame (Runway video models, Kling
 *   `start_image`, Hailuo `first_frame_image`, Seedance / Wan `image`): "the product shown in the
 *   first frame"; a second image has nowhere to go.
 * - `asset`: reference images beside the prompt (Veo 3.1 `referenceImages`): "the product from
 *   the reference image".
 * - `at-tag`: tagged references named in the text (Runway's gen4 image models): "@product".
 * - `indexed`: references named by position (Seedance 2.0 `reference_images`): "[Image1]".
 * - `none`: the model takes no image (the local animatic).
 */
export type ReferenceSyntax = 'first-frame' | 'asset' | 'at-tag' | 'indexed' | 'none';

/**
 * What one vendor model accepts in its prompt. Small on purpose: the vendor catalogue feeds it
 * per model; until then adapters build it from their own model tables.
 */
export interface PromptLimits {
  /** In UTF-16 code units (JavaScript string length). */
  maxPromptChars: number;
  /** The model has a separate negative-prompt field. */
  negativePrompt: boolean;
  dialect: Dialect;
  /** Cap on the negative prompt, when the model has one. */
  maxNegativePromptChars?: number;
  /** Defaults by dialect: `asset` for Veo, `none` for local, `first-frame` for the others. */
  referenceSyntax?: ReferenceSyntax;
}

/** An image sent with the shot, as the adapter attaches it. */
export interface AttachedReference {
  /** The continuity entry it shows (e.g. "product"), or another id unique among the shot's references. */
  id: string;
  role: 'product' | 'brand' | 'style';
  /** The tag it is sent with under `at-tag` syntax; see `referenceTag`. */
  tag?: string;
}

export const DEFAULT_REFERENCE_SYNTAX: Record<Dialect, ReferenceSyntax> = {
  runway: 'first-frame',
  veo: 'asset',
  seedance: 'first-frame',
  kling: 'first-frame',
  hailuo: 'first-frame',
  wan: 'first-frame',
  local: 'none',
};
