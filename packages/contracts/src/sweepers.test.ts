import { SERVICES } from './catalogue';
import { isTerminal, JOB_STATE_DEADLINE_SECONDS, JOB_STATUSES } from './states';
import { SWEEPERS } from './sweepers';

describe('SWEEPERS', () => {
  const active = JOB_STATUSES.filter((s) => !isTerminal(s));

  it('names one sweeping service, with a reason, for every non-terminal state and no other', () => {
    expect(Object.keys(SWEEPERS).sort()).toEqual([...active].sort());
    for (const decl of Object.values(SWEEPERS)) {
      expect(SERVICES).toContain(decl.service);
      expect(decl.reason.length).toBeGreaterThan(20);
    }
  });

  it('gives every swept state a deadline, so its sweeper has something to act on', () => {
    for (const status of active) expect(JOB_STATE_DEADLINE_SECONDS[status]).toBeGreaterThan(0);
  });
});
