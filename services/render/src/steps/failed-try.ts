import { Timestamp } from '@google-cloud/firestore';
import { PermanentError, presetOf, type BackendName, type RenderRequest, type ShotSpec } from '@aiprod/contracts';
import {
  renderRequestFor,
  type AttemptRef,
  type Job,
  type NextStep,
  type RenderTry,
  type ShotAttempt,
} from '@aiprod/job-store';
import type { Log } from '@aiprod/pubsub';
import { isAllowedDuration, modelCapability, requiresImage } from '@aiprod/vendor-catalogue';
import { recordFallback } from '../render-metrics';
import type { RenderDeps } from '../app';
import type { BackendError } from '../backends/backend';
import type { AttemptEnd } from './attempt-end';
import { decide, type Decision } from './policy';
import { modelOf, preferredTargets, recordReferenceDrop } from './reference-routing';

/**
 * Applies the fallback policy to a failed try whose spend is already in the ledger: the try and
 * the decision are stored in one transaction (a crash cannot forget the decision), then acted on.
 * Returns the attempt to go on with (retry here), or how this delivery ends.
 */
export async function onFailure(
  deps: RenderDeps,
  msg: RenderRequest,
  job: Job,
  ref: AttemptRef,
  current: ShotAttempt,
  failed: { entry: RenderTry; error: BackendError; taskId?: string },
  log: Log,
): Promise<ShotAttempt | AttemptEnd> {
  const { error, entry, taskId } = failed;
  const tries = [...(current.tries ?? []), entry];
  const decision: Decision = decide({
    policy: deps.policy,
    backend: ref.backend,
    error,
    triesHere: tries.filter((t) => t.backend === ref.backend).length,
    tried: [...new Set(tries.map((t) => t.backend))],
    allowed: allowedTargets(deps, job, msg),
    prefer: (left) => preferredTargets(deps, msg.spec, left),
  });
  const next: NextStep =
    decision.action === 'retry'
      ? { kind: 'retry', notBefore: Timestamp.fromMillis(Date.now() + (decision.delayMs ?? 0)) }
      : decision.action === 'fallback' && decision.to
        ? {
            kind: 'hand_over',
            to: decision.to,
            spec: (spec) => specFor(decision.to!, spec, modelOf(deps, decision.to!)),
          }
        : { kind: 'fail', error: `${error.class}: ${error.message}` };
  const after = await deps.attempts.settleTry(ref, { entry, ...(taskId ? { taskId } : {}) }, next);
  if (!after) {
    log.info('the attempt moved on meanwhile; nothing more to do here');
    return 'lease_lost';
  }
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
  if (next.kind === 'retry') return after.attempts[String(ref.attempt)]!;
  if (next.kind === 'hand_over') {
    await recordReferenceDrop(
      deps,
      msg,
      {
        to: next.to,
        triesSoFar: tries.length,
        kind: 'fallback',
      },
      log,
    );
    recordFallback(ref.backend, next.to);
    const request = renderRequestFor(job, after);
    await deps.publisher.publish(request.topic, request.message);
    return 'finished';
  }
  throw new PermanentError(
    'render_failed',
    `shot ${msg.shotId} could not be rendered: ${decision.why}: ${error.message}`,
  );
}

/**
 * Where this shot may go next: only backends this deployment runs a pool for, whose model (as
 * BACKEND_MODELS configures it) can make this shot's length (Veo: 4/6/8 s), and that does not
 * require an image the shot does not carry (Runway gen4_turbo).
 */
export function allowedTargets(deps: RenderDeps, job: Job, msg: RenderRequest): BackendName[] {
  const hasImage = (msg.spec.references ?? []).length > 0;
  return presetOf(job.preset).allowedBackends.filter((b) => {
    const model = modelOf(deps, b);
    return (
      deps.deployedBackends.includes(b) &&
      isAllowedDuration(b, msg.spec.durationSeconds, msg.spec.fps, model) &&
      (hasImage || !requiresImage(b, model))
    );
  });
}

/** The shot as the next backend can make it: no vendor sound asked of a backend that has none. */
export function specFor(to: BackendName, spec: ShotSpec, model?: string): ShotSpec {
  if (!spec.audio || modelCapability(to, model).nativeAudio) return spec;
  const { audio: _audio, ...silent } = spec;
  return silent;
}
