import { PRESETS } from '@aiprod/contracts';
import { aBrief } from '@aiprod/testing';
import { planLocally } from './director/local';
import { planBackends } from './estimate';

// social_quick: replicate (basic, here wan t2v: no image) is cheapest; runway gen4.5 (standard) takes one.
describe('planning by what each shot needs', () => {
  const brief = aBrief({ durationSeconds: 15, scenes: ['Lighter every mile', 'Grip in the rain'] });
  const preset = PRESETS.social_quick;
  const models = { replicate: 'wan-video/wan-2.2-t2v-fast', runway: 'gen4.5' };
  const plan = planLocally(brief, { preset, backend: 'runway', model: 'gen4.5' });
  const base = { preset, targetSeconds: 15, models, enabledBackends: ['local', 'replicate', 'runway'] as const };
  const needing = plan.shots.map(() => true);

  it('never moves a shot without an image to a model that requires one, even when that is the one with room', () => {
    const turbo = { ...base, models: { ...models, runway: 'gen4_turbo' } };
    const shaped = planLocally(brief, { preset, backend: 'replicate', model: models.replicate });
    const planned = planBackends(shaped, {
      ...turbo,
      needsImage: shaped.shots.map(() => false),
      capacity: {
        replicate: { hasRoom: false, summary: 'replicate: 8 in flight of 8' },
        runway: { hasRoom: true, summary: 'runway: 0 in flight of 4' },
      },
    });
    expect(planned.backends).not.toContain('runway');
    expect(planned.estimate.notes.join('\n')).not.toMatch(/on runway instead/);
  });

  it('under a budget cap runway cannot meet, moves shots off it and records on each moved shot why its image is not sent', () => {
    const free = planBackends(plan, { ...base, needsImage: needing });
    const cap = free.estimate.worstCaseUsd / 4;
    const capped = planBackends(plan, { ...base, needsImage: needing, budgetCapUsd: cap });
    const moved = capped.backends.flatMap((b, i) => (b === 'runway' ? [] : [i]));
    expect(moved.length).toBeGreaterThan(0);
    for (const i of moved) {
      expect(capped.estimate.shots[i]!.referenceNote).toMatch(
        /the product reference image is not sent: (replicate|local) \(.+\) takes no image and the backends whose models take one \(runway gen4\.5\) do not fit this plan's lengths or budget/,
      );
    }
    for (const [i, s] of capped.estimate.shots.entries())
      if (!moved.includes(i)) expect(s.referenceNote).toBeUndefined();
  });
});
