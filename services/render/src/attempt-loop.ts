import { setTimeout as sleep } from 'node:timers/promises';
import {
  isTerminal,
  PermanentError,
  presetOf,
  type BackendName,
  type RenderRequest,
  type ShotSpec,
} from '@aiprod/contracts';
import {
  renderCacheKey,
  renderRequestFor,
  type AttemptRef,
  type Job,
  type RenderTry,
  type Shot,
  type ShotAttempt,
} from '@aiprod/job-store';
import { BACKEND_CAPABILITIES, isAllowedDuration } from '@aiprod/planning';
import type { Log } from '@aiprod/pubsub';
import type { RenderDeps } from './app';
import { BackendFailure, type BackendError, type BackendUsage } from './backends/backend';
import { clipKey, ingestClip } from './clip-ingest';
import { decide } from './policy';
import { billedCost, budgetCapOf, expectedCost, reservationKey, settleSpend, tryEntry } from './spend';
import { countAgainstBreaker, pollTask, submitTask } from './vendor-call';

/** How a delivery's work on an attempt ended. */
export type AttemptEnd =
  /** Rendered, handed to another backend, failed, or the job finished: ack. */
  | 'finished'
  /** This worker is shutting down with a task in flight: hand the message back. */
  | 'hand_back'
  /** Another delivery took the attempt over (this one was presumed dead): ack, it follows the task. */
  | 'lease_lost';

/** Downloading a finished clip may fail in transit; it is paid for, so it is fetched again this often. */
const INGEST_TRIES = 3;

/**
 * Renders one shot attempt on this pool's backend, from wherever a previous delivery left it.
 * The caller holds the attempt's lease.
 *
 *   cache hit?  → reuse a clip QA passed before, cost 0
 *   no task yet → reserve its spend against the budget, submit, store the task id before polling
 *   task stored → poll it through transport faults (a restarted worker resumes it, never pays twice)
 *   finished    → ledger first, then download, store, RENDERED, shot.rendered
 *   failed      → ledger first, then the fallback policy: retry here after a backoff, hand over to
 *                 the next deployed backend, or fail the shot and the job. Every decision is an event.
 */
export async function renderAttempt(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  claimed: ShotAttempt,
  leaseLost: AbortSignal,
  log: Log,
): Promise<AttemptEnd> {
  const me = deps.backend.name;
  const ref: AttemptRef = { jobId: msg.jobId, shotId: msg.shotId, attempt: msg.attempt, backend: me };
  const cacheKey = renderCacheKey(msg.tenantId, me, deps.backend.model, msg.spec);
  if (!claimed.vendorTaskId && !claimed.tries?.length && (await reuseCachedClip(deps, msg, ref, cacheKey, log)))
    return 'finished';

  let current = claimed;
  let ingestFailures = 0;
  for (let decisions = 0; decisions < 50; decisions++) {
    if (deps.shutdown.aborted) return 'hand_back';
    if (leaseLost.aborted) return 'lease_lost';
    const triesSoFar = current.tries?.length ?? 0;
    let taskId = current.vendorTaskId;
    let reservation = current.reservation;
    if (!taskId) {
      const expected = expectedCost(deps, msg);
      // A free task (the local animatic) commits nothing: only the job's status matters, read without a lock.
      reservation = expected > 0 ? reservationKey(msg, me, triesSoFar) : undefined;
      const reserved = reservation
        ? await deps.jobs.reserveSpend(msg.jobId, reservation, expected, budgetCapOf(job))
        : await statusOnly(deps, msg.jobId);
      if (!reserved.ok) {
        if (reserved.why !== 'budget') {
          log.info('job finished; no new vendor task', { why: reserved.why });
          return 'finished';
        }
        const why =
          `a further ${me} task (${expectedCost(deps, msg).toFixed(2)} USD) would bring spend to ` +
          `${(reserved.spentUsd + reserved.committedUsd).toFixed(2)} USD, above the budget cap of ${reserved.capUsd} USD`;
        await deps.attempts.fail(ref, `budget: ${why}`);
        throw new PermanentError('budget_exceeded', `shot ${msg.shotId}: ${why}`);
      }
      try {
        taskId = await submitTask(deps, msg);
      } catch (error) {
        if (!(error instanceof BackendFailure)) {
          if (reservation) await deps.jobs.releaseSpend(msg.jobId, reservation);
          throw error;
        }
        const next = await onFailure(
          deps,
          msg,
          job,
          ref,
          { error: error.detail, n: triesSoFar, ...(reservation ? { reservation } : {}) },
          log,
        );
        if (typeof next === 'string') return next;
        current = next;
        continue;
      }
      const recorded = await deps.attempts.recordTask(ref, taskId, reservation);
      if (!recorded.attempt || recorded.attempt.vendorTaskId !== taskId) {
        // The attempt moved on, or another delivery stored its task first: ours is surplus.
        await abandonTask(deps, msg, ref, taskId, reservation, 'canceled', log, { record: false });
        return 'finished';
      }
      log.info('vendor task submitted', { backend: me });
      current = recorded.attempt;
    }

    const polled = await pollTask(deps, msg, taskId, current.submittedAt?.toMillis() ?? Date.now(), leaseLost, log);
    if (polled.kind === 'stopped') {
      if (polled.why === 'shutdown') return 'hand_back';
      if (polled.why === 'lease_lost') return 'lease_lost';
      // The job was cancelled or failed (another shot, the budget, a deadline): stop paying.
      await abandonTask(deps, msg, ref, taskId, reservation, 'canceled', log);
      log.info('job finished; vendor task cancelled');
      return 'finished';
    }
    if (polled.kind === 'succeeded') {
      let clip: Awaited<ReturnType<typeof ingestClip>>;
      try {
        clip = await ingestClip(deps, msg, polled.output);
      } catch (error) {
        if (!(error instanceof BackendFailure)) throw error;
        if (deps.shutdown.aborted) return 'hand_back';
        ingestFailures += 1;
        if (['transient', 'timeout', 'rate_limited'].includes(error.detail.class) && ingestFailures < INGEST_TRIES) {
          // Paid for and still at the vendor: poll again (a fresh output URL) and fetch again.
          log.warn('fetching the finished clip failed; fetching it again', { code: error.detail.code });
          await sleep(backoffMs(deps, ingestFailures), undefined, { signal: deps.shutdown }).catch(() => undefined);
          continue;
        }
        const next = await onFailure(
          deps,
          msg,
          job,
          ref,
          { error: { ...error.detail, charged: true, usage: polled.usage }, taskId, reservation, n: triesSoFar },
          log,
        );
        if (typeof next === 'string') return next;
        current = next;
        continue;
      }
      // A worker that resumed another's task may not know the length the vendor billed: the clip says.
      const usage: BackendUsage =
        polled.usage.outputSeconds > 0
          ? polled.usage
          : { ...polled.usage, outputSeconds: Math.round(clip.durationSeconds) };
      const costUsd = billedCost(deps, msg, true, usage);
      const entry = tryEntry(deps, 'succeeded', costUsd, { taskId });
      await settleSpend(deps, msg, entry, { seconds: usage.outputSeconds, charged: true, reservation });
      const done = await deps.attempts.complete(
        ref,
        {
          clipUri: clip.clipUri,
          sizeBytes: clip.sizeBytes,
          ...(deps.cacheTtlSeconds > 0
            ? {
                cache: {
                  key: cacheKey,
                  ttlSeconds: deps.cacheTtlSeconds,
                  model: deps.backend.model,
                  sizeBytes: clip.sizeBytes,
                },
              }
            : {}),
        },
        { entry, taskId },
      );
      if (done) await publishRendered(deps, msg.tenantId, done);
      return 'finished';
    }
    if (polled.kind === 'failed') await countAgainstBreaker(deps, polled.error);
    let error = polled.error;
    if (polled.kind === 'abandon') {
      // A task is only ever given up after it was cancelled, and costs what the vendor bills for it.
      const cancelled = await deps.backend.cancel(taskId, msg.spec);
      error = { ...error, charged: cancelled.charged, ...(cancelled.usage ? { usage: cancelled.usage } : {}) };
    }
    const next = await onFailure(deps, msg, job, ref, { error, taskId, reservation, n: triesSoFar }, log);
    if (typeof next === 'string') return next;
    current = next;
  }
  throw new Error(`shot ${msg.shotId} attempt ${msg.attempt}: gave up after 50 policy decisions`);
}

async function statusOnly(deps: RenderDeps, jobId: string) {
  const job = await deps.jobs.getJob(jobId);
  if (!job) return { ok: false, why: 'not_found' } as const;
  return isTerminal(job.status)
    ? ({ ok: false, why: 'terminal', status: job.status } as const)
    : ({ ok: true } as const);
}

const backoffMs = (deps: RenderDeps, n: number) => {
  const b = deps.policy.backends[deps.backend.name].backoff;
  return Math.min(b.initialMs * b.multiplier ** (n - 1), b.maxMs);
};

/**
 * Cancels a task this delivery will not follow and settles what the vendor bills for it. With
 * `record`, the try is appended to the attempt (which forgets the task); without, the attempt
 * never pointed at it (a surplus task).
 */
export async function abandonTask(
  deps: RenderDeps,
  msg: RenderRequest,
  ref: AttemptRef,
  taskId: string,
  reservation: string | undefined,
  outcome: RenderTry['outcome'],
  log: Log,
  options: { record: boolean } = { record: true },
): Promise<void> {
  const cancelled = await deps.backend.cancel(taskId, msg.spec);
  const usage = cancelled.usage ?? { outputSeconds: msg.spec.durationSeconds };
  const entry = tryEntry(deps, outcome, billedCost(deps, msg, cancelled.charged, usage), { taskId });
  await settleSpend(deps, msg, entry, {
    seconds: usage.outputSeconds,
    charged: cancelled.charged,
    ...(reservation ? { reservation } : {}),
  });
  if (options.record) await deps.attempts.recordTry(ref, { entry, taskId });
  await deps.jobs.appendEvent(msg.jobId, {
    key: `shot-${msg.shotId}-a${msg.attempt}-render.${outcome}-${entry.at.toMillis()}`,
    type: `render.${outcome}`,
    data: { shotId: msg.shotId, attempt: msg.attempt, backend: ref.backend, costUsd: entry.costUsd },
  });
  log.info('vendor task cancelled', { outcome, charged: cancelled.charged });
}

/**
 * Applies the fallback policy to a failed try. Spend first: the ledger line is written before the
 * attempt forgets the task. Returns the attempt to go on with (retry here), or how this delivery ends.
 */
async function onFailure(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  ref: AttemptRef,
  failed: { error: BackendError; taskId?: string; reservation?: string; n: number },
  log: Log,
): Promise<ShotAttempt | AttemptEnd> {
  const { error, taskId } = failed;
  const usage = error.usage ?? { outputSeconds: msg.spec.durationSeconds };
  const outcome: RenderTry['outcome'] = error.code === 'attempt_timeout' ? 'abandoned' : 'failed';
  const entry = tryEntry(deps, outcome, billedCost(deps, msg, error.charged, usage), {
    ...(taskId ? { taskId } : {}),
    error,
  });
  await settleSpend(deps, msg, entry, {
    seconds: usage.outputSeconds,
    charged: error.charged,
    n: failed.n,
    ...(failed.reservation ? { reservation: failed.reservation } : {}),
  });
  const after = await deps.attempts.recordTry(ref, { entry, ...(taskId ? { taskId } : {}) });
  if (!after) {
    log.info('the attempt moved on meanwhile; nothing more to do here');
    return 'finished';
  }
  const tries = after.tries ?? [];
  const decision = decide({
    policy: deps.policy,
    backend: ref.backend,
    error,
    triesHere: tries.filter((t) => t.backend === ref.backend).length,
    tried: [...new Set(tries.map((t) => t.backend))],
    // Only backends this deployment runs a pool for, and that can make this shot's length (Veo: 4/6/8 s).
    allowed: presetOf(job.preset).allowedBackends.filter(
      (b) => deps.deployedBackends.includes(b) && isAllowedDuration(b, msg.spec.durationSeconds, msg.spec.fps),
    ),
  });
  await deps.jobs.appendEvent(msg.jobId, {
    key: `shot-${msg.shotId}-a${msg.attempt}-decision-${tries.length}`,
    type: 'render.decision',
    data: {
      shotId: msg.shotId,
      attempt: msg.attempt,
      backend: ref.backend,
      class: error.class,
      code: error.code,
      action: decision.action,
      to: decision.to,
      delayMs: decision.delayMs,
      why: decision.why,
      costUsd: entry.costUsd,
    },
  });
  log.warn('vendor task failed', { class: error.class, code: error.code, action: decision.action, to: decision.to });

  if (decision.action === 'retry') {
    await sleep(decision.delayMs ?? 0, undefined, { signal: deps.shutdown }).catch(() => undefined);
    if (deps.shutdown.aborted) return 'hand_back';
    return after;
  }
  if (decision.action === 'fallback' && decision.to) {
    const to = decision.to;
    const moved = await deps.attempts.handOver(ref, to, (spec) => specFor(to, spec));
    if (moved) {
      const request = renderRequestFor(job, moved);
      await deps.publisher.publish(request.topic, request.message);
    }
    return 'finished';
  }
  await deps.attempts.fail(ref, `${error.class}: ${error.message}`);
  throw new PermanentError(
    'render_failed',
    `shot ${msg.shotId} could not be rendered: ${decision.why}: ${error.message}`,
  );
}

/** The shot as the next backend can make it: no vendor sound asked of a backend that has none. */
function specFor(to: BackendName, spec: ShotSpec): ShotSpec {
  if (!spec.audio || BACKEND_CAPABILITIES[to].nativeAudio) return spec;
  const { audio: _audio, ...silent } = spec;
  return silent;
}

async function reuseCachedClip(
  deps: RenderDeps,
  msg: RenderRequest,
  ref: AttemptRef,
  cacheKey: string,
  log: Log,
): Promise<boolean> {
  const hit = await deps.cache.lookup(cacheKey);
  if (!hit) return false;
  const source = deps.storage.keyFromUri(hit.clipUri);
  if (!(await deps.storage.exists(source))) {
    await deps.cache.forget(cacheKey);
    return false;
  }
  const target = clipKey(msg.tenantId, msg.jobId, msg.shotId, msg.attempt);
  const stored =
    source === target
      ? { uri: hit.clipUri, sizeBytes: hit.sizeBytes }
      : await deps.storage.withLocalFile(source, (path) =>
          deps.storage.putFile(target, path, { contentType: 'video/mp4' }),
        );
  const entry = tryEntry(deps, 'cache_hit', 0);
  await settleSpend(deps, msg, entry, { seconds: 0, charged: false });
  const done = await deps.attempts.complete(ref, { clipUri: stored.uri, sizeBytes: stored.sizeBytes }, { entry });
  if (done) await publishRendered(deps, msg.tenantId, done);
  log.info('render cache hit', { from: hit.clipUri });
  return true;
}

export async function publishRendered(deps: RenderDeps, tenantId: string, shot: Shot): Promise<void> {
  const attempt = shot.attempts[String(shot.attempt)];
  if (!attempt?.clipUri) throw new Error(`shot ${shot.shotId} attempt ${shot.attempt} has no clip recorded`);
  await deps.publisher.publish('aiprod.shot.rendered.v1', {
    v: 1,
    jobId: shot.jobId,
    tenantId,
    shotId: shot.shotId,
    attempt: shot.attempt,
    clipUri: attempt.clipUri,
    backend: attempt.backend,
    costUsd: attempt.costUsd ?? 0,
  });
}
