import { Type, type Static } from '@sinclair/typebox';
import { Strict, describeErrors, validate, type BackendName, type ShotSpec } from '@aiprod/contracts';
import table from './price-table.json';
import { resolutionFor, type ResolutionName } from './capabilities';

const Usd = Type.Number({ minimum: 0, maximum: 100 });
const Resolution = Type.String({ pattern: '^(480p|720p|1080p)$' });
const OutputSecondPrice = Strict({
  basis: Type.Literal('output_second'),
  resolutions: Type.Record(Resolution, Strict({ usdPerSecond: Usd, audioUsdPerSecond: Usd }), {
    additionalProperties: false,
  }),
  note: Type.Optional(Type.String()),
});
const PredictSecondPrice = Strict({
  basis: Type.Literal('predict_second'),
  usdPerPredictSecond: Usd,
  resolutions: Type.Record(
    Resolution,
    Strict({ predictSecondsPerOutputSecond: Type.Number({ minimum: 0, maximum: 1000 }), audioUsdPerSecond: Usd }),
    { additionalProperties: false },
  ),
  note: Type.Optional(Type.String()),
});
const ModelPrices = Type.Record(Type.String({ minLength: 1 }), Type.Union([OutputSecondPrice, PredictSecondPrice]));

/** The price table's shape; the data lives in price-table.json, versioned, beside this file. */
export const PriceTableSchema = Strict({
  version: Type.String({ minLength: 1 }),
  currency: Type.Literal('USD'),
  effectiveDate: Type.String({ format: 'date' }),
  estimate: Type.Boolean({ description: 'True while the prices are second-hand estimates, not contract rates.' }),
  source: Type.String(),
  backends: Strict({ local: ModelPrices, replicate: ModelPrices, runway: ModelPrices, veo: ModelPrices }),
});
export type PriceTable = Static<typeof PriceTableSchema>;

/** Checks a price table; a broken one stops whoever loads it, at start-up. */
export function parsePriceTable(data: unknown): PriceTable {
  const checked = validate(PriceTableSchema, data);
  if (!checked.ok) throw new Error(`invalid price table: ${describeErrors(checked.errors)}`);
  return checked.value;
}

export const PRICE_TABLE: PriceTable = parsePriceTable(table);

export interface AttemptUsage {
  /** Seconds of video the vendor made (or was asked for, when estimating). */
  outputSeconds: number;
  resolution: ResolutionName;
  /** Native sound was asked for (only backends that make it charge the surcharge). */
  audio: boolean;
  /** Replicate's measured `metrics.predict_time`; without it the table's factor estimates it. */
  predictSeconds?: number;
}

/** Money is kept to a hundredth of a cent, so sums of many attempts do not drift. */
export const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;

const RESOLUTION_ORDER: readonly ResolutionName[] = ['480p', '720p', '1080p'];

/**
 * The priced resolution a request for `wanted` is billed at: the same one, or else the largest
 * the model offers below it (a vendor that tops out at 720p renders a 1080p request at 720p),
 * or else its smallest.
 */
function pricedResolution<V>(resolutions: Record<string, V>, wanted: ResolutionName): V | undefined {
  if (resolutions[wanted]) return resolutions[wanted];
  const rank = RESOLUTION_ORDER.indexOf(wanted);
  const below = RESOLUTION_ORDER.slice(0, rank)
    .reverse()
    .find((r) => resolutions[r]);
  const above = RESOLUTION_ORDER.slice(rank + 1).find((r) => resolutions[r]);
  const chosen = below ?? above;
  return chosen ? resolutions[chosen] : undefined;
}

/**
 * What one vendor task costs, in USD: output seconds times the per-second price (plus the audio
 * surcharge), or for Replicate predict-seconds times its GPU rate. The render pools record this
 * in the cost ledger; the estimates use the same function, so the two agree. An unpriced model
 * is a configuration error and throws, rather than being recorded as free.
 */
export function attemptCost(
  backend: BackendName,
  model: string,
  usage: AttemptUsage,
  prices: PriceTable = PRICE_TABLE,
): number {
  const entry = prices.backends[backend][model];
  if (!entry) throw new Error(`the price table ${prices.version} has no price for ${backend} model ${model}`);
  const seconds = Math.max(0, usage.outputSeconds);
  if (entry.basis === 'predict_second') {
    const at = pricedResolution(entry.resolutions, usage.resolution);
    if (!at) throw new Error(`the price table ${prices.version} has no resolution for ${backend} ${model}`);
    const predict = usage.predictSeconds ?? seconds * at.predictSecondsPerOutputSecond;
    return roundUsd(predict * entry.usdPerPredictSecond + (usage.audio ? at.audioUsdPerSecond * seconds : 0));
  }
  const at = pricedResolution(entry.resolutions, usage.resolution);
  if (!at) throw new Error(`the price table ${prices.version} has no resolution for ${backend} ${model}`);
  return roundUsd(seconds * at.usdPerSecond + (usage.audio ? at.audioUsdPerSecond * seconds : 0));
}

/** One attempt at one shot on one backend's model, at the resolution that model renders the shot's frame. */
export function priceShot(
  spec: Pick<ShotSpec, 'durationSeconds' | 'width' | 'height'>,
  backend: BackendName,
  options: { model: string; audio: boolean; prices?: PriceTable },
): number {
  return attemptCost(
    backend,
    options.model,
    {
      outputSeconds: spec.durationSeconds,
      resolution: resolutionFor(backend, spec.width, spec.height, options.model),
      audio: options.audio,
    },
    options.prices,
  );
}
