import type { Timestamp } from '@google-cloud/firestore';
import type {
  StoredPlanEstimate,
  BackendName,
  Brief,
  ErrorClass,
  FailureReason,
  ImageContentType,
  PlanLanguage,
  ReferenceRole,
  JobStatus,
  QaCheck,
  ShotSpec,
  ShotStatus,
  VendorRequestSummary,
} from '@aiprod/contracts';
import type { JobRetentionState } from './retention';

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
  /** The language of this set (a brief with several languages gets one set each); absent before sound. */
  language?: string;
  /** The voice-over's captions for this video, timed to its voice: WebVTT and SubRip files. */
  captions?: { vttUri: string; srtUri: string; cues: number };
}

/** The voice-over of one language, delivered alone beside its videos (a 48 kHz WAV of the whole cut's length). */
export interface JobVoiceTrack {
  language: string;
  uri: string;
  engine: string;
  voice: string;
  /** Whether the caption times came from the engine's word marks or from measuring the audio. */
  timing: 'engine' | 'measured';
  lines: number;
}

/** The client's own music (brief.music) as the planner stored it with the job: decoded, as WAV. */
export interface JobMusic {
  /** Storage key of the stored copy, under the job's prefix. */
  path: string;
  contentType: string;
  sizeBytes: number;
  /** Of the stored WAV. */
  sha256: string;
  /** Of the client's file as fetched or uploaded. */
  sourceSha256?: string;
  durationSeconds: number;
  source: { kind: 'url'; url: string } | { kind: 'asset'; assetId: string };
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
  /** The cost planner's estimate, stored with the plan (absent on plans made before it). */
  estimate?: JobPlanEstimate;
  /**
   * 1 for the first plan, +1 for every change (an edit, or a re-plan after a change request); the
   * plan's ETag. Absent on plans made before versions: read it with planVersionOf (1).
   */
  version?: number;
  /** The version its client approved, recorded by the gateway before the render may start. */
  approval?: { version: number; by: string; at: Timestamp };
  /**
   * A change request the director has not answered yet (cleared by the new version or its failure).
   * `deadlineAt`: the job's approval deadline before the request shortened it (given back after).
   */
  changesRequested?: { version: number; notes: string; by: string; at: Timestamp; deadlineAt?: Timestamp } | null;
  /** Every change request's notes so far, oldest first: a re-plan follows all of them. */
  notes?: string[];
  /**
   * A brief with several languages: each language's lines and on-screen text, the plan's own
   * first (its shots then render without on-screen text: finishing draws each language's).
   * Absent for one language, whose words are the shot specs' own.
   */
  languages?: PlanLanguage[];
}

/** A free preview of one plan version: an animatic with the final cut's timing, never billed. */
export interface JobPreview {
  planVersion: number;
  status: 'RENDERING' | 'READY' | 'FAILED';
  /** The stored MP4 (blob-store URI), once READY. */
  uri?: string;
  durationSeconds?: number;
  error?: string;
  at: Timestamp;
}

/** What the planner stores of its estimate with a plan (the full shape is @aiprod/contracts' JobEstimate). */
export type JobPlanEstimate = StoredPlanEstimate;

/** A brief reference image stored with the job by the planner (see recordJobReferences). */
export interface JobReference {
  /** `ref-<n>`, n the image's 1-based place in brief.referenceImages. */
  id: string;
  role: ReferenceRole;
  /** Storage key of the stored copy, under the job's prefix. */
  path: string;
  contentType: ImageContentType;
  sizeBytes: number;
  sha256: string;
  width: number;
  height: number;
  source: { kind: 'url'; url: string } | { kind: 'asset'; assetId: string };
  description?: string;
}

/** A plan's version: its ETag and what an approval names. */
export const planVersionOf = (job: Pick<Job, 'plan'>): number => job.plan?.version ?? 1;

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
  /** When the job entered its current status (stage latency is measured from it). */
  stateEnteredAt?: Timestamp;
  /** Seconds the job spent in AWAITING_APPROVAL: the client's time, left out of production time. */
  approvalWaitSeconds?: number;
  /** When the current status is overdue (the sweeper's cue). Null in terminal states. */
  deadlineAt: Timestamp | null;
  /** How many times the sweeper has found the current state overdue and nudged it. */
  sweeps?: number;
  plan?: JobPlan;
  outputs?: JobOutput[];
  /** A still for previews and a grid of the shots, stored beside the outputs. */
  stills?: { posterUri: string; contactSheetUri: string };
  /** provenance.json beside the outputs: per shot what was sent to which vendor, tries, costs, QA. */
  provenanceUri?: string;
  costUsd: number;
  /** The shots QA has passed (the last one to pass moves the job to ASSEMBLING). */
  passedShotIds?: string[];
  /** Spend committed to vendor tasks in flight and not yet settled in the cost ledger. */
  reservedUsd?: number;
  error?: JobError;
  /** The latest free preview (see PreviewStore): of the newest plan version that asked for one. */
  preview?: JobPreview;
  /** The brief's reference images as stored with the job (absent until planned, and on older jobs). */
  references?: JobReference[];
  /** brief.music as stored with the job by the planner, before anything was planned or spent. */
  music?: JobMusic;
  /** The voice-over of each language, once delivered. */
  voiceTracks?: JobVoiceTrack[];
  /**
   * Set by the retention sweeper when the final outputs were deleted (the tenant's outputsDays
   * after the job ended): the API then answers 410 Gone for them.
   */
  outputsExpiredAt?: Timestamp;
  /** When the retention sweeper next has something to decide about this ended job (indexed). */
  retentionDueAt?: Timestamp;
  /** The retention sweeper's other marks (working copies deleted). */
  retention?: JobRetentionState;
  /**
   * When Firestore's TTL policy may delete the job document: its end plus the tenant's recordsDays
   * plus a grace the sweeper uses to delete it first with its subcollections and files (TTL
   * deletes the document alone). Set by the retention sweeper on terminal jobs.
   */
  expiresAt?: Timestamp;
  /** W3C traceparent of the request that created the job: the job's trace (see JobStore.createJob). */
  traceparent?: string;
  /**
   * Set on an erased job's tombstone (see erasure.ts: JobTombstone), which has none of the fields
   * above but its ids, preset, status, times, cost and version: check isErased before reading more.
   */
  erasedAt?: Timestamp;
  erasedBy?: string;
}

/** One vendor task (or cache hit) inside a shot attempt: the cost ledger's line and the fallback's memory. */
export interface RenderTry {
  backend: BackendName;
  model: string;
  vendorTaskId?: string;
  /** `abandoned`: we stopped following a task (attempt deadline, unreachable) after cancelling it.
   *  `unconfirmed`: a create whose answer was lost (a crash mid-create): booked as charged. */
  outcome: 'succeeded' | 'cache_hit' | 'failed' | 'canceled' | 'abandoned' | 'unconfirmed';
  errorClass?: ErrorClass;
  code?: string;
  message?: string;
  /** What the vendor charged, from the price table; 0 for refusals and failures it does not bill. */
  costUsd: number;
  at: Timestamp;
  /**
   * What the vendor request carried (model, prompt, seed, references by id), moved here from the
   * attempt when the task is settled. Absent when no request is known: a create refused outright,
   * one lost in a crash, a cache hit, or a try recorded before provenance was kept.
   */
  sent?: VendorRequestSummary;
  /**
   * Set by `settleTry` when it records the try: its write token. A re-run of the same write (the
   * commit applied but its answer was lost) finds it and appends nothing twice.
   */
  key?: string;
}

export interface ShotAttempt {
  attempt: number;
  /** The backend currently working on this attempt (changes when the fallback policy moves it). */
  backend: BackendName;
  status: 'RENDERING' | 'RENDERED' | 'PASSED' | 'REJECTED' | 'FAILED';
  /** The vendor task in flight, stored before polling starts so a restarted worker resumes it. */
  vendorTaskId?: string;
  submittedAt?: Timestamp;
  /**
   * How long the vendor has held `vendorTaskId` back for its capacity (Runway's THROTTLED), in
   * seconds, as last written by a delivery that polled it: busy time is not running time, so a
   * delivery that resumes the task starts its deadline from here. Cleared with the task.
   */
  busySeconds?: number;
  /** What the request that made `vendorTaskId` carried; stored with it, moved to its try when settled. */
  sent?: VendorRequestSummary;
  /** Finished vendor tasks of this attempt, in order. */
  tries?: RenderTry[];
  /** The spend reservation made for the task in flight (released when its ledger line is written). */
  reservation?: string;
  /**
   * Set just before a vendor create, cleared when its task id is stored. Found set by a later
   * delivery, it says a create may have happened whose id was lost (a crash mid-create).
   */
  submitting?: { reservation: string; at: Timestamp } | null;
  /** After a failed try the policy said to retry here: not before this time. */
  retryAt?: Timestamp | null;
  /** Which render worker delivery holds the attempt, and until when unless it renews the lease. */
  lease?: AttemptLease | null;
  /** Set when the fallback policy moved the attempt to another backend; the new owner's message follows. */
  handedOverAt?: Timestamp;
  clipUri?: string;
  /** What the render cache keeps of this clip once QA has passed it (never before). */
  cache?: AttemptCacheEntry;
  costUsd?: number;
  startedAt: Timestamp;
  finishedAt?: Timestamp;
  error?: string;
}

export interface AttemptLease {
  holder: string;
  until: Timestamp;
}

export interface AttemptCacheEntry {
  key: string;
  ttlSeconds: number;
  model: string;
  sizeBytes: number;
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

/** A shot of a newly saved plan version: pending, on its first attempt, nothing tried yet. */
export const pendingShot = (jobId: string, spec: ShotSpec, backend: BackendName, now: Timestamp): Shot => ({
  jobId,
  shotId: spec.shotId,
  index: spec.index,
  spec,
  backend,
  status: 'PENDING',
  attempt: 1,
  attempts: {},
  updatedAt: now,
});

export interface JobEvent {
  id: string;
  type: string;
  at: Timestamp;
  data: Record<string, unknown>;
}
