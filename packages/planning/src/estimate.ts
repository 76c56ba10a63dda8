import {
  BACKENDS,
  briefReferences,
  presetOf,
  tierRank,
  type BackendName,
  type Brief,
  type JobEstimate,
  type Preset,
  type QualityTier,
  type ShotPlan,
} from '@aiprod/contracts';
import {
  assignBackends,
  audioFor,
  buildEstimate,
  cutSeconds,
  estimateContext,
  feasibleShotCounts,
  priceOn,
  priceShot,
  requiresImage,
  resolveModels,
  shotNeedsImage,
  snapDuration,
  takesImage,
  tierOf,
  totalUsd,
  type AssignedShots,
  type EstimateContext,
  type EstimateOptions,
  type PriceTable,
} from '@aiprod/vendor-catalogue';
import { planLocally } from './director/local';
import { FRAME_SIZES } from './shaping';

export interface PlannedBackends {
  /** The plan with each shot's length refitted to the backend chosen for it. */
  plan: ShotPlan;
  backends: BackendName[];
  estimate: JobEstimate;
}

/**
 * What the live capacity board said when the plan was made (read once, before planning): per
 * backend, whether it had room and a line saying why. A backend absent from it is not known and
 * is never moved from or to. Planning with the same snapshot gives the same plan.
 */
export type CapacitySnapshot = Partial<Record<BackendName, { hasRoom: boolean; summary: string }>>;

export interface PlanBackendsOptions extends EstimateOptions {
  /** Prefer a backend with room over a planned one without (`PLANNER_PREFER_BACKENDS_WITH_ROOM`). */
  capacity?: CapacitySnapshot;
  /**
   * Per shot, whether it needs its product reference image sent to the vendor (see shotNeedsImage);
   * default: read from each shot's `references`. A director's plan carries none yet (the stored
   * copies are attached after planning), so the planner passes what the brief asks for.
   */
  needsImage?: readonly boolean[];
}

/**
 * What each backend's model means for one shot: `fits` — it may be chosen at all (a model that
 * requires an image never gets a shot without one); `serves` — it meets the shot's need for an
 * image (any model serves a shot that needs none).
 */
interface ShotNeeds {
  fits(b: BackendName, i: number): boolean;
  serves(b: BackendName, i: number): boolean;
}

function shotNeeds(ctx: EstimateContext, needs: readonly boolean[]): ShotNeeds {
  return {
    fits: (b, i) => needs[i] === true || !requiresImage(b, ctx.models[b]),
    serves: (b, i) => needs[i] !== true || takesImage(b, ctx.models[b]),
  };
}

/**
 * Each shot whose chosen backend has no room now goes to the cheapest usable backend of the same
 * or a better tier that has room (preset order breaking ties), with the reason; without one, it
 * stays where it was (busy is not failed: it waits its turn there).
 */
function preferRoom(
  ctx: EstimateContext,
  plan: ShotPlan,
  chosen: BackendName[],
  capacity: CapacitySnapshot,
  needs: ShotNeeds,
): { backends: BackendName[]; moves: Map<number, string> } {
  const moves = new Map<number, string>();
  const backends = chosen.map((b, i) => {
    const here = capacity[b];
    if (!here || here.hasRoom) return b;
    const seconds = plan.shots[i]!.durationSeconds;
    const alt = ctx.usable
      .filter((a) => a !== b && capacity[a]?.hasRoom && tierRank(tierOf(a)) >= tierRank(tierOf(b)))
      // Room is never bought with the product's image: a shot keeps a model that can take it.
      .filter((a) => needs.fits(a, i) && (needs.serves(a, i) || !needs.serves(b, i)))
      .map((a) => ({ a, usd: priceOn(ctx, plan, a, snapDuration(a, seconds, plan.fps, ctx.models[a])) }))
      .sort(
        (x, y) => x.usd - y.usd || ctx.preset.backendOrder.indexOf(x.a) - ctx.preset.backendOrder.indexOf(y.a),
      )[0]?.a;
    if (!alt) return b;
    moves.set(
      i,
      `${plan.shots[i]!.shotId}: ${b} had no room (${here.summary}); on ${alt} instead, which had (${capacity[alt]!.summary})`,
    );
    return alt;
  });
  return { backends, moves };
}

/**
 * The cheapest usable backend meeting `tier` for a shot, preset order breaking ties; for a shot
 * that needs an image, the cheapest whose model takes one when any does.
 */
function cheapestOfTier(
  ctx: EstimateContext,
  plan: ShotPlan,
  index: number,
  minTier: QualityTier,
  needs: ShotNeeds,
): BackendName | undefined {
  const seconds = plan.shots[index]!.durationSeconds;
  const ranked = ctx.usable
    .filter((b) => tierRank(tierOf(b)) >= tierRank(minTier) && needs.fits(b, index))
    .map((b) => ({ b, usd: priceOn(ctx, plan, b, snapDuration(b, seconds, plan.fps, ctx.models[b])) }))
    .sort((x, y) => x.usd - y.usd || ctx.preset.backendOrder.indexOf(x.b) - ctx.preset.backendOrder.indexOf(y.b));
  return (ranked.find((r) => needs.serves(r.b, index)) ?? ranked[0])?.b;
}

/**
 * Per shot that needs an image and is planned on a model that takes none, why (for the shot's
 * estimate and the plan's notes): the downgrade is planned, never silent.
 */
function referenceNotes(
  ctx: EstimateContext,
  plan: ShotPlan,
  backends: readonly BackendName[],
  needs: ShotNeeds,
): Map<number, string> {
  const notes = new Map<number, string>();
  backends.forEach((b, i) => {
    if (needs.serves(b, i)) return;
    const able = ctx.usable.filter((a) => needs.serves(a, i) && needs.fits(a, i));
    const why = able.length
      ? `the backends whose models take one (${able.map((a) => `${a} ${ctx.models[a]}`).join(', ')}) do not fit this plan's lengths or budget`
      : `no backend the ${ctx.preset.name} preset allows and this deployment runs takes one`;
    notes.set(
      i,
      `${plan.shots[i]!.shotId}: the product reference image is not sent: ${b} (${ctx.models[b]}) takes no image and ${why}; the product is described in words only`,
    );
  });
  return notes;
}

/**
 * Chooses a backend per shot and prices the plan. Each shot goes to the cheapest allowed (and
 * deployed) backend of the preset's quality tier; when none is deployed, to the best one that is
 * (recorded). When the worst case is over the budget cap, shots move one at a time to backends
 * with a cheaper worst case no lower than the preset's minimum tier, biggest saving first, each
 * move recorded; when even that is not enough the estimate carries a refusal. The shots' lengths are refitted to their backends each time.
 */
export function planBackends(plan: ShotPlan, options: PlanBackendsOptions): PlannedBackends {
  const ctx = estimateContext(options);
  const target =
    options.targetSeconds ??
    cutSeconds(
      plan.shots.map((s) => s.durationSeconds),
      plan.endCardSeconds,
      plan.transition.durationSeconds,
    );
  const notes: string[] = [];
  if (!ctx.usable.length) throw new Error(`no backend of preset ${ctx.preset.name} is enabled`);
  const degraded = new Map<number, { from: BackendName; reason: string }>();
  const needs = shotNeeds(ctx, options.needsImage ?? plan.shots.map(shotNeedsImage));

  let backends = plan.shots.map((_, i) => {
    const choice = cheapestOfTier(ctx, plan, i, ctx.preset.qualityTier, needs);
    if (choice) return choice;
    const ranked = ctx.usable.filter((b) => needs.fits(b, i)).sort((a, b) => tierRank(tierOf(b)) - tierRank(tierOf(a)));
    const best = ranked.find((b) => needs.serves(b, i)) ?? ranked[0];
    if (!best) throw new Error(`every backend of preset ${ctx.preset.name} enabled here needs an image the shot lacks`);
    return best;
  });
  const ofTier = (b: BackendName) => tierRank(tierOf(b)) >= tierRank(ctx.preset.qualityTier);
  const needImage = ctx.usable.filter((b) => ofTier(b) && requiresImage(b, ctx.models[b]));
  if (!backends.some(ofTier) && needImage.length) {
    notes.push(
      `no ${ctx.preset.qualityTier} backend is enabled here that can make these shots ` +
        `(${needImage.map((b) => `${b} ${ctx.models[b]}`).join(', ')} requires an image they do not carry); ` +
        `using ${backends[0]}`,
    );
  } else if (!backends.some(ofTier)) {
    notes.push(
      `no ${ctx.preset.qualityTier} backend is enabled here (enabled: ${ctx.usable.join(', ')}); ` +
        `using ${backends[0]}`,
    );
  }
  let first = assignBackends(ctx, plan, backends, target);
  if (options.capacity) {
    // Only when the plan still fits and stays within the budget cap: room is a preference, never a cost.
    const roomy = preferRoom(ctx, plan, backends, options.capacity, needs);
    const moved = roomy.moves.size ? assignBackends(ctx, plan, roomy.backends, target) : undefined;
    const cap = options.budgetCapUsd;
    if (moved?.ok && (cap === undefined || totalUsd(moved.shots, 'worstCaseUsd') <= cap)) {
      backends = roomy.backends;
      first = moved;
      notes.push(...roomy.moves.values());
    }
  }
  let current: AssignedShots;
  if (first.ok) current = first;
  else {
    // Mixed lengths that do not add up: every shot on the backend the plan was shaped for, which fits.
    notes.push(`${first.why}; every shot on ${plan.fittedFor} instead`);
    backends = plan.shots.map(() => plan.fittedFor);
    const again = assignBackends(ctx, plan, backends, target);
    if (!again.ok) throw new Error(`the plan does not fit its own backend: ${again.why}`);
    current = again;
  }

  // The cap is a promise never to spend more, so it is compared with the worst case: every vendor
  // task the plan could run, billed (docs/decisions/2026-12-budget-caps.md).
  const cap = options.budgetCapUsd;
  let refusal: string | undefined;
  if (cap !== undefined) {
    for (
      let step = 0;
      step < plan.shots.length * BACKENDS.length && totalUsd(current.shots, 'worstCaseUsd') > cap;
      step++
    ) {
      let best: { i: number; b: BackendName; saving: number; next: AssignedShots } | undefined;
      // Moves that keep each shot's image first; a move that loses one only when none is left.
      for (const losing of [false, true]) {
        for (let i = 0; i < backends.length; i++) {
          for (const b of ctx.usable) {
            if (tierRank(tierOf(b)) < tierRank(ctx.preset.minQualityTier) || b === backends[i]) continue;
            if (!needs.fits(b, i) || (!losing && !needs.serves(b, i) && needs.serves(backends[i]!, i))) continue;
            const trial = [...backends];
            trial[i] = b;
            const next = assignBackends(ctx, plan, trial, target);
            if (!next.ok) continue;
            const saving = totalUsd(current.shots, 'worstCaseUsd') - totalUsd(next.shots, 'worstCaseUsd');
            if (saving > 1e-9 && (!best || saving > best.saving + 1e-9)) best = { i, b, saving, next };
          }
        }
        if (best) break;
      }
      if (!best) break;
      degraded.set(best.i, {
        from: degraded.get(best.i)?.from ?? backends[best.i]!,
        reason: `budget cap ${cap} USD: moved to the cheaper ${best.b}`,
      });
      backends[best.i] = best.b;
      current = best.next;
    }
    const worst = totalUsd(current.shots, 'worstCaseUsd');
    if (worst > cap) {
      refusal =
        `the cheapest plan the ${ctx.preset.name} preset allows (tier ${ctx.preset.minQualityTier} or better) ` +
        `could cost up to ${worst.toFixed(2)} USD in the worst case (every attempt and fallback billed; ` +
        `expected ${totalUsd(current.shots, 'expectedUsd').toFixed(2)} USD), above the budget cap of ${cap} USD`;
    }
  }

  const fitted = current;
  const unsent = referenceNotes(ctx, plan, backends, needs);
  if (unsent.size) {
    const ids = [...unsent.keys()].map((i) => plan.shots[i]!.shotId);
    notes.push(`the product reference image is not sent for shot(s) ${ids.join(', ')}: see each shot's referenceNote`);
  }
  const shots = fitted.shots.map((s, i) => ({
    ...s,
    ...(degraded.has(i) ? { degraded: degraded.get(i)! } : {}),
    ...(unsent.has(i) ? { referenceNote: unsent.get(i)! } : {}),
  }));
  const refitted: ShotPlan = {
    ...plan,
    endCardSeconds: fitted.endCardSeconds,
    shots: plan.shots.map((s, i) => ({ ...s, durationSeconds: fitted.durations[i]! })),
  };
  const estimate = buildEstimate(ctx, plan, shots, { cutSeconds: fitted.cutSeconds, target, cap, refusal, notes });
  return { plan: refitted, backends, estimate };
}

/** The estimate for a plan: per shot and per job, with expected retakes and the priced fallback chain. */
export function estimatePlan(plan: ShotPlan, options: PlanBackendsOptions): JobEstimate {
  return planBackends(plan, options).estimate;
}

/** Whether the brief's shots will carry a product reference image (see shotNeedsImage). */
export const briefNeedsImage = (brief: Brief): boolean => briefReferences(brief).some((r) => r.role === 'product');

/**
 * The backend a plan should be shaped for: the cheapest allowed, deployed backend of the preset's
 * tier that can make the brief's length at all (Veo's 4–8 s clips cannot make a 5 s cut of three
 * shots); when none of that tier can, the best tier that can, with the reason. When the shots need
 * an image, one whose model takes an image is preferred; a model that requires one is considered
 * only then.
 */
export function primaryBackend(
  brief: Brief,
  preset: Preset,
  options: {
    enabledBackends?: readonly BackendName[];
    models?: Partial<Record<BackendName, string>>;
    prices?: PriceTable;
    /** Default: whether the brief has a product reference. */
    needsImage?: boolean;
  } = {},
): { backend: BackendName; model: string; degradedReason?: string } {
  const enabled = options.enabledBackends ?? BACKENDS;
  const models = resolveModels(options.models);
  const needsImage = options.needsImage ?? briefNeedsImage(brief);
  // Image-taking models first (a stable sort keeps price order within each group).
  const imageFirst = <T extends { b: BackendName }>(xs: T[]) =>
    needsImage
      ? [...xs].sort((x, y) => Number(takesImage(y.b, models[y.b])) - Number(takesImage(x.b, models[x.b])))
      : xs;
  const [width, height] = FRAME_SIZES[brief.aspectRatios[0]!];
  const range = { min: Math.max(3, preset.shotCount.min), max: Math.min(8, preset.shotCount.max) };
  const candidates = preset.allowedBackends
    .filter((b) => enabled.includes(b) && (needsImage || !requiresImage(b, models[b])))
    .filter((b) => feasibleShotCounts(b, brief.durationSeconds, range, undefined, models[b]).length > 0)
    .map((b) => ({
      b,
      perSecond: priceShot({ width, height, durationSeconds: 1 }, b, {
        model: models[b],
        audio: audioFor(b, preset, models[b]),
        ...(options.prices ? { prices: options.prices } : {}),
      }),
    }))
    .sort((x, y) => x.perSecond - y.perSecond || preset.backendOrder.indexOf(x.b) - preset.backendOrder.indexOf(y.b));
  const ofTier = imageFirst(candidates).find((c) => tierRank(tierOf(c.b)) >= tierRank(preset.qualityTier));
  if (ofTier) return { backend: ofTier.b, model: models[ofTier.b] };
  const best = imageFirst([...candidates].sort((x, y) => tierRank(tierOf(y.b)) - tierRank(tierOf(x.b))))[0];
  if (!best) {
    throw new Error(`no backend allowed by ${preset.name} is enabled and can make a ${brief.durationSeconds} s cut`);
  }
  return {
    backend: best.b,
    model: models[best.b],
    degradedReason: `no ${preset.qualityTier} backend enabled here can make a ${brief.durationSeconds} s cut; using ${best.b}`,
  };
}

/**
 * The estimate POST /v1/estimates answers: the local director's structure for the brief, priced.
 * Pure and synchronous (no Gemini, no I/O), so a quote never waits on a vendor.
 */
export function estimateBrief(
  brief: Brief,
  options: {
    budgetCapUsd?: number;
    enabledBackends?: readonly BackendName[];
    models?: Partial<Record<BackendName, string>>;
  } = {},
): JobEstimate {
  const preset = presetOf(brief.preset);
  const primary = primaryBackend(brief, preset, options);
  const plan = planLocally(brief, { preset, backend: primary.backend, model: primary.model });
  const cap = options.budgetCapUsd ?? brief.budgetCapUsd;
  const estimate = estimatePlan(plan, {
    preset,
    targetSeconds: brief.durationSeconds,
    needsImage: plan.shots.map(() => briefNeedsImage(brief)),
    ...(options.models ? { models: options.models } : {}),
    ...(cap !== undefined ? { budgetCapUsd: cap } : {}),
    ...(options.enabledBackends ? { enabledBackends: options.enabledBackends } : {}),
  });
  // When the tier is simply not deployed, planBackends has said so already; say it once.
  const said = estimate.notes.some((n) => n.startsWith(`no ${preset.qualityTier} backend is enabled`));
  return primary.degradedReason && !said
    ? { ...estimate, notes: [primary.degradedReason, ...estimate.notes] }
    : estimate;
}
