import type { BackendName, ErrorClass, ReferenceRole, ShotSpec, VendorRequestSummary } from '@aiprod/contracts';

/** The fallback policy maps each class to retry / fall back / fail; the backend only names the class. */
export type { ErrorClass };

export interface BackendError {
  class: ErrorClass;
  /** The vendor's own code when it gives one (e.g. `SAFETY.INPUT.TEXT`, `RESOURCE_EXHAUSTED`, HTTP 503). */
  code: string;
  /** One line for the job timeline; never contains credentials or signed URLs. */
  message: string;
  /** From `Retry-After` or a reset time in the body, when the vendor says how long to wait. */
  retryAfterMs?: number;
  /** Whether the vendor bills this failed attempt (refusals and aborted tasks are free). */
  charged: boolean;
  /** What the vendor measured for a billed failure (absent: priced on the shot's length). */
  usage?: BackendUsage;
}

/** Thrown by backend calls so the caller can read the classification without calling classify again. */
export class BackendFailure extends Error {
  constructor(readonly detail: BackendError) {
    super(detail.message);
    this.name = 'BackendFailure';
  }
}

/** Where the finished video is, as the vendor returned it. Downloaded at once: vendor URLs expire. */
export type BackendOutput =
  | { kind: 'url'; url: string }
  | { kind: 'bytes'; base64: string; mimeType?: string }
  /** Written by the vendor straight into our bucket (Veo with `outputGcsUri`). */
  | { kind: 'gcs'; uri: string }
  /** The local animatic: rendered in `fetchResult`, deterministic for the same spec. */
  | { kind: 'local'; spec: ShotSpec };

/** What the vendor measured, for the cost ledger (priced with the price table, not guessed). */
export interface BackendUsage {
  /** Seconds of video produced. */
  outputSeconds: number;
  /** Replicate bills some models by compute time (`metrics.predict_time`). */
  predictSeconds?: number;
}

export type PollResult =
  | {
      state: 'pending';
      /** 0..1 when the vendor reports it. */
      progress?: number;
      /** The vendor's queue position (fal-style) or status word, so a slow task never looks hung. */
      detail?: string;
      /**
       * Queued behind the vendor's own capacity (Runway's THROTTLED): the task has not started and
       * is not billed. Busy time is not running time: it does not count toward the attempt timeout.
       */
      busy?: boolean;
    }
  | { state: 'succeeded'; output: BackendOutput; usage: BackendUsage }
  | { state: 'failed'; error: BackendError };

/** What a cancelled (or abandoned) task costs, as the vendor bills it. */
export interface CancelOutcome {
  charged: boolean;
  /** What to price when charged (absent: the shot's length). */
  usage?: BackendUsage;
}

/**
 * What one create actually put in its request, for the provenance manifest: read from the body
 * the adapter built, never from the spec it started from. Ids only: never image bytes or URLs
 * (a signed URL is a credential).
 */
export type SentRequest = VendorRequestSummary;

/**
 * A SentRequest from the values a request body carried, leaving out those it did not carry
 * (undefined), which Firestore would refuse to store. No references unless given.
 */
export function sentRequest(
  values: { [K in keyof SentRequest]?: SentRequest[K] | undefined } & {
    model: string;
    prompt: string;
  },
): SentRequest {
  const present = Object.entries(values).filter(([, v]) => v !== undefined);
  return { references: [], ...(Object.fromEntries(present) as typeof values) } as SentRequest;
}

/**
 * A reference image of the shot (spec.references, in the same order: product, brand, style), read
 * from our storage and checked against its digest. An adapter sends as many as its model takes,
 * in its own field, and says in `sent` which ones it sent.
 */
export interface LoadedReference {
  id: string;
  role: ReferenceRole;
  contentType: string;
  description?: string;
  bytes: Buffer;
}

export interface SubmitContext {
  /** Stable per (job, shot, attempt): vendors without idempotency keys still get it in metadata/logs. */
  attemptKey: string;
  signal: AbortSignal;
  /** The shot's reference images (absent or empty when it has none). */
  references?: readonly LoadedReference[];
}

/**
 * One video backend, driven by the render pool: submit → (store the task id) → poll until done →
 * fetchResult into a local file. Every method throws `BackendFailure` for vendor errors.
 */
export interface VideoBackend {
  readonly name: BackendName;
  /** The vendor model used, part of the render-cache key and of the price lookup. */
  readonly model: string;
  /** How often to poll; Runway asks for no faster than every 5 s. */
  readonly pollIntervalMs: number;
  /**
   * Creates the vendor task and returns its id and what the request carried. Nothing is awaited
   * beyond the create call.
   */
  submit(spec: ShotSpec, ctx: SubmitContext): Promise<{ taskId: string; sent: SentRequest }>;
  /** Reads the task's state once. */
  poll(taskId: string, signal: AbortSignal): Promise<PollResult>;
  /** Downloads (or, for local, renders) the finished video into `outFile`. */
  fetchResult(output: BackendOutput, outFile: string, signal: AbortSignal): Promise<void>;
  /**
   * Asks the vendor to stop the task and says what the vendor bills for it (Veo: the whole clip,
   * it cannot be stopped; Replicate: the compute time used so far). Never throws.
   */
  cancel(taskId: string, spec: ShotSpec): Promise<CancelOutcome>;
  /** Turns anything a vendor call threw into a classified error. */
  classify(error: unknown): BackendError;
}
