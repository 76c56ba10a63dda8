import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Timestamp } from '@google-cloud/firestore';
import { BrokenCircuitError } from 'cockatiel';
import {
  PermanentError,
  RetryableError,
  presetOf,
  renderTopicFor,
  type BackendName,
  type RenderRequest,
  type ShotSpec,
} from '@aiprod/contracts';
import { renderCacheKey, type Job, type RenderTry, type Shot, type ShotAttempt } from '@aiprod/job-store';
import { conformClip, needsConform, probe } from '@aiprod/media';
import { BACKEND_CAPABILITIES, isAllowedDuration } from '@aiprod/planning';
import type { Log } from '@aiprod/pubsub';
import type { RenderDeps } from './app';
import { BackendFailure, type BackendError, type BackendOutput, type BackendUsage } from './backends/backend';
import { circuitOpenError, decide } from './policy';

export const clipKey = (tenantId: string, jobId: string, shotId: string, attempt: number) =>
  `tenants/${tenantId}/jobs/${jobId}/shots/${shotId}/attempt-${attempt}.mp4`;

/** How often a long poll re-reads the job to notice a cancellation, and reports progress. */
const CANCEL_CHECK_MS = 5_000;
const PROGRESS_EVENT_MS = 30_000;

class JobCanceled extends Error {}

/**
 * Renders one shot attempt on this pool's backend, from wherever a previous delivery left it:
 *
 *   cache hit?  → reuse the stored clip, cost 0
 *   no task yet → submit, and store the vendor's task id on the attempt before anything else
 *   task stored → poll it (a restarted worker resumes the same task, never pays twice)
 *   finished    → download at once, ffprobe it, store it, record the cost, publish shot.rendered
 *   failed      → the fallback policy: retry here after a backoff, hand the attempt to the next
 *                 backend of the chain, or fail the shot and the job. Every decision is an event.
 */
export async function renderAttempt(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  shot: Shot,
  log: Log,
): Promise<void> {
  const me = deps.backend.name;
  const key = String(msg.attempt);
  const attempt = shot.attempts[key];
  if (!attempt || attempt.backend !== me) {
    log.info('attempt is handled by another backend', { backend: attempt?.backend });
    return;
  }
  const cacheKey = renderCacheKey(msg.tenantId, me, deps.backend.model, msg.spec);
  if (!attempt.vendorTaskId && (await reuseCachedClip(deps, msg, cacheKey, log))) return;

  let current = attempt;
  for (let loop = 0; loop < 50; loop++) {
    let taskId = current.vendorTaskId;
    try {
      if (!taskId) {
        taskId = await submit(deps, msg);
        current = await recordTask(deps, msg, taskId, log);
        if (current.vendorTaskId !== taskId) {
          // Another delivery stored its task first: ours is surplus, stop it and follow theirs.
          await deps.backend.cancel(taskId);
          taskId = current.vendorTaskId!;
        }
      }
      const submittedAt = current.submittedAt?.toMillis() ?? Date.now();
      const done = await pollUntilDone(deps, msg, taskId, submittedAt, log);
      await finish(deps, msg, taskId, done, cacheKey);
      return;
    } catch (error) {
      if (error instanceof JobCanceled) {
        if (taskId) await deps.backend.cancel(taskId);
        await recordTry(deps, msg, { vendorTaskId: taskId, outcome: 'canceled', costUsd: 0 }, 'render.canceled');
        log.info('job canceled; vendor task cancelled', { taskId });
        return;
      }
      if (!(error instanceof BackendFailure)) throw error;
      if (deps.shutdown.aborted) {
        // The task id is stored: the next worker resumes it.
        throw new RetryableError('render worker is shutting down; the vendor task will be resumed');
      }
      const next = await onFailure(deps, msg, job, taskId, error.detail, log);
      if (!next) return;
      current = next;
    }
  }
  throw new Error(`shot ${msg.shotId} attempt ${msg.attempt}: gave up after 50 policy decisions`);
}

/** Wraps a vendor call: anything it throws becomes a classified BackendFailure, open circuits included. */
async function vendor<T>(deps: RenderDeps, call: () => Promise<T>): Promise<T> {
  try {
    return await deps.breaker.execute(async () => {
      try {
        return await call();
      } catch (error) {
        throw error instanceof BackendFailure ? error : new BackendFailure(deps.backend.classify(error));
      }
    });
  } catch (error) {
    if (error instanceof BrokenCircuitError) throw new BackendFailure(circuitOpenError(deps.backend.name, error));
    throw error;
  }
}

function submit(deps: RenderDeps, msg: RenderRequest): Promise<string> {
  const signal = AbortSignal.any([deps.shutdown, AbortSignal.timeout(120_000)]);
  return vendor(deps, async () => {
    const { taskId } = await deps.backend.submit(msg.spec, {
      attemptKey: `${msg.jobId}/${msg.shotId}/a${msg.attempt}`,
      signal,
    });
    return taskId;
  });
}

/** Stores the task id on the attempt before the first poll; the first stored id wins. */
async function recordTask(deps: RenderDeps, msg: RenderRequest, taskId: string, log: Log): Promise<ShotAttempt> {
  const key = String(msg.attempt);
  const result = await deps.jobs.transitionShot(msg.jobId, msg.shotId, 'RENDERING', 'RENDERING', (s) => {
    const a = s.attempts[key]!;
    if (a.vendorTaskId) return {};
    return { attempts: { ...s.attempts, [key]: { ...a, vendorTaskId: taskId, submittedAt: Timestamp.now() } } };
  });
  const stored = result.value?.attempts[key];
  if (!stored || stored.backend !== deps.backend.name) {
    throw new PermanentError('invalid_message', `shot ${msg.shotId} attempt ${msg.attempt} moved on while submitting`);
  }
  if (stored.vendorTaskId === taskId) {
    await deps.jobs.appendEvent(msg.jobId, {
      key: `shot-${msg.shotId}-a${msg.attempt}-submitted-${taskId}`,
      type: 'render.submitted',
      data: { shotId: msg.shotId, attempt: msg.attempt, backend: deps.backend.name, taskId },
    });
    log.info('vendor task submitted', { taskId });
  }
  return stored;
}

async function pollUntilDone(
  deps: RenderDeps,
  msg: RenderRequest,
  taskId: string,
  submittedAtMs: number,
  log: Log,
): Promise<{ output: BackendOutput; usage: BackendUsage }> {
  const deadline = submittedAtMs + deps.policy.backends[deps.backend.name].attemptTimeoutSeconds * 1000;
  let lastCancelCheck = Date.now();
  let lastProgress = 0;
  for (let polls = 0; ; polls++) {
    if (Date.now() > deadline) {
      await deps.backend.cancel(taskId);
      throw new BackendFailure({
        class: 'timeout',
        code: 'attempt_timeout',
        message: `vendor task ${taskId} did not finish within the attempt timeout; cancelled`,
        // A vendor may bill work it did before the cancel (Veo always does): count it.
        charged: deps.backend.name !== 'local',
      });
    }
    const signal = AbortSignal.any([deps.shutdown, AbortSignal.timeout(60_000)]);
    const state = await vendor(deps, async () => {
      const polled = await deps.backend.poll(taskId, signal);
      // A vendor-side failure that says the vendor is unwell counts against its breaker too.
      if (polled.state === 'failed' && ['transient', 'rate_limited'].includes(polled.error.class)) {
        throw new BackendFailure(polled.error);
      }
      return polled;
    });
    if (state.state === 'succeeded') return state;
    if (state.state === 'failed') throw new BackendFailure(state.error);
    const now = Date.now();
    if (now - lastProgress >= PROGRESS_EVENT_MS && polls > 0) {
      lastProgress = now;
      await deps.jobs.appendEvent(msg.jobId, {
        key: `shot-${msg.shotId}-a${msg.attempt}-progress-${polls}`,
        type: 'render.progress',
        data: { shotId: msg.shotId, backend: deps.backend.name, progress: state.progress, detail: state.detail },
      });
    }
    if (now - lastCancelCheck >= CANCEL_CHECK_MS) {
      lastCancelCheck = now;
      const job = await deps.jobs.getJob(msg.jobId);
      if (job?.status === 'CANCELED') throw new JobCanceled();
    }
    if (deps.shutdown.aborted)
      throw new BackendFailure({ class: 'transient', code: 'shutdown', message: 'shutting down', charged: false });
    log.debug('vendor task pending', { taskId, polls, progress: state.progress });
    await sleep(deps.backend.pollIntervalMs, undefined, { signal: deps.shutdown }).catch(() => undefined);
  }
}

/** Downloads at once (vendor URLs expire), checks the file, stores it, records the cost, publishes. */
async function finish(
  deps: RenderDeps,
  msg: RenderRequest,
  taskId: string,
  done: { output: BackendOutput; usage: BackendUsage },
  cacheKey: string,
): Promise<void> {
  const dir = await mkdtemp(join(deps.workDir, 'render-'));
  try {
    const file = join(dir, 'clip.mp4');
    const media = await vendor(deps, async () => {
      await deps.backend.fetchResult(done.output, file, AbortSignal.any([deps.shutdown, AbortSignal.timeout(300_000)]));
      const probed = await probe(file, { timeoutMs: 30_000 }).catch((error: unknown) => {
        throw new BackendFailure({
          class: 'no_output',
          code: 'unreadable_video',
          message:
            `the vendor's file is not a readable video: ${error instanceof Error ? error.message : String(error)}`.slice(
              0,
              300,
            ),
          charged: true,
        });
      });
      if (!probed.video) {
        throw new BackendFailure({
          class: 'no_output',
          code: 'no_video_stream',
          message: "the vendor's file has no video stream",
          charged: true,
        });
      }
      return probed;
    });
    // Vendors render their own frame sizes, rates and rounded-up lengths; QA and assembly get the shot's.
    let clip = file;
    if (needsConform(media, msg.spec)) {
      clip = join(dir, 'conformed.mp4');
      await conformClip(file, clip, msg.spec, { timeoutMs: 120_000, signal: deps.shutdown });
    }
    const stored = await deps.storage.putFile(clipKey(msg.tenantId, msg.jobId, msg.shotId, msg.attempt), clip, {
      contentType: 'video/mp4',
      move: true,
    });
    // A worker that resumed another's task may not know the length the vendor billed: the clip says.
    const usage =
      done.usage.outputSeconds > 0 ? done.usage : { ...done.usage, outputSeconds: Math.round(media.durationSeconds) };
    const costUsd = deps.price(deps.backend.name, deps.backend.model, msg.spec, usage);
    await completeAttempt(
      deps,
      msg,
      { clipUri: stored.uri, sizeBytes: stored.sizeBytes, costUsd },
      {
        backend: deps.backend.name,
        model: deps.backend.model,
        vendorTaskId: taskId,
        outcome: 'succeeded',
        costUsd,
        at: Timestamp.now(),
      },
    );
    await deps.cache.remember(cacheKey, {
      tenantId: msg.tenantId,
      backend: deps.backend.name,
      model: deps.backend.model,
      clipUri: stored.uri,
      sizeBytes: stored.sizeBytes,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function reuseCachedClip(deps: RenderDeps, msg: RenderRequest, cacheKey: string, log: Log): Promise<boolean> {
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
  await completeAttempt(
    deps,
    msg,
    { clipUri: stored.uri, sizeBytes: stored.sizeBytes, costUsd: 0 },
    {
      backend: deps.backend.name,
      model: deps.backend.model,
      outcome: 'cache_hit',
      costUsd: 0,
      at: Timestamp.now(),
    },
  );
  log.info('render cache hit', { from: hit.clipUri });
  return true;
}

/** RENDERING → RENDERED with the clip and the try; the ledger line; then shot.rendered. */
async function completeAttempt(
  deps: RenderDeps,
  msg: RenderRequest,
  result: { clipUri: string; sizeBytes: number; costUsd: number },
  entry: RenderTry,
): Promise<void> {
  const key = String(msg.attempt);
  const tries = (s: Shot) => s.attempts[key]?.tries ?? [];
  const done = await deps.jobs.transitionShot(
    msg.jobId,
    msg.shotId,
    'RENDERING',
    'RENDERED',
    (s) => ({
      attempts: {
        ...s.attempts,
        [key]: {
          ...s.attempts[key]!,
          status: 'RENDERED',
          clipUri: result.clipUri,
          costUsd: sumCost([...tries(s), entry]),
          tries: [...tries(s), entry],
          finishedAt: Timestamp.now(),
        },
      },
    }),
    {
      key: `shot-${msg.shotId}-a${msg.attempt}-rendered`,
      type: entry.outcome === 'cache_hit' ? 'render.cache_hit' : 'shot.rendered',
      data: {
        shotId: msg.shotId,
        attempt: msg.attempt,
        backend: entry.backend,
        sizeBytes: result.sizeBytes,
        costUsd: entry.costUsd,
      },
    },
  );
  await ledger(deps, msg, entry);
  const shot = done.value;
  if (shot?.status === 'RENDERED' || shot?.status === 'PASSED') await publishRendered(deps, msg.tenantId, shot);
}

const sumCost = (tries: RenderTry[]) => Math.round(tries.reduce((sum, t) => sum + t.costUsd, 0) * 1e6) / 1e6;

async function ledger(deps: RenderDeps, msg: RenderRequest, entry: RenderTry): Promise<void> {
  const line = `${msg.shotId}-a${msg.attempt}-${entry.backend}-${entry.vendorTaskId ?? entry.outcome}`;
  await deps.jobs.addCost(msg.jobId, line, entry.costUsd, {
    shotId: msg.shotId,
    attempt: msg.attempt,
    backend: entry.backend,
    model: entry.model,
    outcome: entry.outcome,
    ...(entry.vendorTaskId ? { vendorTaskId: entry.vendorTaskId } : {}),
    ...(entry.errorClass ? { errorClass: entry.errorClass } : {}),
  });
  // Also on a redelivery (added = false): the month's spend dedupes on the line id itself.
  if (entry.costUsd > 0) await deps.recordSpend(msg.tenantId, entry.costUsd, `${msg.jobId}-${line}`);
}

/** Appends a finished try to the attempt and clears the task in flight. */
async function recordTry(
  deps: RenderDeps,
  msg: RenderRequest,
  outcome: { vendorTaskId?: string; outcome: RenderTry['outcome']; costUsd: number; error?: BackendError },
  eventType: string,
  patch: (a: ShotAttempt) => Partial<ShotAttempt> = () => ({}),
): Promise<ShotAttempt | null> {
  const key = String(msg.attempt);
  const entry: RenderTry = {
    backend: deps.backend.name,
    model: deps.backend.model,
    ...(outcome.vendorTaskId ? { vendorTaskId: outcome.vendorTaskId } : {}),
    outcome: outcome.outcome,
    ...(outcome.error
      ? { errorClass: outcome.error.class, code: outcome.error.code, message: outcome.error.message }
      : {}),
    costUsd: outcome.costUsd,
    at: Timestamp.now(),
  };
  const result = await deps.jobs.transitionShot(msg.jobId, msg.shotId, 'RENDERING', 'RENDERING', (s) => {
    const { vendorTaskId: _task, submittedAt: _at, ...rest } = s.attempts[key]!;
    const seen = (rest.tries ?? []).some((t) => t.vendorTaskId && t.vendorTaskId === entry.vendorTaskId);
    const tries = seen ? (rest.tries ?? []) : [...(rest.tries ?? []), entry];
    return { attempts: { ...s.attempts, [key]: { ...rest, tries, costUsd: sumCost(tries), ...patch(rest) } } };
  });
  await ledger(deps, msg, entry);
  await deps.jobs.appendEvent(msg.jobId, {
    key: `shot-${msg.shotId}-a${msg.attempt}-${eventType}-${entry.vendorTaskId ?? Date.now()}`,
    type: eventType,
    data: {
      shotId: msg.shotId,
      attempt: msg.attempt,
      backend: entry.backend,
      ...(outcome.error
        ? { class: outcome.error.class, code: outcome.error.code, message: outcome.error.message }
        : {}),
      costUsd: entry.costUsd,
    },
  });
  return result.value?.attempts[key] ?? null;
}

/**
 * Applies the fallback policy to a failed vendor task. Returns the attempt to continue with
 * (retry here), or null when the attempt left this worker (fallback) or the shot failed.
 */
async function onFailure(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  taskId: string | undefined,
  error: BackendError,
  log: Log,
): Promise<ShotAttempt | null> {
  const costUsd =
    error.charged && taskId
      ? deps.price(deps.backend.name, deps.backend.model, msg.spec, { outputSeconds: msg.spec.durationSeconds })
      : 0;
  const after = await recordTry(
    deps,
    msg,
    { ...(taskId ? { vendorTaskId: taskId } : {}), outcome: 'failed', costUsd, error },
    'render.failed',
  );
  const tries = after?.tries ?? [];
  const decision = decide({
    policy: deps.policy,
    backend: deps.backend.name,
    error,
    triesHere: tries.filter((t) => t.backend === deps.backend.name).length,
    tried: [...new Set(tries.map((t) => t.backend))],
    // A backend that cannot make this shot's length is no fallback for it (Veo: 4/6/8 s only).
    allowed: presetOf(job.preset).allowedBackends.filter((b) =>
      isAllowedDuration(b, msg.spec.durationSeconds, msg.spec.fps),
    ),
  });
  await deps.jobs.appendEvent(msg.jobId, {
    key: `shot-${msg.shotId}-a${msg.attempt}-decision-${tries.length}`,
    type: 'render.decision',
    data: {
      shotId: msg.shotId,
      attempt: msg.attempt,
      backend: deps.backend.name,
      action: decision.action,
      to: decision.to,
      delayMs: decision.delayMs,
      why: decision.why,
    },
  });
  log.warn('vendor task failed', {
    taskId,
    class: error.class,
    code: error.code,
    action: decision.action,
    to: decision.to,
  });

  if (decision.action === 'retry') {
    await sleep(decision.delayMs ?? 0, undefined, { signal: deps.shutdown }).catch(() => undefined);
    if (deps.shutdown.aborted) throw new RetryableError('render worker is shutting down during a backoff');
    return after;
  }
  if (decision.action === 'fallback' && decision.to) {
    await handOver(deps, msg, decision.to);
    return null;
  }
  const key = String(msg.attempt);
  await deps.jobs.transitionShot(msg.jobId, msg.shotId, 'RENDERING', 'FAILED', (s) => ({
    attempts: {
      ...s.attempts,
      [key]: {
        ...s.attempts[key]!,
        status: 'FAILED',
        error: `${error.class}: ${error.message}`,
        finishedAt: Timestamp.now(),
      },
    },
  }));
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

/** Moves the attempt to the next backend and sends it there; that pool's handler takes it from here. */
async function handOver(deps: RenderDeps, msg: RenderRequest, to: BackendName): Promise<void> {
  const key = String(msg.attempt);
  const moved = await deps.jobs.transitionShot(
    msg.jobId,
    msg.shotId,
    'RENDERING',
    'RENDERING',
    (s) => {
      const a = s.attempts[key]!;
      if (a.backend !== deps.backend.name) return {};
      const { vendorTaskId: _task, submittedAt: _at, ...rest } = a;
      return { backend: to, spec: specFor(to, s.spec), attempts: { ...s.attempts, [key]: { ...rest, backend: to } } };
    },
    {
      key: `shot-${msg.shotId}-a${msg.attempt}-fallback-${deps.backend.name}-${to}`,
      type: 'render.fallback',
      data: { shotId: msg.shotId, attempt: msg.attempt, from: deps.backend.name, to },
    },
  );
  if (moved.value?.attempts[key]?.backend !== to) return;
  await deps.publisher.publish(renderTopicFor(to), { ...msg, v: 1, spec: moved.value.spec });
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
