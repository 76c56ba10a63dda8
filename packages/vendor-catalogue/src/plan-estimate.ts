import {
  BACKENDS,
  DEFAULT_FALLBACK_POLICY,
  fallbackChain,
  type BackendAlternative,
  type BackendName,
  type FallbackPolicy,
  type JobEstimate,
  type Preset,
  type QualityTier,
  type ShotEstimate,
  type ShotPlan,
} from '@aiprod/contracts';
import {
  BACKEND_CAPABILITIES,
  isAllowedDuration,
  modelCapability,
  resolutionFor,
  resolveModels,
  snapDuration,
} from './capabilities';
import { cutSeconds, fitDurations } from './durations';
import { PRICE_TABLE, priceShot, roundUsd, type PriceTable } from './pricing';

/**
 * The share of render attempts assumed to need another take (a QA rejection or a vendor
 * failure that is retried). An assumption until the cost ledger measures it; see
 * docs/decisions/2026-11-price-table-and-estimates.md.
 */
export const ASSUMED_RETAKE_RATE = 0.25;

export interface EstimateOptions {
  preset: Preset;
  budgetCapUsd?: number;
  policy?: FallbackPolicy;
  /** The render pools this deployment runs; default all. */
  enabledBackends?: readonly BackendName[];
  /** Model per backend, when configuration overrides the defaults (each must be in the catalogue). */
  models?: Partial<Record<BackendName, string>>;
  /** The cut's length to keep to when shots move between backends; default the plan's own. */
  targetSeconds?: number;
  retakeRate?: number;
  prices?: PriceTable;
}

export const tierOf = (b: BackendName): QualityTier => BACKEND_CAPABILITIES[b].tier;

/**
 * Whether a shot on `b` is asked for the vendor's own sound: the preset wants it and the
 * backend's model (its default when none is named) makes it.
 */
export const audioFor = (b: BackendName, preset: Preset, model?: string) =>
  preset.nativeAudio && modelCapability(b, model).nativeAudio;

/** Expected attempts per shot: 1 + r + r² + … up to the preset's maxAttempts. */
const expectedAttempts = (rate: number, maxAttempts: number) =>
  Array.from({ length: maxAttempts }, (_, k) => rate ** k).reduce((a, b) => a + b, 0);

/** What pricing a plan needs, resolved once: the preset, policy, models, prices and usable backends. */
export interface EstimateContext {
  preset: Preset;
  policy: FallbackPolicy;
  models: Readonly<Record<BackendName, string>>;
  prices: PriceTable;
  rate: number;
  usable: BackendName[];
}

export function estimateContext(options: EstimateOptions): EstimateContext {
  const enabled = options.enabledBackends ?? BACKENDS;
  return {
    preset: options.preset,
    policy: options.policy ?? DEFAULT_FALLBACK_POLICY,
    models: resolveModels(options.models),
    prices: options.prices ?? PRICE_TABLE,
    rate: options.retakeRate ?? ASSUMED_RETAKE_RATE,
    usable: options.preset.allowedBackends.filter((b) => enabled.includes(b)),
  };
}

const frameOf = (plan: ShotPlan) => ({ width: plan.width, height: plan.height });

/** One attempt at a shot of `seconds` on `backend`'s model, priced. */
export function priceOn(ctx: EstimateContext, plan: ShotPlan, backend: BackendName, seconds: number): number {
  const model = ctx.models[backend];
  return priceShot({ ...frameOf(plan), durationSeconds: seconds }, backend, {
    model,
    audio: audioFor(backend, ctx.preset, model),
    prices: ctx.prices,
  });
}

function estimateShot(
  ctx: EstimateContext,
  plan: ShotPlan,
  index: number,
  backend: BackendName,
  seconds: number,
): ShotEstimate {
  const shot = plan.shots[index]!;
  const maxAttempts = ctx.preset.qa.maxAttempts;
  // The fallbacks a render pool may hand this shot to: deployed, allowed by the preset, and able to
  // make its length (a pool never re-cuts a shot). A backend that cannot take it costs nothing.
  const takers = ctx.usable.filter((b) => isAllowedDuration(b, seconds, plan.fps, ctx.models[b]));
  const chain = [backend, ...fallbackChain(ctx.policy, backend, takers)].map((b) => {
    const d = b === backend ? seconds : snapDuration(b, seconds, plan.fps, ctx.models[b]);
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
    resolution: resolutionFor(backend, plan.width, plan.height, ctx.models[backend]),
    audio: audioFor(backend, ctx.preset, ctx.models[backend]),
    firstAttemptUsd: first,
    expectedUsd: roundUsd(first * expectedAttempts(ctx.rate, maxAttempts)),
    worstCaseUsd: roundUsd(maxAttempts * chain.reduce((sum, c) => sum + c.attempts * c.attemptUsd, 0)),
    fallbackChain: chain,
  };
}

export const totalUsd = (xs: ShotEstimate[], key: 'firstAttemptUsd' | 'expectedUsd' | 'worstCaseUsd') =>
  roundUsd(xs.reduce((sum, s) => sum + s[key], 0));

export interface AssignedShots {
  ok: true;
  durations: number[];
  endCardSeconds: number;
  cutSeconds: number;
  shots: ShotEstimate[];
}

/** Each shot on its backend: the lengths refitted to the backends' models and priced, or why they cannot be. */
export function assignBackends(
  ctx: EstimateContext,
  plan: ShotPlan,
  backends: BackendName[],
  target: number,
): AssignedShots | { ok: false; why: string } {
  const fit = fitDurations(
    plan.shots.map((s) => s.durationSeconds),
    backends,
    target,
    { fps: plan.fps, transitionSeconds: plan.transition.durationSeconds, models: ctx.models },
  );
  if (!fit.ok) return fit;
  const shots = backends.map((b, i) => estimateShot(ctx, plan, i, b, fit.durations[i]!));
  return { ...fit, shots };
}

/** The estimate of priced shots: totals, the budget verdict, and what every backend alone would cost. */
export function buildEstimate(
  ctx: EstimateContext,
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
    const all = assignBackends(
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
      firstPassUsd: totalUsd(all.shots, 'firstAttemptUsd'),
      expectedUsd: totalUsd(all.shots, 'expectedUsd'),
      worstCaseUsd: totalUsd(all.shots, 'worstCaseUsd'),
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
    firstPassUsd: totalUsd(shots, 'firstAttemptUsd'),
    totalUsd: totalUsd(shots, 'expectedUsd'),
    worstCaseUsd: totalUsd(shots, 'worstCaseUsd'),
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
 * Each length must be one its backend's model makes (the caller checks; see isAllowedDuration).
 */
export function estimateAssigned(
  plan: ShotPlan,
  backends: readonly BackendName[],
  options: Omit<EstimateOptions, 'targetSeconds'>,
): JobEstimate {
  const ctx = estimateContext(options);
  const shots = plan.shots.map((s, i) => estimateShot(ctx, plan, i, backends[i]!, s.durationSeconds));
  const cut = cutSeconds(
    plan.shots.map((s) => s.durationSeconds),
    plan.endCardSeconds,
    plan.transition.durationSeconds,
  );
  const cap = options.budgetCapUsd;
  const worst = totalUsd(shots, 'worstCaseUsd');
  const refusal =
    cap !== undefined && worst > cap
      ? `the plan could cost up to ${worst.toFixed(2)} USD in the worst case (every attempt and fallback billed), above the budget cap of ${cap} USD`
      : undefined;
  return buildEstimate(ctx, plan, shots, { cutSeconds: cut, target: cut, cap, refusal, notes: [] });
}
