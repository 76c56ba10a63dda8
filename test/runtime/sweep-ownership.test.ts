import { isTerminal, JOB_STATUSES, SWEEPERS, type ActiveJobStatus } from '@aiprod/contracts';
import type { SweepPolicy } from '@aiprod/service-runtime';
import { deliverySweep, type DeliveryDeps } from '../../services/delivery/src/app';
import { plannerSweep, type PlannerDeps } from '../../services/planner/src/app';
import { qaSweep, type QaDeps } from '../../services/qa/src/app';

// Building the policies only closes over deps (they are used when a nudge runs), so stubs do.
const sweepMaps: Record<string, Partial<Record<string, SweepPolicy>>> = {
  planner: plannerSweep({} as PlannerDeps),
  qa: qaSweep({} as QaDeps),
  delivery: deliverySweep({} as DeliveryDeps),
};

describe('sweep ownership', () => {
  it('sweeps every non-terminal job state in exactly one service, the one SWEEPERS names', () => {
    const sweptBy = new Map<string, string[]>();
    for (const [service, policies] of Object.entries(sweepMaps)) {
      for (const status of Object.keys(policies)) sweptBy.set(status, [...(sweptBy.get(status) ?? []), service]);
    }
    const active = JOB_STATUSES.filter((s): s is ActiveJobStatus => !isTerminal(s));
    expect([...sweptBy.keys()].sort()).toEqual([...active].sort());
    for (const status of active) {
      expect({ status, services: sweptBy.get(status) }).toEqual({
        status,
        services: [SWEEPERS[status].service],
      });
    }
  });

  it('nudges every state, a waiting approval too (it acts on a recorded decision whose message was lost)', () => {
    expect(typeof sweepMaps.planner!.QUEUED!.nudge).toBe('function');
    expect(typeof sweepMaps.qa!.RENDERING!.nudge).toBe('function');
    expect(typeof sweepMaps.delivery!.ASSEMBLING!.nudge).toBe('function');
    expect(typeof sweepMaps.planner!.AWAITING_APPROVAL!.nudge).toBe('function');
  });
});
