import { isLeaseFresh, renderRequestFor, type Shot } from '@aiprod/job-store';
import type { RenderDeps } from '../app';

/** The sweep runs twice per lease TTL, but never more than once a second (tiny test TTLs). */
const MIN_SWEEP_INTERVAL_MS = 1_000;

/** A shot waiting to start this long without moving has most likely lost its message. */
const WAITING_TTLS = 3;

/**
 * A dead worker's work resumes within a bound, whatever Pub/Sub does with the messages it held
 * (the emulator goes on offering them to the dead stream; Pub/Sub waits for the last lease
 * extension to run out). Every pool sweeps its own backend's shots and re-sends the render request
 * of:
 *   - a RENDERING attempt whose lease is stale and that has not moved for a TTL (its holder died);
 *   - a shot of a RENDERING job still waiting to start (PENDING, or REJECTED for a retake) that has
 *     not moved for three TTLs (its request was handed to a worker that died before claiming it).
 * A re-sent request is a duplicate at worst: claims dedupe it. Each shot is re-sent at most once
 * per TTL (the sweep marks it).
 */
export async function resendStaleAttempts(deps: RenderDeps, now = Date.now()): Promise<number> {
  const snap = await deps.db
    .collectionGroup('shots')
    .where('backend', '==', deps.backend.name)
    .where('status', 'in', ['PENDING', 'REJECTED', 'RENDERING'])
    // Least recently touched first: the ones most likely to be stale are never crowded out.
    .orderBy('updatedAt')
    .limit(200)
    .get();
  let resent = 0;
  for (const doc of snap.docs) {
    const shot = doc.data() as Shot;
    const idleMs = now - shot.updatedAt.toMillis();
    const attempt = shot.attempts[String(shot.attempt)];
    if (shot.status === 'RENDERING') {
      if (!attempt || attempt.status !== 'RENDERING' || attempt.backend !== deps.backend.name) continue;
      if (isLeaseFresh(attempt, now) || idleMs < deps.lease.ttlMs) continue;
    } else if (idleMs < WAITING_TTLS * deps.lease.ttlMs) continue;
    const job = await deps.jobs.getJob(shot.jobId);
    if (!job) continue;
    // A RENDERING attempt is re-sent whatever the job's state: in a finished job the request
    // cancels a vendor task that may still bill, books a create a crash cut off, or (neither)
    // closes the attempt, so no shot stays RENDERING for good (DELETE of the job waits for that).
    // A waiting shot starts only in a RENDERING job (not before approval).
    if (shot.status !== 'RENDERING' && job.status !== 'RENDERING') continue;
    // Marks the shot (updatedAt) so the next sweep waits before sending it again.
    const marked = await deps.jobs.casShot(shot.jobId, shot.shotId, (s) =>
      s.status === shot.status && s.updatedAt.toMillis() === shot.updatedAt.toMillis() ? { patch: {} } : null,
    );
    if (!marked.changed) continue;
    const request = renderRequestFor(job, shot);
    await deps.publisher.publish(request.topic, request.message);
    await deps.jobs.appendEvent(shot.jobId, {
      key: `shot-${shot.shotId}-a${shot.attempt}-resumed-${now}`,
      type: 'render.resumed',
      data: { shotId: shot.shotId, attempt: shot.attempt, backend: deps.backend.name },
    });
    resent += 1;
  }
  return resent;
}

/** Runs the sweep every half TTL until stopped. */
export function startStaleAttemptSweep(deps: RenderDeps): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(
    () => {
      running = resendStaleAttempts(deps).catch((error: unknown) =>
        deps.log.warn('stale-attempt sweep failed', { error }),
      );
    },
    Math.max(MIN_SWEEP_INTERVAL_MS, deps.lease.ttlMs / 2),
  );
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Whether a dead-lettered render request still matters. A killed worker's message can burn its
 * delivery attempts on the dead stream while the stale-attempt sweep has another message resume
 * the same shot; that letter must not fail the job. It is moot when its attempt has moved on
 * (rendered, retaken, handed to another backend) or a live delivery holds it.
 */
export async function renderLetterSuperseded(
  deps: Pick<RenderDeps, 'jobs' | 'backend'>,
  letter: { data: string },
): Promise<string | null> {
  let body: { jobId?: unknown; shotId?: unknown; attempt?: unknown };
  try {
    body = JSON.parse(letter.data) as typeof body;
  } catch {
    return null;
  }
  if (typeof body.jobId !== 'string' || typeof body.shotId !== 'string' || typeof body.attempt !== 'number')
    return null;
  const shot = await deps.jobs.getShot(body.jobId, body.shotId);
  if (!shot) return null;
  if (shot.attempt !== body.attempt) return `the shot is on attempt ${shot.attempt}`;
  if (shot.status === 'RENDERED' || shot.status === 'PASSED') return 'the attempt was rendered by another delivery';
  const attempt = shot.attempts[String(body.attempt)];
  if (attempt?.backend && attempt.backend !== deps.backend.name) return `the attempt moved to ${attempt.backend}`;
  if (shot.status === 'RENDERING' && isLeaseFresh(attempt)) return 'another delivery is rendering the attempt';
  return null;
}
