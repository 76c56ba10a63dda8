import type { AttachedReference, ReferenceSyntax } from './limits';

type Role = AttachedReference['role'];

/** Runway's rule for a reference tag (SDK 4.20 `ReferenceImage.tag`). */
const RUNWAY_TAG = /^[A-Za-z][A-Za-z0-9_]{2,15}$/;

/**
 * The tag a reference is named with under `at-tag` syntax: its own tag when Runway accepts it
 * (3–16 letters, digits or underscores, starting with a letter), else one made from its id.
 * The adapter sends the image with this same tag, so prompt and request always agree.
 */
export function referenceTag(ref: AttachedReference): string {
  if (ref.tag && RUNWAY_TAG.test(ref.tag)) return ref.tag;
  const tag = ref.id.replace(/[^A-Za-z0-9_]/g, '_');
  return (/^[A-Za-z]/.test(tag) ? tag : `r${tag}`).padEnd(3, '_').slice(0, 16);
}

// A video model given a first frame continues from it: the guides (Runway's especially) ask the
// prompt to say what happens next and not to describe the image again.
const FIRST_FRAME: Record<Role, string> = {
  product: 'The product shown in the first frame keeps its exact shape, colors and label throughout.',
  brand: 'The brand colors and logo shown in the first frame stay the same throughout.',
  style: 'The look of the first frame carries through the whole shot.',
};

const named: Record<Role, (name: string) => string> = {
  product: (name) => `The product is ${name}, exactly as in its reference.`,
  brand: (name) => `Brand colors and logo as in ${name}.`,
  style: (name) => `In the visual style of ${name}.`,
};

// Veo 3.1 takes "asset" references (a subject to keep) and "style" references; its guide refers
// to them as the product / character "from the reference image".
function assetSentence(role: Role, count: number): string {
  const images = count > 1 ? 'reference images' : 'reference image';
  if (role === 'product') return `The product from the ${images} appears exactly as it looks there.`;
  if (role === 'brand') return `The brand colors and logo follow the brand ${images}.`;
  return `The visual style follows the style ${images}.`;
}

/**
 * One sentence (or a few) naming the attached images in the vendor's syntax, and the references
 * it could not mention (so the caller records them as not sent).
 */
export function referenceText(
  refs: readonly AttachedReference[],
  syntax: ReferenceSyntax,
): { text: string; unused: AttachedReference[] } {
  if (!refs.length) return { text: '', unused: [] };
  switch (syntax) {
    case 'none':
      return { text: '', unused: [...refs] };
    case 'first-frame': {
      const [first, ...rest] = refs as [AttachedReference, ...AttachedReference[]];
      return { text: FIRST_FRAME[first.role], unused: rest };
    }
    case 'asset': {
      const roles: Role[] = ['product', 'brand', 'style'];
      const text = roles
        .map((role) => [role, refs.filter((r) => r.role === role).length] as const)
        .filter(([, count]) => count > 0)
        .map(([role, count]) => assetSentence(role, count))
        .join(' ');
      return { text, unused: [] };
    }
    case 'at-tag':
      return { text: refs.map((r) => named[r.role](`@${referenceTag(r)}`)).join(' '), unused: [] };
    case 'indexed':
      return { text: refs.map((r, i) => named[r.role](`[Image${i + 1}]`)).join(' '), unused: [] };
  }
}
