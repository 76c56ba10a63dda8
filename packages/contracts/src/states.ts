export const JOB_STATUSES = [
  'QUEUED',
  'PLANNING',
  'AWAITING_APPROVAL',
  'RENDERING',
  'ASSEMBLING',
  'DELIVERED',
  'FAILED',
  'CANCELED',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
const TERMINAL = ['DELIVERED', 'FAILED', 'CANCELED'] as const satisfies readonly JobStatus[];
export type TerminalJobStatus = (typeof TERMINAL)[number];
/** The states a job can be stuck in: each has a deadline and exactly one service that sweeps it (SWEEPERS). */
export type ActiveJobStatus = Exclude<JobStatus, TerminalJobStatus>;
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = TERMINAL;

/** Every legal job transition. Anything else is a bug and throws. */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  QUEUED: ['PLANNING', 'FAILED', 'CANCELED'],
  PLANNING: ['AWAITING_APPROVAL', 'RENDERING', 'FAILED', 'CANCELED'],
  AWAITING_APPROVAL: ['RENDERING', 'FAILED', 'CANCELED'],
  RENDERING: ['ASSEMBLING', 'FAILED', 'CANCELED'],
  ASSEMBLING: ['DELIVERED', 'FAILED', 'CANCELED'],
  DELIVERED: [],
  // An operator's replay of a dead-lettered message may bring a failed job back to life.
  FAILED: ['QUEUED', 'PLANNING', 'RENDERING', 'ASSEMBLING'],
  CANCELED: [],
};

export const SHOT_STATUSES = ['PENDING', 'RENDERING', 'RENDERED', 'PASSED', 'REJECTED', 'FAILED'] as const;
export type ShotStatus = (typeof SHOT_STATUSES)[number];

export const SHOT_TRANSITIONS: Readonly<Record<ShotStatus, readonly ShotStatus[]>> = {
  PENDING: ['RENDERING', 'FAILED'],
  RENDERING: ['RENDERED', 'FAILED', 'PENDING'],
  RENDERED: ['PASSED', 'REJECTED', 'FAILED'],
  REJECTED: ['RENDERING', 'FAILED'],
  PASSED: [],
  FAILED: ['PENDING'],
};

/** How long a job may stay in a state before the sweeper moves it on or fails it. */
export const JOB_STATE_DEADLINE_SECONDS: Readonly<Partial<Record<JobStatus, number>>> = {
  QUEUED: 120,
  PLANNING: 300,
  AWAITING_APPROVAL: 7 * 24 * 3600,
  RENDERING: 3600,
  ASSEMBLING: 900,
};

export const isTerminal = (s: JobStatus) => TERMINAL_JOB_STATUSES.includes(s);
export const isLegalJobTransition = (from: JobStatus, to: JobStatus) => JOB_TRANSITIONS[from].includes(to);
export const isLegalShotTransition = (from: ShotStatus, to: ShotStatus) => SHOT_TRANSITIONS[from].includes(to);
