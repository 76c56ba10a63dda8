import type { BackendName, RenderRequest, ShotSpec } from '@aiprod/contracts';
import type { Log } from '@aiprod/pubsub';
import { DEFAULT_MODELS, shotNeedsImage, takesImage } from '@aiprod/vendor-catalogue';
import type { RenderDeps } from '../app';

/** The model a backend's pool runs: this pool's own, else the shared configuration (BACKEND_MODELS). */
export function modelOf(deps: Pick<RenderDeps, 'backend' | 'models'>, backend: BackendName): string {
  if (backend === deps.backend.name) return deps.backend.model;
  return deps.models?.[backend] ?? DEFAULT_MODELS[backend];
}

/**
 * Of the backends a shot may go to next (in the policy's order), those to prefer: for a shot that
 * needs its product image, the ones whose model takes an image, when any does; otherwise all.
 */
export function preferredTargets(
  deps: Pick<RenderDeps, 'backend' | 'models'>,
  spec: ShotSpec,
  chain: readonly BackendName[],
): BackendName[] {
  if (!shotNeedsImage(spec)) return [...chain];
  const able = chain.filter((b) => takesImage(b, modelOf(deps, b)));
  return able.length ? able : [...chain];
}

/**
 * When a shot carrying reference images is handed to a pool whose model takes no image, the
 * timeline says so, with why, before that pool's create: the images are dropped by a recorded
 * decision, never silently. Keyed by the hand-over, so a redelivery records it once.
 */
export async function recordReferenceDrop(
  deps: RenderDeps,
  msg: RenderRequest,
  handover: { to: BackendName; triesSoFar: number; kind: 'fallback' | 'busy' },
  log: Log,
): Promise<void> {
  const references = msg.spec.references ?? [];
  const model = modelOf(deps, handover.to);
  if (!references.length || takesImage(handover.to, model)) return;
  // preferredTargets chose it, so for a shot that needs its image no better one was left.
  const why = !shotNeedsImage(msg.spec)
    ? "the shot's references are brand or style images only, which do not choose the backend"
    : handover.kind === 'fallback'
      ? `no backend left in ${deps.backend.name}'s fallback chain that this deployment runs takes one`
      : `no backend of ${deps.backend.name}'s chain with room takes one`;
  const reason = `${handover.to} (${model}) takes no image; ${why}`;
  await deps.jobs.appendEvent(msg.jobId, {
    key: `shot-${msg.shotId}-a${msg.attempt}-reference-dropped-${handover.triesSoFar}`,
    type: 'render.reference_dropped',
    data: {
      shotId: msg.shotId,
      attempt: msg.attempt,
      from: deps.backend.name,
      to: handover.to,
      model,
      references: references.map((r) => r.id),
      reason,
    },
  });
  log.warn('reference images dropped on hand-over', { to: handover.to, model, reason });
}
