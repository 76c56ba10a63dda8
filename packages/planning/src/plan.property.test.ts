import fc from 'fast-check';
import { BriefSchema, PRESETS, ShotSpecSchema, validate, type Brief, type Preset } from '@aiprod/contracts';
import { checkPlan, cutSeconds, isAllowedDuration, TEXT_LIMITS } from '@aiprod/vendor-catalogue';
import { planLocally } from './director/local';
import { estimateBrief, planBackends, primaryBackend } from './estimate';

const RUNS = 250;
const presets = Object.values(PRESETS);

// Text of every kind a client may send: plain, long, unicode (accents, CJK, emoji, RTL), odd spacing.
const text = (max: number) =>
  fc
    .oneof(
      fc.string({ minLength: 1, maxLength: max }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: Math.min(max, 120) }),
      fc.constantFrom(
        'Ünïcødé ✓',
        '走る喜び',
        '🏃‍♀️ Run brighter 🌅',
        'مرحبا بالعالم',
        'a'.repeat(max),
        '  spaced   out  ',
      ),
    )
    .map((s) => s.slice(0, max))
    .filter((s) => s.length >= 1 && s.length <= max);
const colour = fc.integer({ min: 0, max: 0xffffff }).map((n) => `#${n.toString(16).padStart(6, '0').toUpperCase()}`);

const briefFor = (preset: Preset) =>
  fc
    .record(
      {
        product: text(200),
        brand: fc.record(
          { name: text(100), colors: fc.array(colour, { minLength: 1, maxLength: 6 }) },
          { requiredKeys: ['name'] },
        ),
        keyMessage: text(500),
        audience: text(300),
        tone: text(100),
        // The edges (5 s, the preset's maximum) weighted in, and fractional lengths between.
        durationSeconds: fc.oneof(
          fc.constantFrom(5, preset.maxDurationSeconds, 15, 30),
          fc.double({ min: 5, max: preset.maxDurationSeconds, noNaN: true }).map((d) => Math.round(d * 10) / 10),
        ),
        aspectRatios: fc.uniqueArray(
          fc.constantFrom('16:9' as const, '9:16' as const, '1:1' as const, '4:5' as const),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        callToAction: text(80),
        scenes: fc.array(text(300), { minLength: 1, maxLength: 8 }),
        voiceOver: fc.boolean(),
        referenceImages: fc.array(fc.constant('https://example.com/ref.png'), { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: ['product', 'brand', 'keyMessage', 'durationSeconds', 'aspectRatios'] },
    )
    .map((b): Brief => ({ ...b, preset: preset.name }));

const anyBrief = fc.constantFrom(...presets).chain((preset) => briefFor(preset).map((brief) => ({ preset, brief })));

describe('shot plans over generated briefs', () => {
  it('are valid for every preset and backend: schema, 3–8 shots, cut length, allowed lengths, text, continuity', () => {
    fc.assert(
      fc.property(anyBrief, ({ preset, brief }) => {
        expect(validate(BriefSchema, brief).ok).toBe(true);
        const { backend } = primaryBackend(brief, preset);
        const plan = planLocally(brief, { preset, backend });
        expect(checkPlan(plan, brief)).toEqual([]);
        const planned = planBackends(plan, { preset, targetSeconds: brief.durationSeconds });
        const refitted = planned.plan;
        expect(checkPlan(refitted, brief, planned.backends)).toEqual([]);
        expect(refitted.shots.length).toBeGreaterThanOrEqual(Math.max(3, preset.shotCount.min));
        expect(refitted.shots.length).toBeLessThanOrEqual(Math.min(8, preset.shotCount.max));
        const cut = cutSeconds(
          refitted.shots.map((s) => s.durationSeconds),
          refitted.endCardSeconds,
          refitted.transition.durationSeconds,
        );
        expect(Math.abs(cut - brief.durationSeconds)).toBeLessThanOrEqual(0.5 + 1e-9);
        refitted.shots.forEach((shot, i) => {
          expect(validate(ShotSpecSchema, shot).ok).toBe(true);
          expect(isAllowedDuration(planned.backends[i]!, shot.durationSeconds, refitted.fps)).toBe(true);
          expect(preset.allowedBackends).toContain(planned.backends[i]);
          expect((shot.onScreenText ?? '').length).toBeLessThanOrEqual(TEXT_LIMITS.onScreenText);
          expect(shot.prompt.length).toBeLessThanOrEqual(TEXT_LIMITS.prompt);
          if (!brief.voiceOver) expect(shot.voiceOver).toBeUndefined();
          // Continuity references resolve to the plan's table, and every shot keeps the style.
          for (const ref of shot.continuity ?? []) expect(refitted.continuity).toContainEqual(ref);
          expect(shot.continuity?.map((c) => c.id)).toContain('style');
        });
        expect(refitted.shots[0]!.purpose).toBe('hook');
        expect(refitted.shots.at(-1)!.purpose).toBe('call_to_action');
      }),
      { numRuns: RUNS, seed: 20261122 },
    );
  });

  it('fit every backend the preset allows whenever that backend can make the length at all', () => {
    fc.assert(
      fc.property(anyBrief, ({ preset, brief }) => {
        for (const backend of preset.allowedBackends) {
          let plan;
          try {
            plan = planLocally(brief, { preset, backend });
          } catch (err) {
            // Only a length the backend cannot make is an acceptable refusal (e.g. 5 s on Veo).
            expect((err as Error).message).toMatch(/cannot|no plan of/);
            continue;
          }
          expect(checkPlan(plan, brief)).toEqual([]);
        }
      }),
      { numRuns: RUNS, seed: 7 },
    );
  });

  it('come from a deterministic local director: the same brief gives a deep-equal plan and estimate', () => {
    fc.assert(
      fc.property(anyBrief, ({ preset, brief }) => {
        const { backend } = primaryBackend(brief, preset);
        const a = planLocally(brief, { preset, backend });
        const b = planLocally(structuredClone(brief), { preset, backend });
        expect(b).toEqual(a);
        expect(estimateBrief(structuredClone(brief))).toEqual(estimateBrief(brief));
      }),
      { numRuns: RUNS, seed: 42 },
    );
  });
});
