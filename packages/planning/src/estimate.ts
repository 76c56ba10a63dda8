import { Type, type Static } from '@sinclair/typebox';
import {
  Backend,
  BACKENDS,
  DEFAULT_FALLBACK_POLICY,
  PresetName,
  ShotId,
  Strict,
  fallbackChain,
  presetOf,
  tierRank,
  type BackendName,
  type Brief,
  type FallbackPolicy,
  type Preset,
  type QualityTier,
} from '@aiprod/contracts';
import { BACKEND_CAPABILITIES, DEFAULT_MODELS, isAllowedDuration, resolutionFor, snapDuration } from './backends';
import { cutSeconds, fitDurations, feasibleShotCounts } from './durations';
import { planLocally } from './director/local';
import type { ShotPlan } from './plan';
import { PRICE_TABLE, priceShot, roundUsd, type PriceTable } from './pricing';
import { FRAME_SIZES } from './shaping';

/**
 * The share of render attempts assumed to need another take (a QA rejection or a vendor
 * failure that is retried). An assumption until the cost ledger measures it; see
 * docs/decisions/2026-11-price-table-and-estimates.md.
 */
export const ASSUMED_RETAKE_RATE = 0.25;

const Tier = Type.Union([
  Type.Literal('animatic'),
  Type.Literal('basic'),
  Type.Literal('standard'),
  Type.Literal('premium'),
]);
const Usd = Type.Number({ minimum: 0 });

const ChainStepSchema = Strict({
  backend: Backend,
  model: Type.String(),
  durationSeconds: Type.Number(),
  attempts: Type.Integer({ minimum: 1 }),
  attemptUsd: Usd,
});

export const ShotEstimateSchema = Strict({
  shotId: ShotId,
  purpose: Type.String(),
  durationSeconds: Type.Number(),
  backend: Backend,
  model: Type.String(),
  tier: Tier,
  resolution: Type.String(),
  audio: Type.Boolean(),
  /** One attempt, priced. */
  firstAttemptUsd: Usd,
  /** With the expected retakes (ASSUMED_RETAKE_RATE, bounded by the preset's maxAttempts). */
  expectedUsd: Usd,
  /** Upper bound: every attempt the preset allows fails on every backend of the chain, and each is billed. */
  worstCaseUsd: Usd,
  /**
   * The shot's backend, then the fallbacks the render pools may use for it (the policy's order,
   * only backends the preset allows, this deployment runs and that make the shot's length), each
   * priced per attempt.
   */
  fallbackChain: Type.Array(ChainStepSchema),
  degraded: Type.Optional(Strict({ from: Backend, reason: Type.String() })),
});
export type ShotEstimate = Static<typeof ShotEstimateSchema>;

export const BackendAlternativeSchema = Strict({
  backend: Backend,
  model: Type.String(),
  tier: Tier,
  allowedByPreset: Type.Boolean(),
  feasible: Type.Boolean(),
  why: Type.Optional(Type.String()),
  shots: Type.Optional(Type.Integer()),
  firstPassUsd: Type.Optional(Usd),
  expectedUsd: Type.Optional(Usd),
  worstCaseUsd: Type.Optional(Usd),
});
export type BackendAlternative = Static<typeof BackendAlternativeSchema>;

/** What POST /v1/estimates answers and what the planner stores with a plan. */
export const JobEstimateSchema = Strict({
  priceTableVersion: Type.String(),
  currency: Type.Literal('USD'),
  pricesAreEstimates: Type.Boolean(),
  preset: PresetName,
  qualityTier: Tier,
  director: Type.String(),
  cutSeconds: Type.Number(),
  shots: Type.Array(ShotEstimateSchema),
  /** Every shot rendered once. */
  firstPassUsd: Usd,
  /** With expected retakes: the figure compared with the tenant's auto-approve limit. */
  totalUsd: Usd,
  /** Every vendor task the plan could run, billed: the figure compared with the budget cap. */
  worstCaseUsd: Usd,
  budgetCapUsd: Type.Optional(Usd),
  /** With a cap: which figure was compared with it (the worst case, so the cap is never passed). */
  budgetComparedWith: Type.Optional(Type.Literal('worstCaseUsd')),
  /** worstCaseUsd ≤ budgetCapUsd, or no cap. */
  withinBudget: Type.Boolean(),
  /** Why the plan cannot be made within the budget cap, when it cannot: both amounts, named. */
  refusal: Type.Optional(Type.String()),
  /** The same shots, every one on one backend: what each option would cost. */
  byBackend: Type.Array(BackendAlternativeSchema),
  assumptions: Strict({ retakeRate: Type.Number(), maxAttempts: Type.Integer(), worstCase: Type.String() }),
  notes: Type.Array(Type.String()),
});
export type JobEstimate = Static<typeof JobEstimateSchema>;

export interface EstimateOptions {
  preset: Preset;
  budgetCapUsd?: number;
  policy?: FallbackPolicy;
  /** The render pools this deployment runs; default all. */
  enabledBackends?: readonly BackendName[];
  /** Model per backend, when configuration overrides the defaults. */
  models?: Partial<Record<BackendName, string>>;
  /** The cut's length to keep to when shots move between backends; default the plan's own. */
  targetSeconds?: number;
  retakeRate?: number;
  prices?: PriceTable;
}

export interface PlannedBackends {
  /** The plan with each shot's length refitted to the backend chosen for it. */
  plan: ShotPlan;
  backends: BackendName[];
  estimate: JobEstimate;
}

const tierOf = (b: BackendName): QualityTier => BACKEND_CAPABILITIES[b].tier;
/** Whether a shot on `b` is asked for the vendor's own sound: the preset wants it and the backend makes it. */
export const audioFor = (b: BackendName, preset: Preset) => preset.nativeAudio && BACKEND_CAPABILITIES[b].nativeAudio;

/** Expected attempts per shot: 1 + r + r² + … up to the preset's maxAttempts. */
const expectedAttempts = (rate: number, maxAttempts: number) =>
  Array.from({ length: maxAttempts }, (_, k) => rate ** k).reduce((a, b) => a + b, 0);

interface Ctx {
  preset: Preset;
  policy: FallbackPolicy;
  models: Record<BackendName, string>;
  prices: PriceTable;
  rate: number;
  usable: BackendName[];
}

function makeCtx(options: EstimateOptions): Ctx {
  const enabled = options.enabledBackends ?? BACKENDS;
  return {
    preset: options.preset,
    policy: options.policy ?? DEFAULT_FALLBACK_POLICY,
    models: { ...DEFAULT_MODELS, ...options.models },
    prices: options.prices ?? PRICE_TABLE,
    rate: options.retakeRate ?? ASSUMED_RETAKE_RATE,
    usable: options.preset.allowedBackends.filter((b) => enabled.includes(b)),
  };
}

const frameOf = (plan: ShotPlan) => ({ width: plan.width, height: plan.height });

function priceOn(ctx: Ctx, plan: ShotPlan, backend: BackendName, seconds: number): number {
  return priceShot({ ...frameOf(plan), durationSeconds: seconds }, backend, {
    model: ctx.models[backend],
    audio: audioFor(backend, ctx.preset),
    prices: ctx.prices,
  });
}

function estimateShot(ctx: Ctx, plan: ShotPlan, index: number, backend: BackendName, seconds: number): ShotEstimate {
  const shot = plan.shots[index]!;
  const maxAttempts = ctx.preset.qa.maxAttempts;
  // The fallbacks a render pool may hand this shot to: deployed, allowed by the preset, and able to
  // make its length (a pool never re-cuts a shot). A backend that cannot take it costs nothing.
  const takers = ctx.usable.filter((b) => isAllowedDuration(b, seconds, plan.fps));
  const chain = [backend, ...fallbackChain(ctx.policy, backend, takers)].map((b) => {
    const d = b === backend ? seconds : snapDuration(b, seconds, plan.fps);
    return {
      backend: b,
      model: ctx.models[b],
      durationSeconds: d,
      attempts: ctx.policy.backends[b].attemptsHere,
      attemptUsd: priceOn(ctx, plan, b, d),
    };
  });
  const first = chain[0]!.attemptUsd;
  return {
    shotId: shot.shotId,
    purpose: shot.purpose,
    durationSeconds: seconds,
    backend,
    model: ctx.models[backend],
    tier: tierOf(backend),
    resolution: resolutionFor(backend, plan.width, plan.height),
    audio: audioFor(backend, ctx.preset),
    firstAttemptUsd: first,
    expectedUsd: roundUsd(first * expectedAttempts(ctx.rate, maxAttempts)),
    worstCaseUsd: roundUsd(maxAttempts * chain.reduce((sum, c) => sum + c.attempts * c.attemptUsd, 0)),
    fallbackChain: chain,
  };
}

const total = (xs: ShotEstimate[], key: 'firstAttemptUsd' | 'expectedUsd' | 'worstCaseUsd') =>
  roundUsd(xs.reduce((sum, s) => sum + s[key], 0));

interface Assigned {
  ok: true;
  durations: number[];
  endCardSeconds: number;
  cutSeconds: number;
  shots: ShotEstimate[];
}

/** Each shot on its backend: the lengths refitted and priced, or why they cannot be. */
function assign(
  ctx: Ctx,
  plan: ShotPlan,
  backends: BackendName[],
  target: number,
): Assigned | { ok: false; why: string } {
  const fit = fitDurations(
    plan.shots.map((s) => s.durationSeconds),
    backends,
    target,
    { fps: plan.fps, transitionSeconds: plan.transition.durationSeconds },
  );
  if (!fit.ok) return fit;
  const shots = backends.map((b, i) => estimateShot(ctx, plan, i, b, fit.durations[i]!));
  return { ...fit, shots };
}

/** The cheapest usable backend meeting `tier` for a shot, preset order breaking ties. */
function cheapestOfTier(ctx: Ctx, plan: ShotPlan, index: number, minTier: QualityTier): BackendName | undefined {
  const seconds = plan.shots[index]!.durationSeconds;
  return ctx.usable
    .filter((b) => tierRank(tierOf(b)) >= tierRank(minTier))
    .map((b) => ({ b, usd: priceOn(ctx, plan, b, snapDuration(b, seconds, plan.fps)) }))
    .sort((x, y) => x.usd - y.usd || ctx.preset.backendOrder.indexOf(x.b) - ctx.preset.backendOrder.indexOf(y.b))[0]?.b;
}

/**
 * Chooses a backend per shot and prices the plan. Each shot goes to the cheapest allowed (and
 * deployed) backend of the preset's quality tier; when none is deployed, to the best one that is
 * (recorded). When the worst case is over the budget cap, shots move one at a time to backends
 * with a cheaper worst case no lower than the preset's minimum tier, biggest saving first, each
 * move recorded; when even that is not enough the estimate carries a refusal. The shots' lengths are refitted to their backends each time.
 */
export function planBackends(plan: ShotPlan, options: EstimateOptions): PlannedBackends {
  const ctx = makeCtx(options);
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

  let backends = plan.shots.map((_, i) => {
    const choice = cheapestOfTier(ctx, plan, i, ctx.preset.qualityTier);
    if (choice) return choice;
    const best = [...ctx.usable].sort((a, b) => tierRank(tierOf(b)) - tierRank(tierOf(a)))[0]!;
    return best;
  });
  if (!backends.some((b) => tierRank(tierOf(b)) >= tierRank(ctx.preset.qualityTier))) {
    notes.push(
      `no ${ctx.preset.qualityTier} backend is enabled here (enabled: ${ctx.usable.join(', ')}); ` +
        `using ${backends[0]}`,
    );
  }
  const first = assign(ctx, plan, backends, target);
  let current: Assigned;
  if (first.ok) current = first;
  else {
    // Mixed lengths that do not add up: every shot on the backend the plan was shaped for, which fits.
    notes.push(`${first.why}; every shot on ${plan.fittedFor} instead`);
    backends = plan.shots.map(() => plan.fittedFor);
    const again = assign(ctx, plan, backends, target);
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
      step < plan.shots.length * BACKENDS.length && total(current.shots, 'worstCaseUsd') > cap;
      step++
    ) {
      let best: { i: number; b: BackendName; saving: number; next: Assigned } | undefined;
      for (let i = 0; i < backends.length; i++) {
        for (const b of ctx.usable) {
          if (tierRank(tierOf(b)) < tierRank(ctx.preset.minQualityTier) || b === backends[i]) continue;
          const trial = [...backends];
          trial[i] = b;
          const next = assign(ctx, plan, trial, target);
          if (!next.ok) continue;
          const saving = total(current.shots, 'worstCaseUsd') - total(next.shots, 'worstCaseUsd');
          if (saving > 1e-9 && (!best || saving > best.saving + 1e-9)) best = { i, b, saving, next };
        }
      }
      if (!best) break;
      degraded.set(best.i, {
        from: degraded.get(best.i)?.from ?? backends[best.i]!,
        reason: `budget cap ${cap} USD: moved to the cheaper ${best.b}`,
      });
      backends[best.i] = best.b;
      current = best.next;
    }
    const worst = total(current.shots, 'worstCaseUsd');
    if (worst > cap) {
      refusal =
        `the cheapest plan the ${ctx.preset.name} preset allows (tier ${ctx.preset.minQualityTier} or better) ` +
        `could cost up to ${worst.toFixed(2)} USD in the worst case (every attempt and fallback billed; ` +
        `expected ${total(current.shots, 'expectedUsd').toFixed(2)} USD), above the budget cap of ${cap} USD`;
    }
  }

  const fitted = current;
  const shots = fitted.shots.map((s, i) => (degraded.has(i) ? { ...s, degraded: degraded.get(i)! } : s));
  const refitted: ShotPlan = {
    ...plan,
    endCardSeconds: fitted.endCardSeconds,
    shots: plan.shots.map((s, i) => ({ ...s, durationSeconds: fitted.durations[i]! })),
  };
  const estimate = buildEstimate(ctx, plan, shots, { cutSeconds: fitted.cutSeconds, target, cap, refusal, notes });
  return { plan: refitted, backends, estimate };
}

/** The estimate of priced shots: totals, the budget verdict, and what every backend alone would cost. */
function buildEstimate(
  ctx: Ctx,
  plan: ShotPlan,
  shots: ShotEstimate[],
  figures: {
    cutSeconds: number;
    target: number;
    cap: number | undefined;
    refusal: string | undefined;
    notes: string[];
  },
): JobEstimate {
  const { target, cap, refusal, notes } = figures;
  const byBackend = BACKENDS.map((b): BackendAlternative => {
    const base = {
      backend: b,
      model: ctx.models[b],
      tier: tierOf(b),
      allowedByPreset: ctx.preset.allowedBackends.includes(b),
    };
    const all = assign(
      ctx,
      plan,
      plan.shots.map(() => b),
      target,
    );
    if (!all.ok) return { ...base, feasible: false, why: all.why };
    return {
      ...base,
      feasible: true,
      shots: all.shots.length,
      firstPassUsd: total(all.shots, 'firstAttemptUsd'),
      expectedUsd: total(all.shots, 'expectedUsd'),
      worstCaseUsd: total(all.shots, 'worstCaseUsd'),
    };
  });
  const estimate: JobEstimate = {
    priceTableVersion: ctx.prices.version,
    currency: 'USD',
    pricesAreEstimates: ctx.prices.estimate,
    preset: ctx.preset.name,
    qualityTier: ctx.preset.qualityTier,
    director: plan.director,
    cutSeconds: roundUsd(figures.cutSeconds),
    shots,
    firstPassUsd: total(shots, 'firstAttemptUsd'),
    totalUsd: total(shots, 'expectedUsd'),
    worstCaseUsd: total(shots, 'worstCaseUsd'),
    ...(cap !== undefined ? { budgetCapUsd: cap, budgetComparedWith: 'worstCaseUsd' as const } : {}),
    withinBudget: refusal === undefined,
    ...(refusal ? { refusal } : {}),
    byBackend,
    assumptions: {
      retakeRate: ctx.rate,
      maxAttempts: ctx.preset.qa.maxAttempts,
      worstCase:
        'every attempt the preset allows fails on every backend of the fallback chain, each vendor task billed',
    },
    notes,
  };
  return estimate;
}

/**
 * Prices a plan whose shots keep the backends and lengths they have (a client's edit): nothing is
 * moved or refitted, and the budget cap is only compared (a refusal, never a cheaper backend).
 * Each length must be one its backend makes (the caller checks; see isAllowedDuration).
 */
export function estimateAssigned(
  plan: ShotPlan,
  backends: readonly BackendName[],
  options: Omit<EstimateOptions, 'targetSeconds'>,
): JobEstimate {
  const ctx = makeCtx(options);
  const shots = plan.shots.map((s, i) => estimateShot(ctx, plan, i, backends[i]!, s.durationSeconds));
  const cut = cutSeconds(
    plan.shots.map((s) => s.durationSeconds),
    plan.endCardSeconds,
    plan.transition.durationSeconds,
  );
  const cap = options.budgetCapUsd;
  const worst = total(shots, 'worstCaseUsd');
  const refusal =
    cap !== undefined && worst > cap
      ? `the plan could cost up to ${worst.toFixed(2)} USD in the worst case (every attempt and fallback billed), above the budget cap of ${cap} USD`
      : undefined;
  return buildEstimate(ctx, plan, shots, { cutSeconds: cut, target: cut, cap, refusal, notes: [] });
}

/** The estimate for a plan: per shot and per job, with expected retakes and the priced fallback chain. */
export function estimatePlan(plan: ShotPlan, options: EstimateOptions): JobEstimate {
  return planBackends(plan, options).estimate;
}

/**
 * The backend a plan should be shaped for: the cheapest allowed, deployed backend of the preset's
 * tier that can make the brief's length at all (Veo's 4–8 s clips cannot make a 5 s cut of three
 * shots); when none of that tier can, the best tier that can, with the reason.
 */
export function primaryBackend(
  brief: Brief,
  preset: Preset,
  options: {
    enabledBackends?: readonly BackendName[];
    models?: Partial<Record<BackendName, string>>;
    prices?: PriceTable;
  } = {},
): { backend: BackendName; degradedReason?: string } {
  const enabled = options.enabledBackends ?? BACKENDS;
  const models = { ...DEFAULT_MODELS, ...options.models };
  const [width, height] = FRAME_SIZES[brief.aspectRatios[0]!];
  const range = { min: Math.max(3, preset.shotCount.min), max: Math.min(8, preset.shotCount.max) };
  const candidates = preset.allowedBackends
    .filter((b) => enabled.includes(b))
    .filter((b) => feasibleShotCounts(b, brief.durationSeconds, range).length > 0)
    .map((b) => ({
      b,
      perSecond: priceShot({ width, height, durationSeconds: 1 }, b, {
        model: models[b],
        audio: audioFor(b, preset),
        ...(options.prices ? { prices: options.prices } : {}),
      }),
    }))
    .sort((x, y) => x.perSecond - y.perSecond || preset.backendOrder.indexOf(x.b) - preset.backendOrder.indexOf(y.b));
  const ofTier = candidates.find((c) => tierRank(tierOf(c.b)) >= tierRank(preset.qualityTier));
  if (ofTier) return { backend: ofTier.b };
  const best = [...candidates].sort((x, y) => tierRank(tierOf(y.b)) - tierRank(tierOf(x.b)))[0];
  if (!best) {
    throw new Error(`no backend allowed by ${preset.name} is enabled and can make a ${brief.durationSeconds} s cut`);
  }
  return {
    backend: best.b,
    degradedReason: `no ${preset.qualityTier} backend enabled here can make a ${brief.durationSeconds} s cut; using ${best.b}`,
  };
}

/**
 * The estimate POST /v1/estimates answers: the local director's structure for the brief, priced.
 * Pure and synchronous (no Gemini, no I/O), so a quote never waits on a vendor.
 */
export function estimateBrief(
  brief: Brief,
  options: { budgetCapUsd?: number; enabledBackends?: readonly BackendName[] } = {},
): JobEstimate {
  const preset = presetOf(brief.preset);
  const primary = primaryBackend(brief, preset, options);
  const plan = planLocally(brief, { preset, backend: primary.backend });
  const cap = options.budgetCapUsd ?? brief.budgetCapUsd;
  const estimate = estimatePlan(plan, {
    preset,
    targetSeconds: brief.durationSeconds,
    ...(cap !== undefined ? { budgetCapUsd: cap } : {}),
    ...(options.enabledBackends ? { enabledBackends: options.enabledBackends } : {}),
  });
  // When the tier is simply not deployed, planBackends has said so already; say it once.
  const said = estimate.notes.some((n) => n.startsWith(`no ${preset.qualityTier} backend is enabled`));
  return primary.degradedReason && !said
    ? { ...estimate, notes: [primary.degradedReason, ...estimate.notes] }
    : estimate;
}
