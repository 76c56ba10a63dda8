import { PRESETS, tierRank, type BackendName } from '@aiprod/contracts';
import { aBrief } from '@aiprod/testing';
import { tierOf } from '@aiprod/vendor-catalogue';
import { planLocally } from './director/local';
import { planBackends, type CapacitySnapshot } from './estimate';

describe('planning with the live capacity board', () => {
  // social_quick plans on the cheapest basic backend (Replicate); Runway is of a better tier.
  const brief = aBrief({ durationSeconds: 15, scenes: ['Lighter every mile', 'Grip in the rain'] });
  const preset = PRESETS.social_quick;
  const plan = planLocally(brief, { preset, backend: 'replicate' });
  const base = { preset, targetSeconds: 15 };
  const room = (hasRoom: boolean, b: BackendName) => ({ hasRoom, summary: `${b}: ${hasRoom ? 1 : 4} in flight of 4` });
  const without = planBackends(plan, base);
  const busy = without.backends[0]!;

  it('moves shots off a backend with no room to one of the same or a better tier that has room, saying why', () => {
    const snapshot: CapacitySnapshot = {
      runway: room(busy !== 'runway', 'runway'),
      veo: room(busy !== 'veo', 'veo'),
      replicate: room(busy !== 'replicate', 'replicate'),
      local: room(true, 'local'),
    };
    const planned = planBackends(plan, { ...base, capacity: snapshot });
    expect(busy).toBe('replicate');
    expect(planned.backends).not.toContain(busy);
    for (const b of planned.backends) {
      expect(snapshot[b]!.hasRoom).toBe(true);
      expect(tierRank(tierOf(b))).toBeGreaterThanOrEqual(tierRank(tierOf(busy)));
    }
    const to = planned.backends[0]!;
    expect(planned.estimate.notes).toContain(
      `${plan.shots[0]!.shotId}: ${busy} had no room (${busy}: 4 in flight of 4); on ${to} instead, which had (${to}: 1 in flight of 4)`,
    );
    // The same snapshot gives the same plan.
    expect(planBackends(plan, { ...base, capacity: snapshot })).toEqual(planned);
  });

  it('plans exactly as without capacity data when the board knows nothing, everyone has room, or no better backend has room', () => {
    expect(planBackends(plan, { ...base, capacity: {} })).toEqual(without);
    const all: CapacitySnapshot = {
      runway: room(true, 'runway'),
      veo: room(true, 'veo'),
      replicate: room(true, 'replicate'),
    };
    expect(planBackends(plan, { ...base, capacity: all })).toEqual(without);
    // Only the local animatic (a lower tier) has room: the shots wait their turn where they are.
    const onlyLower: CapacitySnapshot = {
      runway: room(false, 'runway'),
      veo: room(false, 'veo'),
      replicate: room(false, 'replicate'),
      local: room(true, 'local'),
    };
    expect(tierRank(tierOf('local'))).toBeLessThan(tierRank(tierOf(busy)));
    expect(planBackends(plan, { ...base, capacity: onlyLower })).toEqual(without);
  });

  it('never moves a shot past the budget cap for room', () => {
    const cap = without.estimate.worstCaseUsd;
    const others = (['runway', 'veo', 'replicate'] as const).filter((b) => b !== busy);
    const snapshot: CapacitySnapshot = { [busy]: room(false, busy) };
    for (const b of others) snapshot[b] = room(true, b);
    const moved = planBackends(plan, { ...base, capacity: snapshot });
    const capped = planBackends(plan, { ...base, budgetCapUsd: cap, capacity: snapshot });
    // The cheapest backend has no room, so the move costs more: without a cap it is made, at this cap it is not.
    expect(moved.backends).not.toEqual(without.backends);
    expect(moved.estimate.worstCaseUsd).toBeGreaterThan(cap);
    expect(capped.backends).toEqual(without.backends);
    expect(capped.estimate.withinBudget).toBe(true);
  });
});
