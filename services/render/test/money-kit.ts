import { DEFAULT_FALLBACK_POLICY, type FallbackPolicy, type RenderRequest, type TopicName } from '@aiprod/contracts';
import type { ClaimResult, ShotAttempts } from '@aiprod/job-store';
import type { RenderDeps } from '../src/app';
import type { PollResult, VideoBackend } from '../src/backends/backend';
import { OAuth2Client } from 'google-auth-library';
import { veoBackend } from '../src/backends/veo';
import type { renderHarness } from './harness';

/**
 * What the money-safety tests share: test-sized policies, the job's money read from both sides
 * (ledger lines and running totals), and workers that can be watched, or killed without a trace.
 */

type Harness = ReturnType<typeof renderHarness>;

/** The default policy with test-sized backoffs (10 ms up to 2 s). */
export function testPolicy(change: (p: FallbackPolicy) => void = () => undefined): FallbackPolicy {
  const p = structuredClone(DEFAULT_FALLBACK_POLICY);
  for (const b of Object.values(p.backends)) b.backoff = { initialMs: 10, maxMs: 2_000, multiplier: 2 };
  change(p);
  return p;
}

const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

/** A job's money: its ledger lines and their sum, its running total, what is still reserved. */
export async function moneyOf(h: Harness, jobId: string) {
  const lines = await h.jobs.listCosts(jobId);
  const job = (await h.jobs.getJob(jobId))!;
  return {
    lines,
    ledgerUsd: round(lines.reduce((s, l) => s + l.costUsd, 0)),
    costUsd: round(job.costUsd),
    reservedUsd: round(job.reservedUsd ?? 0),
    status: job.status,
  };
}

/** Vendor task ids the backend was asked to cancel (Veo has no cancel endpoint a server could count). */
export function countingCancels(backend: VideoBackend): { backend: VideoBackend; cancelled: string[] } {
  const cancelled: string[] = [];
  return {
    cancelled,
    backend: {
      ...backend,
      name: backend.name,
      model: backend.model,
      pollIntervalMs: backend.pollIntervalMs,
      cancel: (taskId, spec) => {
        cancelled.push(taskId);
        return backend.cancel(taskId, spec);
      },
    },
  };
}

/** Every message a pool publishes, as it publishes it (a negative assertion needs no waiting). */
export function recordPublishes(deps: RenderDeps): { topic: TopicName; message: RenderRequest }[] {
  const sent: { topic: TopicName; message: RenderRequest }[] = [];
  const publish = deps.publisher.publish.bind(deps.publisher);
  deps.publisher.publish = ((topic: TopicName, message: RenderRequest, options?: object) => {
    sent.push({ topic, message });
    return publish(topic as never, message as never, options);
  }) as typeof deps.publisher.publish;
  return sent;
}

/** Every claim a pool makes, with when it was answered. */
export function recordClaims(deps: RenderDeps): (ClaimResult & { atMs: number })[] {
  const seen: (ClaimResult & { atMs: number })[] = [];
  const attempts = deps.attempts;
  const watched = Object.create(attempts) as ShotAttempts;
  watched.claim = async (...args: Parameters<ShotAttempts['claim']>) => {
    const result = await attempts.claim(...args);
    seen.push({ ...result, atMs: Date.now() });
    return result;
  };
  deps.attempts = watched;
  return seen;
}

/**
 * A worker that can be killed mid-poll: after `kill()`, its vendor polls and its lease renewals
 * never answer, as in a SIGKILLed process (nothing released, nothing written). A killed process
 * leaves no promise behind; this one does, so `reap()` ends it after the test has looked: its
 * renewals report the lease lost, then its polls fail. A zombie that wakes like this must
 * neither pay nor record anything again.
 */
export function killable(deps: RenderDeps): { deps: RenderDeps; kill(): void; reap(): Promise<void> } {
  let dead = false;
  const hungRenewals: ((kept: boolean) => void)[] = [];
  const hungPolls: ((error: Error) => void)[] = [];
  const inner = deps.backend;
  const backend: VideoBackend = {
    ...inner,
    name: inner.name,
    model: inner.model,
    pollIntervalMs: inner.pollIntervalMs,
    poll: (taskId: string, signal: AbortSignal): Promise<PollResult> =>
      dead ? new Promise((_resolve, reject) => hungPolls.push(reject)) : inner.poll(taskId, signal),
  };
  const attempts = Object.create(deps.attempts) as ShotAttempts;
  attempts.renewLease = (...args: Parameters<ShotAttempts['renewLease']>) =>
    dead ? new Promise<boolean>((resolve) => hungRenewals.push(resolve)) : deps.attempts.renewLease(...args);
  return {
    deps: { ...deps, backend, attempts },
    kill: () => {
      dead = true;
    },
    reap: async () => {
      dead = false;
      for (const lost of hungRenewals.splice(0)) lost(false);
      await new Promise((r) => setImmediate(r));
      for (const fail of hungPolls.splice(0)) fail(new Error('the worker was frozen'));
    },
  };
}

/** The Veo backend pointed at its protocol test server, with a pre-issued token and quick polls. */
export function veoTestPool(baseUrl: string): VideoBackend {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'ya29.test-token', expiry_date: Date.now() + 3_600_000 });
  return veoBackend({ project: 'aiprod-test', location: 'us-central1', baseUrl, authClient, pollIntervalMs: 20 });
}
