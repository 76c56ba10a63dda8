import type { BackendName, ShotSpec } from '@aiprod/contracts';

/**
 * One video backend. The local animatic renders synchronously; the vendor backends (Runway, Veo,
 * Replicate) will add submit/poll/fetchResult/cancel/classify behind the same render call.
 */
export interface VideoBackend {
  readonly name: BackendName;
  /** Renders the shot into `outFile` and returns what it cost. */
  render(spec: ShotSpec, outFile: string, signal: AbortSignal): Promise<{ costUsd: number }>;
}
