import type { Timestamp } from '@google-cloud/firestore';
import type { BackendName, Brief, FailureReason, JobStatus, QaCheck, ShotSpec, ShotStatus } from '@aiprod/contracts';

export interface JobError {
  reason: FailureReason;
  message: string;
  at: Timestamp;
}

export interface JobOutput {
  variant: string; // aspect ratio, e.g. "16:9"
  uri: string;
  /** The final cut's own technical QA (shared checks with the qa service). */
  qa?: QaCheck[];
  integratedLufs?: number;
  durationSeconds: number;
  width: number;
  height: number;
  sizeBytes: number;
  sha256: string;
}

export interface JobPlan {
  director: string;
  shotIds: string[];
  width: number;
  height: number;
  fps: number;
  endCardSeconds: number;
  /** Between shots and into the end card; absent on plans made before transitions (hard cuts). */
  transition?: { kind: 'cut' | 'fade' | 'slideleft' | 'wipeleft' | 'dissolve'; durationSeconds: number };
  estimatedCostUsd: number;
}

export interface Job {
  jobId: string;
  tenantId: string;
  status: JobStatus;
  brief: Brief;
  preset: string;
  /** Incremented by every status change; also keys that change's event, so replays never collide. */
  version: number;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  /** When the current status is overdue (the sweeper's cue). Null in terminal states. */
  deadlineAt: Timestamp | null;
  /** How many times the sweeper has found the current state overdue and nudged it. */
  sweeps?: number;
  plan?: JobPlan;
  outputs?: JobOutput[];
  /** A still for previews and a grid of the shots, stored beside the outputs. */
  stills?: { posterUri: string; contactSheetUri: string };
  costUsd: number;
  error?: JobError;
}

export interface ShotAttempt {
  attempt: number;
  backend: BackendName;
  status: 'RENDERING' | 'RENDERED' | 'PASSED' | 'REJECTED' | 'FAILED';
  vendorTaskId?: string;
  clipUri?: string;
  costUsd?: number;
  startedAt: Timestamp;
  finishedAt?: Timestamp;
  error?: string;
}

export type { QaCheck };

export interface QaReport {
  attempt: number;
  verdict: 'pass' | 'reject';
  checks: QaCheck[];
  /** Storage URIs of the frames that show what the checks saw, stored beside the clip. */
  evidence: string[];
  /** Which semantic judge looked, if any. */
  judge: string | null;
  timings: { technicalMs: number; semanticMs: number };
  at: Timestamp;
}

export interface Shot {
  jobId: string;
  shotId: string;
  index: number;
  spec: ShotSpec;
  backend: BackendName;
  status: ShotStatus;
  /** The attempt currently in flight or last finished (1-based). */
  attempt: number;
  attempts: Record<string, ShotAttempt>;
  qa?: QaReport;
  updatedAt: Timestamp;
}

export interface JobEvent {
  id: string;
  type: string;
  at: Timestamp;
  data: Record<string, unknown>;
}
