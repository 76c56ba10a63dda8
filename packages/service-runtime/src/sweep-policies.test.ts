import { SWEEPERS } from '@aiprod/contracts';
import type { SweepPolicies, SweepPolicy } from './sweeper';

const policy: SweepPolicy = { maxSweeps: 1 };

describe('SweepPolicies', () => {
  it('types a service to the states SWEEPERS gives it: others, or a missing one, fail to compile', () => {
    const qa: SweepPolicies<'qa'> = { RENDERING: policy };
    // @ts-expect-error QUEUED is swept by the planner, not qa
    const stolen: SweepPolicies<'qa'> = { RENDERING: policy, QUEUED: policy };
    // @ts-expect-error the planner must sweep AWAITING_APPROVAL too
    const partial: SweepPolicies<'planner'> = { QUEUED: policy, PLANNING: policy };
    // @ts-expect-error render sweeps no job state (its stale-attempt sweep is per shot)
    const render: SweepPolicies<'render'> = { RENDERING: policy };
    expect([qa, stolen, partial, render].map((p) => Object.keys(p))).toEqual([
      ['RENDERING'],
      ['RENDERING', 'QUEUED'],
      ['QUEUED', 'PLANNING'],
      ['RENDERING'],
    ]);
    // The type follows the table: what it gives qa is what the literal above had to name.
    expect(
      Object.entries(SWEEPERS)
        .filter(([, d]) => d.service === 'qa')
        .map(([s]) => s),
    ).toEqual(['RENDERING']);
  });
});
