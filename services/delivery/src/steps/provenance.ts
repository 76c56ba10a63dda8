import {
  describeErrors,
  presetOf,
  ProvenanceManifestSchema,
  validate,
  type ProvenanceManifest,
  type ProvenanceShot,
  type ProvenanceTry,
  type VendorRequestSummary,
} from '@aiprod/contracts';
import { planVersionOf, type Job, type RenderTry, type Shot } from '@aiprod/job-store';
import { outputsPrefix } from '@aiprod/storage';
import type { DeliveryDeps } from '../app';

/** The manifest's name beside the outputs (with poster.png and contact-sheet.png). */
export const PROVENANCE_FILE = 'provenance.json';

const iso = (t: { toDate(): Date }) => t.toDate().toISOString();
const usd = (n: number) => Math.round(n * 1e6) / 1e6;

/**
 * A URL's query string is where signatures and tokens live. Prompts are free text that the brief
 * feeds, so one could quote a link; the manifest keeps the link and drops what follows its `?`.
 */
const QUERY_IN_URL = /\b([a-z][a-z0-9+.-]*:\/\/[^\s?#"']*)\?[^\s#"']*/gi;
export const withoutUrlQueries = (text: string) => text.replace(QUERY_IN_URL, '$1?[removed]');

function sentView(sent: VendorRequestSummary): VendorRequestSummary {
  return {
    ...sent,
    prompt: withoutUrlQueries(sent.prompt),
    ...(sent.negativePrompt !== undefined ? { negativePrompt: withoutUrlQueries(sent.negativePrompt) } : {}),
  };
}

function tryView(attempt: number, t: RenderTry): ProvenanceTry {
  return {
    attempt,
    backend: t.backend,
    model: t.model,
    outcome: t.outcome,
    errorClass: t.errorClass ?? null,
    errorCode: t.code ?? null,
    costUsd: usd(t.costUsd),
    at: iso(t.at),
    sent: t.sent ? sentView(t.sent) : null,
  };
}

/** One passed shot: every try of every attempt in order, the one that made the clip, and QA's verdict. */
function shotView(shot: Shot): ProvenanceShot {
  const numbers = Object.keys(shot.attempts)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 1 && n <= shot.attempt)
    .sort((a, b) => a - b);
  const tries = numbers.flatMap((n) => (shot.attempts[String(n)]!.tries ?? []).map((t) => tryView(n, t)));
  // The delivered clip is the current attempt's; its last success (or cache hit) made it.
  const acceptedTry = tries.findLastIndex(
    (t) => t.attempt === shot.attempt && (t.outcome === 'succeeded' || t.outcome === 'cache_hit'),
  );
  if (acceptedTry < 0) {
    throw new Error(`shot ${shot.shotId}: attempt ${shot.attempt} passed QA but records no successful try`);
  }
  const accepted = tries[acceptedTry]!;
  const sent = accepted.sent;
  return {
    shotId: shot.shotId,
    index: shot.index,
    durationSeconds: shot.spec.durationSeconds,
    backend: accepted.backend,
    model: accepted.model,
    seed: sent?.seed ?? null,
    prompt: sent?.prompt ?? null,
    negativePrompt: sent?.negativePrompt ?? null,
    references: sent?.references ?? [],
    firstFrame: sent?.firstFrame ?? null,
    lastFrame: sent?.lastFrame ?? null,
    acceptedTry,
    tries,
    qa: shot.qa
      ? {
          attempt: shot.qa.attempt,
          verdict: shot.qa.verdict,
          judge: shot.qa.judge ?? null,
          checks: shot.qa.checks,
        }
      : null,
    costUsd: usd(tries.reduce((s, t) => s + t.costUsd, 0)),
  };
}

/**
 * The provenance manifest of a job about to be delivered, from its committed records only (the
 * shots' attempts and tries, their QA reports, the plan), which always exist once every shot has
 * passed. Throws when they do not make a valid manifest: that is a bug, not a vendor's weather.
 */
export function buildProvenanceManifest(job: Job, shots: Shot[], deliveredAt: Date): ProvenanceManifest {
  const ordered = [...shots].sort((a, b) => a.index - b.index);
  const views = ordered.map(shotView);
  const manifest: ProvenanceManifest = {
    schemaVersion: 1,
    jobId: job.jobId,
    tenantId: job.tenantId,
    createdAt: iso(job.createdAt),
    deliveredAt: deliveredAt.toISOString(),
    currency: 'USD',
    priceTableVersion: job.plan?.estimate?.priceTableVersion ?? null,
    planVersion: planVersionOf(job),
    approvedPlanVersion: job.plan?.approval?.version ?? null,
    shots: views,
    sound: {
      voices: (job.voiceTracks ?? []).map((v) => ({
        language: v.language,
        engine: v.engine,
        voice: v.voice,
        timing: v.timing,
        lines: v.lines,
      })),
      // The source's kind only: a client's URL may carry a token, and the sha256 names the bytes.
      music: job.music
        ? {
            kind: 'supplied',
            source: job.music.source.kind,
            sha256: job.music.sourceSha256 ?? job.music.sha256,
            durationSeconds: job.music.durationSeconds,
          }
        : { kind: 'generated', mood: job.brief.musicMood ?? null },
      clipAudio: presetOf(job.preset).nativeAudio && ordered.some((s) => s.spec.audio === true),
    },
    totals: {
      shots: views.length,
      tries: views.reduce((n, s) => n + s.tries.length, 0),
      shotsCostUsd: usd(views.reduce((s, v) => s + v.costUsd, 0)),
      jobCostUsd: usd(job.costUsd),
    },
  };
  const checked = validate(ProvenanceManifestSchema, manifest);
  if (!checked.ok)
    throw new Error(`provenance manifest of job ${job.jobId} is invalid: ${describeErrors(checked.errors)}`);
  return checked.value;
}

/** Stores the manifest beside the outputs, under a fixed key: a repeated assembly overwrites it. */
export async function storeProvenanceManifest(
  deps: Pick<DeliveryDeps, 'storage'>,
  job: Job,
  manifest: ProvenanceManifest,
): Promise<string> {
  const stored = await deps.storage.putBytes(
    `${outputsPrefix(job)}/${PROVENANCE_FILE}`,
    Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
    { contentType: 'application/json' },
  );
  return stored.uri;
}
