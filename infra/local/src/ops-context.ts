import { userInfo } from 'node:os';
import { PubSub } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import { problemTypeUri, subscriptions, type SubscriptionSpec } from '@aiprod/contracts';
import { createFirestore, JobStore, MessageLedger } from '@aiprod/job-store';
import type { StackInfo } from './stack';

/**
 * What every `aiprod ops …` command works with: the project's Pub/Sub and Firestore, locally the
 * emulators named in .aiprod/stack.json, in the cloud the real services with application default
 * credentials. Built once per command and closed after it.
 */
export interface OpsContext {
  projectId: string;
  /** local-stack: from .aiprod/stack.json; emulators: from *_EMULATOR_HOST; cloud: Google's APIs. */
  mode: 'local-stack' | 'emulators' | 'cloud';
  pubsub: PubSub;
  db: Firestore;
  jobs: JobStore;
  ledger: MessageLedger;
  /** Who runs the command, as recorded on job timelines. */
  operator: string;
  close(): Promise<void>;
}

/** An operator command's failure, printed as a problem document (RFC 9457 fields) on stderr. */
export class OpsProblem extends Error {
  constructor(
    readonly kind: 'validation' | 'not_found' | 'conflict' | 'internal',
    message: string,
  ) {
    super(message);
  }
  /** 2: called wrongly (as every aiprod command); 1: the operation could not be done. */
  get exitCode(): number {
    return this.kind === 'validation' ? 2 : 1;
  }
}

export const usage = (message: string) => new OpsProblem('validation', message);

export function problemJson(error: unknown): { problem: Record<string, unknown>; exitCode: number } {
  const p = error instanceof OpsProblem ? error : new OpsProblem('internal', errorText(error));
  const titles = {
    validation: 'The command was called wrongly.',
    not_found: 'No such resource.',
    conflict: 'The resource is in a state that does not allow this.',
    internal: 'The operation failed.',
  };
  return {
    problem: { type: problemTypeUri(p.kind), title: titles[p.kind], detail: p.message, exitCode: p.exitCode },
    exitCode: p.exitCode,
  };
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function openOpsContext(options: { project?: string }, readInfo: () => StackInfo | null): OpsContext {
  const info = readInfo();
  const projectId = options.project ?? process.env.GCP_PROJECT ?? info?.projectId;
  if (!projectId) {
    throw usage('no project: run "pnpm stack:up" for the local platform, or pass --project (or set GCP_PROJECT)');
  }
  let mode: OpsContext['mode'] = 'cloud';
  if (info && info.projectId === projectId) {
    // The stack's own emulators; hosts already in the environment (a test's) win.
    process.env.PUBSUB_EMULATOR_HOST ??= info.pubsubEmulatorHost;
    process.env.FIRESTORE_EMULATOR_HOST ??= info.firestoreEmulatorHost;
    mode = 'local-stack';
  } else if (process.env.PUBSUB_EMULATOR_HOST || process.env.FIRESTORE_EMULATOR_HOST) {
    mode = 'emulators';
  }
  if (mode !== 'cloud') process.env.METADATA_SERVER_DETECTION ??= 'none';
  const pubsub = new PubSub({ projectId });
  const db = createFirestore(projectId);
  const jobs = new JobStore(db);
  return {
    projectId,
    mode,
    pubsub,
    db,
    jobs,
    ledger: new MessageLedger(db, jobs),
    operator: process.env.AIPROD_OPERATOR ?? userInfo().username,
    close: async () => {
      await Promise.allSettled([pubsub.close(), db.terminate()]);
    },
  };
}

/** A work subscription of the catalogue (dead-letter subscriptions are not replayed by seek). */
export function workSubscription(name: string): SubscriptionSpec {
  const spec = subscriptions().find((s) => s.name === name);
  if (!spec) {
    const names = subscriptions().map((s) => s.name);
    throw usage(`unknown subscription "${name}"; the catalogue has: ${names.join(', ')}`);
  }
  return spec;
}

/** Parses an ISO 8601 time that says its zone (a time without one means different things to different people). */
export function isoTime(name: string, raw: string): Date {
  const zoned = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw);
  const date = new Date(raw);
  if (!zoned || Number.isNaN(date.getTime())) {
    throw usage(`${name} must be an ISO 8601 time with its zone, e.g. 2026-12-07T09:30:00Z (got "${raw}")`);
  }
  return date;
}

/** Snapshot names as Pub/Sub allows them: 3-255 characters, a letter first, no "goog" prefix. */
export function snapshotName(raw: string): string {
  if (!/^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$/.test(raw) || raw.toLowerCase().startsWith('goog')) {
    throw usage(`"${raw}" is not a valid snapshot name (3-255 of A-Z a-z 0-9 . _ ~ % + -, starting with a letter)`);
  }
  return raw;
}

export const iso = (t: { toDate(): Date } | null | undefined) => (t ? t.toDate().toISOString() : null);

/** Prints a command's result: one JSON document with --json, otherwise the human text. */
export function emit(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human().trimEnd()}\n`);
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
