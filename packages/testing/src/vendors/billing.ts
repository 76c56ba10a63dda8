import { attemptCost, resolutionFor, type AttemptUsage } from '@aiprod/vendor-catalogue';
import type { BackendName } from '@aiprod/contracts';

/**
 * What a vendor test server says the real vendor would bill: one line per task it would charge,
 * priced with the platform's own price table (`attemptCost`), so a run can compare the vendor's
 * bill with the platform's cost ledger to the micro-dollar. The rules of when a task is billed
 * are each vendor's, and live in its server; this file only holds the shared shapes.
 */

export interface BilledTask {
  /** The vendor's task id (Runway task, Replicate prediction, Vertex operation name). */
  taskId: string;
  /** The seconds billed: output seconds, or predict seconds for a model priced by compute time. */
  seconds: number;
  usd: number;
  /** Why the vendor bills it, in one line. */
  why: string;
}

/** What a server saw of its clients, for "at most one create per try" checks. */
export interface VendorCounts {
  /** Creates answered with a task: the ones that can be billed. */
  creates: number;
  cancels: number;
  polls: number;
  /**
   * Accepted creates per attempt: keyed by the attempt key when the client sends one the vendor
   * can see (Veo's `aiprod_attempt` label), else by what identifies a shot's request (prompt and
   * seed), since neither Runway nor Replicate takes an idempotency key.
   */
  createsByKey: Record<string, number>;
  /** The task ids created under each key, in order. */
  tasksByKey: Record<string, string[]>;
}

/** Shared bookkeeping of the servers: counts and the per-key record of accepted creates. */
export class VendorTally {
  creates = 0;
  cancels = 0;
  polls = 0;
  private readonly byKey = new Map<string, string[]>();

  created(key: string, taskId: string): void {
    this.creates++;
    const list = this.byKey.get(key) ?? [];
    list.push(taskId);
    this.byKey.set(key, list);
  }

  snapshot(): VendorCounts {
    const tasksByKey = Object.fromEntries([...this.byKey].map(([k, v]) => [k, [...v]]));
    const createsByKey = Object.fromEntries([...this.byKey].map(([k, v]) => [k, v.length]));
    return { creates: this.creates, cancels: this.cancels, polls: this.polls, createsByKey, tasksByKey };
  }
}

/** The key of a create that carries no attempt key: the shot's prompt and seed, as sent. */
export const promptSeedKey = (prompt: unknown, seed: unknown) =>
  JSON.stringify([typeof prompt === 'string' ? prompt : null, typeof seed === 'number' ? seed : null]);

/** Sums USD the way the ledger does (each line rounded to the micro-dollar first). */
export function totalUsd(lines: readonly { usd: number }[]): number {
  return Math.round(lines.reduce((sum, l) => sum + l.usd, 0) * 1e6) / 1e6;
}

/** One task priced with the platform's price table, at the resolution the platform would price it. */
export function priceTask(
  backend: BackendName,
  model: string,
  frame: { width: number; height: number } | { resolution: AttemptUsage['resolution'] },
  usage: Omit<AttemptUsage, 'resolution'>,
): number {
  const resolution =
    'resolution' in frame ? frame.resolution : resolutionFor(backend, frame.width, frame.height, model);
  return attemptCost(backend, model, { ...usage, resolution });
}
