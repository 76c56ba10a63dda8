import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminal, type RenderRequest } from '@aiprod/contracts';
import { renderCacheKey, type AttemptRef, type Job, type ShotAttempt } from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import type { RenderDeps } from '../app';
import { BackendFailure, type BackendError } from '../backends/backend';
import { abandonTask } from './abandon-task';
import { busyTargetFor, rerouteBusy } from './busy-reroute';
import type { AttemptEnd } from './attempt-end';
import { ingestClip } from './clip-ingest';
import { onFailure } from './failed-try';
import { publishRendered } from './publish-rendered';
import { reuseCachedClip } from './cached-clip';
import { billedCost, settleSpend, tryEntry } from './spend';
import { submitOnce } from './submit';
import { countAgainstBreaker, pollTask, settleCancelled } from './vendor-call';

/** Downloading a finished clip may fail in transit; it is paid for, so it is fetched again this often. */
const INGEST_TRIES = 3;

/**
 * Renders one shot attempt on this pool's backend, from wherever a previous delivery left it.
 * The caller holds the attempt's lease (`ref.holder`); every change below requires it still does.
 *
 *   cache hit?  → reuse a clip QA passed before, cost 0
 *   no task yet → reserve its spend against the budget, mark the create, submit, store the task id
 *   task stored → poll it through transport faults (a restarted worker resumes it, never pays twice)
 *   finished    → ledger first, then download, store, RENDERED, shot.rendered
 *   failed      → ledger first, then the try and the policy's decision in one transaction: retry
 *                 here after a backoff, hand over to the next deployed backend, or fail the shot.
 */
export async function renderAttempt(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  claimed: ShotAttempt,
  ref: AttemptRef,
  leaseLost: AbortSignal,
  log: Log,
): Promise<AttemptEnd> {
  const me = deps.backend.name;
  const cacheKey = renderCacheKey(msg.tenantId, me, deps.backend.model, msg.spec);
  if (!claimed.vendorTaskId && !claimed.tries?.length && !claimed.submitting) {
    if (await reuseCachedClip(deps, msg, ref, cacheKey, log)) return 'finished';
  }

  let current = claimed;
  let ingestFailures = 0;
  for (let steps = 0; steps < 60; steps++) {
    if (leaseLost.aborted) return 'lease_lost';
    let taskId = current.vendorTaskId;
    if (!taskId) {
      // Never start a create while shutting down: hand the request back instead.
      if (deps.shutdown.aborted) return 'hand_back';
      const waitMs = (current.retryAt?.toMillis() ?? 0) - Date.now();
      if (waitMs > 0) {
        // A backoff the policy chose; the job is looked at meanwhile, so a cancel does not wait for it.
        await sleep(Math.min(waitMs, deps.timeouts.jobCheckMs), undefined, {
          signal: AbortSignal.any([deps.shutdown, leaseLost]),
        }).catch(() => undefined);
        const fresh = await deps.jobs.getJob(msg.jobId);
        if (!fresh || isTerminal(fresh.status)) {
          await deps.attempts.fail(ref, `the job is ${fresh?.status ?? 'gone'}`);
          return 'finished';
        }
        continue;
      }
      const submitted = await submitOnce(deps, msg, job, ref, current, log);
      if (submitted.kind === 'end') return submitted.end;
      if (submitted.kind === 'again') {
        current = submitted.attempt;
        continue;
      }
      taskId = submitted.taskId;
      current = submitted.attempt;
    }

    const polled = await pollTask(
      deps,
      msg,
      taskId,
      current.submittedAt?.toMillis() ?? Date.now(),
      leaseLost,
      log,
      busyTargetFor(deps, job, msg, current),
      {
        seconds: current.busySeconds ?? 0,
        save: (seconds) => deps.attempts.recordBusy(ref, taskId, seconds),
      },
    );
    // Busy is not failed: the task is moved to a backend with room, no failure counted.
    if (polled.kind === 'busy') return rerouteBusy(deps, msg, job, ref, current, taskId, polled, log);
    if (polled.kind === 'stopped') {
      if (polled.why === 'shutdown') return 'hand_back';
      if (polled.why === 'lease_lost') return 'lease_lost';
      // The job was cancelled or failed (another shot, the budget, a deadline): stop paying.
      await abandonTask(deps, msg, ref, taskId, log);
      return 'finished';
    }
    if (polled.kind === 'succeeded') {
      // Paid for now: the ledger line is written before anything can go wrong with the file.
      const seconds = polled.usage.outputSeconds > 0 ? polled.usage.outputSeconds : msg.spec.durationSeconds;
      const settled = tryEntry(
        deps,
        'succeeded',
        billedCost(deps, msg, true, { ...polled.usage, outputSeconds: seconds }),
        {
          taskId,
        },
      );
      await settleSpend(deps, msg, settled, {
        seconds,
        charged: true,
        ...(current.reservation ? { reservation: current.reservation } : {}),
      });
      let clip: Awaited<ReturnType<typeof ingestClip>>;
      try {
        clip = await ingestClip(deps, msg, polled.output);
      } catch (error) {
        if (deps.shutdown.aborted) return 'hand_back';
        const detail =
          error instanceof BackendFailure
            ? error.detail
            : ({
                class: 'transient',
                code: 'ingest_failed',
                message: `storing the clip failed: ${error instanceof Error ? error.message : String(error)}`.slice(
                  0,
                  300,
                ),
                charged: true,
              } satisfies BackendError);
        ingestFailures += 1;
        if (['transient', 'timeout', 'rate_limited'].includes(detail.class) && ingestFailures < INGEST_TRIES) {
          // Paid for and still at the vendor: poll again (a fresh output URL) and fetch again.
          log.warn('fetching the finished clip failed; fetching it again', { code: detail.code });
          await sleep(backoffMs(deps, ingestFailures), undefined, { signal: deps.shutdown }).catch(() => undefined);
          continue;
        }
        // The same ledger line (keyed by the task) as the charge above: recorded once, as a failed try.
        const entry = tryEntry(deps, 'failed', settled.costUsd, { taskId, error: detail });
        const end = await onFailure(
          deps,
          msg,
          job,
          ref,
          current,
          { entry, error: { ...detail, charged: true }, taskId },
          log,
        );
        if (typeof end === 'string') return end;
        current = end;
        continue;
      }
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
        { entry: settled, taskId },
      );
      if (done) await publishRendered(deps, msg.tenantId, done);
      else log.info('the attempt moved on while the clip was stored; the ledger has its cost');
      return 'finished';
    }

    let error = polled.error;
    let usage = error.usage;
    if (polled.kind === 'failed') await countAgainstBreaker(deps, error);
    else {
      // A task is only ever given up after it was cancelled, and costs what the vendor bills for it.
      const bill = await settleCancelled(deps, msg, taskId);
      error = { ...error, charged: bill.charged };
      usage = bill.usage;
    }
    const seconds = usage?.outputSeconds || msg.spec.durationSeconds;
    const entry = tryEntry(
      deps,
      error.code === 'attempt_timeout' ? 'abandoned' : 'failed',
      billedCost(deps, msg, error.charged, { ...usage, outputSeconds: seconds }),
      { taskId, error },
    );
    await settleSpend(deps, msg, entry, {
      seconds,
      charged: error.charged,
      ...(current.reservation ? { reservation: current.reservation } : {}),
    });
    const end = await onFailure(deps, msg, job, ref, current, { entry, error, taskId }, log);
    if (typeof end === 'string') return end;
    current = end;
  }
  throw new Error(`shot ${msg.shotId} attempt ${msg.attempt}: gave up after 60 steps`);
}

const backoffMs = (deps: RenderDeps, n: number) => {
  const b = deps.policy.backends[deps.backend.name].backoff;
  return Math.min(b.initialMs * b.multiplier ** (n - 1), b.maxMs);
};
