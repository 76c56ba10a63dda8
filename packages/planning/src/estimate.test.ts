import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobEstimateSchema, PRESETS, validate, type Brief } from '@aiprod/contracts';
import { aBrief } from '@aiprod/testing';
import { checkPlan, PRICE_TABLE } from '@aiprod/vendor-catalogue';
import { planLocally } from './director/local';
import { estimateBrief, estimatePlan, planBackends } from './estimate';

const sample = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'briefs', `${name}.json`), 'utf8')) as Brief;

describe('estimates', () => {
  const brief = aBrief({ durationSeconds: 30, scenes: ['Lighter every mile', 'Grip in the rain'] });

  it('choose the cheapest backend of the preset tier and price retakes and the fallback chain', () => {
    const plan = planLocally(brief, { preset: PRESETS.premium_spot, backend: 'veo' });
    const e = estimatePlan(plan, { preset: PRESETS.premium_spot, targetSeconds: 30 });
    expect(validate(JobEstimateSchema, e).ok).toBe(true);
    expect(e.shots.every((s) => s.backend === 'veo' && s.audio)).toBe(true);
    const shot = e.shots[0]!;
    // premium_spot: 4 attempts, 25 % retakes → 1 + .25 + .0625 + .015625 attempts expected.
    expect(shot.expectedUsd).toBeCloseTo(shot.firstAttemptUsd * 1.328125, 3);
    expect(shot.fallbackChain.map((c) => c.backend)).toEqual(['veo', 'runway', 'local']);
    const chainPerRound = shot.fallbackChain.reduce((sum, c) => sum + c.attempts * c.attemptUsd, 0);
    expect(shot.worstCaseUsd).toBeCloseTo(4 * chainPerRound, 3);
    expect(e.totalUsd).toBeCloseTo(
      e.shots.reduce((sum, s) => sum + s.expectedUsd, 0),
      3,
    );
    expect(e.withinBudget).toBe(true);
  });

  it('move shots to cheaper backends no lower than the preset allows to meet a budget cap, saying why', () => {
    const plan = planLocally(brief, { preset: PRESETS.premium_spot, backend: 'veo' });
    const full = estimatePlan(plan, { preset: PRESETS.premium_spot, targetSeconds: 30 });
    const cap = Math.round(full.worstCaseUsd * 90) / 100; // 90 %: some shots must move, not all
    const planned = planBackends(plan, { preset: PRESETS.premium_spot, targetSeconds: 30, budgetCapUsd: cap });
    expect(planned.estimate.withinBudget).toBe(true);
    expect(planned.estimate.worstCaseUsd).toBeLessThanOrEqual(cap);
    const moved = planned.estimate.shots.filter((s) => s.degraded);
    expect(moved.length).toBeGreaterThan(0);
    for (const s of moved) {
      expect(s.backend).toBe('runway');
      expect(s.degraded).toEqual({ from: 'veo', reason: `budget cap ${cap} USD: moved to the cheaper runway` });
    }
    expect(checkPlan(planned.plan, { ...brief, durationSeconds: 30 }, planned.backends)).toEqual([]);
  });

  it('refuse when even the cheapest allowed plan is above the cap', () => {
    const e = estimateBrief({ ...brief, preset: 'premium_spot', budgetCapUsd: 0.5 });
    expect(e.withinBudget).toBe(false);
    expect(e.refusal).toMatch(
      /tier standard or better\) could cost up to \d+\.\d\d USD in the worst case .*above the budget cap of 0.5 USD/,
    );
  });

  it('compare a budget cap with the worst case, not the expected cost, and name both in a refusal', () => {
    // The cheapest plan premium_spot allows: every shot moved as far down as the floor lets it.
    const cheapest = estimateBrief({ ...brief, preset: 'premium_spot', budgetCapUsd: 0 });
    const expected = cheapest.totalUsd;
    const worst = cheapest.worstCaseUsd;
    expect(worst).toBeGreaterThan(expected);
    // A cap the expected cost fits under but the worst case does not: refused.
    const between = Math.round(((expected + worst) / 2) * 100) / 100;
    const refused = estimateBrief({ ...brief, preset: 'premium_spot', budgetCapUsd: between });
    expect(refused).toMatchObject({ budgetCapUsd: between, budgetComparedWith: 'worstCaseUsd', withinBudget: false });
    expect(refused.totalUsd).toBeLessThanOrEqual(between);
    expect(refused.refusal).toBe(
      `the cheapest plan the premium_spot preset allows (tier standard or better) could cost up to ${worst.toFixed(2)} USD ` +
        `in the worst case (every attempt and fallback billed; expected ${expected.toFixed(2)} USD), ` +
        `above the budget cap of ${between} USD`,
    );
    // A cap the worst case fits under: accepted as it is.
    const enough = estimateBrief({ ...brief, preset: 'premium_spot', budgetCapUsd: worst });
    expect(enough.withinBudget).toBe(true);
    expect(enough.refusal).toBeUndefined();
    expect(enough.worstCaseUsd).toBeLessThanOrEqual(worst);
    // Without a cap there is nothing to compare.
    expect(estimateBrief({ ...brief, preset: 'premium_spot' }).budgetComparedWith).toBeUndefined();
  });

  it('price the fallback chain only on backends deployed here that make the shot’s length', () => {
    const plan = planLocally(brief, { preset: PRESETS.premium_spot, backend: 'veo' });
    const all = planBackends(plan, { preset: PRESETS.premium_spot, targetSeconds: 30 }).estimate;
    const noRunway = planBackends(plan, {
      preset: PRESETS.premium_spot,
      targetSeconds: 30,
      enabledBackends: ['veo', 'local'],
    }).estimate;
    expect(all.shots.every((s) => s.fallbackChain.map((c) => c.backend).join() === 'veo,runway,local')).toBe(true);
    expect(noRunway.shots.every((s) => s.fallbackChain.map((c) => c.backend).join() === 'veo,local')).toBe(true);
    expect(noRunway.worstCaseUsd).toBeLessThan(all.worstCaseUsd);
    // brand_campaign on Runway falls back to Replicate, whose Wan model makes 5 or 8 s clips only:
    // a 15 s cut (three 5 s shots) can fall back there, a 30 s one (five 6 s shots) cannot.
    const chains = (seconds: number) =>
      planBackends(
        planLocally({ ...brief, durationSeconds: seconds }, { preset: PRESETS.brand_campaign, backend: 'runway' }),
        { preset: PRESETS.brand_campaign, targetSeconds: seconds, enabledBackends: ['runway', 'replicate', 'local'] },
      ).estimate.shots.map((s) => `${s.durationSeconds}: ${s.fallbackChain.map((c) => c.backend).join()}`);
    expect(new Set(chains(15))).toEqual(new Set(['5: runway,replicate,local']));
    expect(new Set(chains(30))).toEqual(new Set(['6: runway,local']));
  });

  it('only use deployed backends, and say so when the tier is not among them', () => {
    const plan = planLocally(brief, { preset: PRESETS.brand_campaign, backend: 'local' });
    const planned = planBackends(plan, {
      preset: PRESETS.brand_campaign,
      enabledBackends: ['local'],
      targetSeconds: 30,
    });
    expect(planned.backends.every((b) => b === 'local')).toBe(true);
    expect(planned.estimate.totalUsd).toBe(0);
    expect(planned.estimate.notes[0]).toMatch(/no standard backend is enabled here \(enabled: local\)/);
  });

  it('price the sample briefs on every backend, as POST /v1/estimates will', () => {
    for (const name of ['aurora-15s', 'lumen-30s-vertical']) {
      const e = estimateBrief(sample(name));
      expect(validate(JobEstimateSchema, JSON.parse(JSON.stringify(e))).ok).toBe(true);
      expect(e.byBackend.map((b) => b.backend)).toEqual(['runway', 'veo', 'replicate', 'local']);
      expect(e.byBackend.find((b) => b.backend === 'local')).toMatchObject({ feasible: true, expectedUsd: 0 });
      expect(e.priceTableVersion).toBe(PRICE_TABLE.version);
    }
    // 15 s social_quick: three 5 s Wan clips at 720p, 0.0915 USD each.
    expect(estimateBrief(sample('aurora-15s')).firstPassUsd).toBe(0.2745);
  });
});
