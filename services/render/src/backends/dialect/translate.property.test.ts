import fc from 'fast-check';
import type { CameraMove, ContinuityRef } from '@aiprod/contracts';
import {
  CAMERA_WORDS,
  translatePrompt,
  type AttachedReference,
  type Dialect,
  type PromptLimits,
  type PromptSource,
} from './index';

const RUNS = 500;

const WORDS = new Intl.Segmenter('en', { granularity: 'word' });
/** No half of a surrogate pair: encodeURIComponent refuses exactly those. */
const isWellFormed = (text: string) => {
  try {
    encodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
};
const wordsOf = (text: string) => [...WORDS.segment(text)].filter((s) => s.isWordLike).map((s) => s.segment);

// Text of every kind a planner or client may produce: random, unicode (accents, CJK, emoji, RTL),
// prose with sentences, one endless word, odd spacing.
const vocabulary = ['sunlit', 'bottle', 'café', '走る', '喜び', 'مرحبا', '🏃‍♀️', 'rain,', 'dawn.', 'the', 'a', 'Über'];
const text = (max: number) =>
  fc
    .oneof(
      fc.string({ maxLength: max }),
      fc.string({ unit: 'grapheme', maxLength: Math.min(max, 200) }),
      fc.array(fc.constantFrom(...vocabulary), { maxLength: 20 }).map((ws) => ws.join(' ')),
      // Long prose, so that limits bite mid-sentence (random strings are mostly short).
      fc.array(fc.constantFrom(...vocabulary), { minLength: 150, maxLength: 400 }).map((ws) => ws.join(' ')),
      fc.constantFrom('x'.repeat(max), '  spaced   out \n lines  ', 'Two sentences. And a third!'),
    )
    .map((s) => s.slice(0, max));

const colour = fc.integer({ min: 0, max: 0xffffff }).map((n) => `#${n.toString(16).padStart(6, '0')}`);
const camera = fc.constantFrom<CameraMove>('static', 'zoom_in', 'zoom_out', 'pan_left', 'pan_right');
const dialect = fc.constantFrom<Dialect>('runway', 'veo', 'seedance', 'kling', 'hailuo', 'wan', 'local');

const continuity: fc.Arbitrary<ContinuityRef[]> = fc.uniqueArray(
  fc.record({
    id: fc.stringMatching(/^[a-z][a-z0-9_-]{0,31}$/),
    kind: fc.constantFrom<ContinuityRef['kind']>('product', 'character', 'style', 'setting'),
    description: text(300).filter((s) => s.trim().length > 0),
  }),
  { maxLength: 6, selector: (c) => c.id },
);

const source: fc.Arbitrary<PromptSource> = fc.record(
  {
    prompt: text(1000).filter((s) => s.trim().length > 0),
    negativePrompt: text(500),
    camera,
    onScreenText: text(80),
    palette: fc.tuple(colour, colour),
    retakeNote: text(300),
    continuity,
  },
  { requiredKeys: ['prompt', 'camera', 'palette'] },
);

const references: fc.Arbitrary<AttachedReference[]> = fc.array(
  fc.record(
    {
      id: fc.stringMatching(/^[a-z][a-z0-9_-]{0,31}$/),
      role: fc.constantFrom<AttachedReference['role']>('product', 'brand', 'style'),
      tag: fc.string({ maxLength: 20 }),
    },
    { requiredKeys: ['id', 'role'] },
  ),
  { maxLength: 3 },
);

const limits: fc.Arbitrary<PromptLimits> = fc.record(
  {
    dialect,
    maxPromptChars: fc.integer({ min: 1, max: 2500 }),
    negativePrompt: fc.boolean(),
    maxNegativePromptChars: fc.integer({ min: 1, max: 600 }),
    referenceSyntax: fc.constantFrom('first-frame', 'asset', 'at-tag', 'indexed', 'none' as const),
  },
  { requiredKeys: ['dialect', 'maxPromptChars', 'negativePrompt'] },
);

describe('translatePrompt, for any spec and any limits', () => {
  it('never exceeds the limits, and never ends a part mid-word or mid-character', () => {
    fc.assert(
      fc.property(source, limits, references, (spec, lim, refs) => {
        const out = translatePrompt(spec, lim, refs);
        const whole = translatePrompt(spec, { ...lim, maxPromptChars: Number.MAX_SAFE_INTEGER }, refs);

        expect(out.prompt.length).toBeLessThanOrEqual(lim.maxPromptChars);
        expect(isWellFormed(out.prompt)).toBe(true);
        expect(out.prompt).toBe(out.prompt.trim());
        expect(out.prompt).not.toMatch(/\s{2}/);
        if (out.negativePrompt !== undefined) {
          expect(lim.negativePrompt).toBe(true);
          expect(out.negativePrompt.length).toBeLessThanOrEqual(lim.maxNegativePromptChars ?? Infinity);
          expect(isWellFormed(out.negativePrompt)).toBe(true);
        }

        // A cut inside a word leaves a fragment that is no word of the uncut prompt.
        const known = new Set(wordsOf(whole.prompt));
        for (const word of wordsOf(out.prompt)) expect(known).toContain(word);

        // "Not shortened" means exactly what an unlimited model would get; "shortened" says what went.
        if (!out.shortened) expect(out.prompt).toBe(whole.prompt);
        else expect(out.dropped.some((d) => d.reason === 'length')).toBe(true);
        expect(whole.dropped.filter((d) => d.reason !== 'length')).toEqual(
          out.dropped.filter((d) => d.reason !== 'length'),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps the camera move and the references within any limit of a real model (1,000 units or more)', () => {
    fc.assert(
      fc.property(source, limits, references, (spec, lim, refs) => {
        // At 1,000 units the reference and camera sentences (under 400) take less than half the
        // room, so the subject gives way to them.
        const out = translatePrompt(spec, { ...lim, maxPromptChars: Math.max(1000, lim.maxPromptChars) }, refs);
        expect(out.prompt).toContain(CAMERA_WORDS[lim.dialect][spec.camera]);
        expect(out.dropped.filter((d) => d.reason === 'length').map((d) => d.part)).not.toContain('reference');
      }),
      { numRuns: RUNS },
    );
  });
});
