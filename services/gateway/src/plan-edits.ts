import {
  END_CARD_SECONDS,
  briefLanguages,
  presetOf,
  tierRank,
  validate,
  type BackendName,
  type Brief,
  type ContinuityRef,
  type FieldError,
  type ShotPlan,
  type ShotSpec,
} from '@aiprod/contracts';
import type { Job, PlanRevision, Shot } from '@aiprod/job-store';
import { finishTimeline, voiceWindow } from '@aiprod/media';
import { estimatedSpeechSeconds, unrenderableText } from '@aiprod/speech';
import {
  BACKEND_CAPABILITIES,
  DURATION_TOLERANCE_SECONDS,
  audioFor,
  checkPlan,
  cutSeconds,
  estimateAssigned,
  isAllowedDuration,
  modelCapability,
  storedEstimate,
} from '@aiprod/vendor-catalogue';
import { PlanPatchSchema, type PlanPatch } from './openapi/plan-schemas';

/**
 * What a client may change in a plan before approving it, and nothing else: a shot's prompts,
 * camera move, on-screen text, voice-over line, length and backend. The shot list, purposes,
 * palettes, frame and continuity stay the director's (a request for changes re-plans those).
 * - a backend must be allowed by the job's preset, deployed here, and of the preset's minimum
 *   quality tier or better; switching backend switches the vendor's own sound on or off with it;
 * - a length must be one the shot's backend makes, and the cut (shots, transitions and an end card
 *   of 1–3 s) must still last the brief's length within DURATION_TOLERANCE_SECONDS: lengthen one
 *   shot and shorten another in the same request;
 * - the plan's worst case must stay within the brief's budget cap.
 */
export const EDITABLE_SHOT_FIELDS = [
  'prompt',
  'negativePrompt',
  'camera',
  'onScreenText',
  'voiceOver',
  'durationSeconds',
  'backend',
] as const;

export interface EditContext {
  enabledBackends: readonly BackendName[];
}

const fieldError = (field: string, rule: string, message: string): FieldError => ({ field, rule, message });

/** The request body checked against its closed schema (field errors name each offending field). */
export function parsePlanPatch(body: unknown): PlanPatch | FieldError[] {
  const checked = validate(PlanPatchSchema, body ?? {});
  if (!checked.ok) return preciseErrors(checked.errors);
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  checked.value.shots.forEach((s, i) => {
    if (seen.has(s.id)) errors.push(fieldError(`/shots/${i}/id`, 'uniqueItems', `names shot ${s.id} twice`));
    seen.add(s.id);
  });
  return errors.length ? errors : checked.value;
}

/**
 * A clearable field (a string or null) that is wrong is reported by the validator three times:
 * the rule the string broke, "not null", and "neither". Keep the rule; when there is none (not a
 * string at all), one type error.
 */
function preciseErrors(errors: FieldError[]): FieldError[] {
  const generic = (e: FieldError) => e.rule === 'type' || e.rule === 'anyOf';
  const out: FieldError[] = [];
  for (const e of errors) {
    const same = errors.filter((o) => o.field === e.field);
    if (!generic(e)) out.push(e);
    else if (same.every(generic) && !out.some((o) => o.field === e.field)) {
      out.push({ ...e, rule: 'type', message: same.length > 1 ? 'must be a string, or null to remove it' : e.message });
    }
  }
  return out;
}

/** The backends a shot of this job may be moved to. */
export function editableBackends(job: Job, ctx: EditContext): BackendName[] {
  const preset = presetOf(job.preset);
  return preset.allowedBackends.filter(
    (b) => ctx.enabledBackends.includes(b) && tierRank(BACKEND_CAPABILITIES[b].tier) >= tierRank(preset.minQualityTier),
  );
}

function lengthsOf(backend: BackendName): string {
  const rule = modelCapability(backend).durations;
  if (rule.kind === 'set') return `${rule.values.join(', ')} s`;
  const unit = rule.kind === 'frames' ? 'whole frames' : 'whole seconds';
  return `${rule.minSeconds}–${rule.maxSeconds} s in ${unit}`;
}

/** The plan as a director's ShotPlan again, from the job and its shot documents. */
export function shotPlanOf(job: Job, shots: Shot[]): ShotPlan {
  const plan = job.plan!;
  const table = new Map<string, ContinuityRef>();
  for (const s of shots) for (const c of s.spec.continuity ?? []) table.set(c.id, c);
  return {
    director: plan.director,
    width: plan.width,
    height: plan.height,
    fps: plan.fps,
    endCardSeconds: plan.endCardSeconds,
    transition: plan.transition ?? { kind: 'cut', durationSeconds: 0 },
    fittedFor: shots[0]?.backend ?? 'local',
    continuity: [...table.values()],
    shots: shots.map((s) => s.spec),
  };
}

/**
 * An edited line or on-screen text must be drawable by the video font (as the brief's words are)
 * and a line must have something to say: a line of only marks ("★★★") would be silence under a
 * caption.
 */
function wordProblems(edit: PlanPatch['shots'][number], at: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of ['onScreenText', 'voiceOver'] as const) {
    const text = edit[key];
    if (typeof text !== 'string') continue;
    const letter = unrenderableText(text);
    if (letter !== undefined)
      errors.push(fieldError(`${at}/${key}`, 'drawableScript', `has "${letter}", a script the video font cannot draw`));
  }
  if (typeof edit.voiceOver === 'string' && !/[\p{L}\p{N}]/u.test(edit.voiceOver))
    errors.push(fieldError(`${at}/voiceOver`, 'speakable', 'has no word to say (only marks or symbols)'));
  return errors;
}

/** One shot with the patch applied, or the field errors of the patch. */
function editShot(
  shot: Shot,
  edit: PlanPatch['shots'][number],
  at: string,
  job: Job,
  allowed: readonly BackendName[],
): { spec: ShotSpec; backend: BackendName } | FieldError[] {
  const preset = presetOf(job.preset);
  const backend = edit.backend ?? shot.backend;
  if (edit.backend && !allowed.includes(edit.backend)) {
    return [fieldError(`${at}/backend`, 'enum', `must be one of ${allowed.join(', ')} for this job`)];
  }
  const seconds = edit.durationSeconds ?? shot.spec.durationSeconds;
  if (!isAllowedDuration(backend, seconds, job.plan!.fps)) {
    const field = edit.durationSeconds !== undefined ? 'durationSeconds' : 'backend';
    return [
      fieldError(
        `${at}/${field}`,
        'backendDuration',
        `${backend} makes ${lengthsOf(backend)}; the shot would be ${seconds} s` +
          (field === 'backend' ? ' (send durationSeconds too)' : ''),
      ),
    ];
  }
  if (job.plan!.languages && (edit.onScreenText !== undefined || edit.voiceOver !== undefined)) {
    const field = edit.voiceOver !== undefined ? 'voiceOver' : 'onScreenText';
    return [
      fieldError(
        `${at}/${field}`,
        'perLanguage',
        `this plan speaks ${job.plan!.languages.map((l) => l.language).join(', ')}: change its words with a change request, which re-plans every language`,
      ),
    ];
  }
  const words = wordProblems(edit, at);
  if (words.length) return words;
  const spec: ShotSpec = { ...shot.spec, durationSeconds: seconds };
  if (edit.prompt !== undefined) spec.prompt = edit.prompt;
  if (edit.camera !== undefined) spec.camera = edit.camera;
  for (const key of ['negativePrompt', 'onScreenText', 'voiceOver'] as const) {
    const value = edit[key];
    if (value === null) delete spec[key];
    else if (value !== undefined) spec[key] = value;
  }
  if (audioFor(backend, preset)) spec.audio = true;
  else delete spec.audio;
  return { spec, backend };
}

/**
 * The next version of the plan with the client's edits, re-priced on the shots' backends, or the
 * field errors that refuse it. Pure: the store runs it inside the transaction that writes it.
 */
export function revisePlan(
  job: Job,
  shots: Shot[],
  patch: PlanPatch,
  ctx: EditContext,
  by: string,
): PlanRevision | { declined: FieldError[] } {
  const allowed = editableBackends(job, ctx);
  const errors: FieldError[] = [];
  const edited = shots.map((s) => ({ spec: s.spec, backend: s.backend }));
  patch.shots.forEach((edit, i) => {
    const index = shots.findIndex((s) => s.shotId === edit.id);
    if (index < 0) return void errors.push(fieldError(`/shots/${i}/id`, 'exists', `the plan has no shot ${edit.id}`));
    const next = editShot(shots[index]!, edit, `/shots/${i}`, job, allowed);
    if (Array.isArray(next)) errors.push(...next);
    else edited[index] = next;
  });
  if (errors.length) return { declined: errors };
  const base = shotPlanOf(job, shots);
  const fitted = fitEndCard(base, edited, job.brief);
  if ('declined' in fitted) return fitted;
  const plan: ShotPlan = { ...base, endCardSeconds: fitted.endCardSeconds, shots: edited.map((e) => e.spec) };
  const backends = edited.map((e) => e.backend);
  const problems = checkPlan(plan, job.brief, backends);
  if (problems.length) return { declined: problems.map((p) => fieldError('/shots', 'plan', p)) };
  const unspoken = linesThatDoNotFit(job, plan, patch);
  if (unspoken.length) return { declined: unspoken };
  const estimate = estimateAssigned(plan, backends, {
    preset: presetOf(job.preset),
    enabledBackends: ctx.enabledBackends,
    ...(job.brief.budgetCapUsd !== undefined ? { budgetCapUsd: job.brief.budgetCapUsd } : {}),
  });
  if (!estimate.withinBudget) return { declined: [fieldError('/shots', 'budgetCap', estimate.refusal!)] };
  return {
    plan: {
      ...job.plan!,
      endCardSeconds: plan.endCardSeconds,
      estimatedCostUsd: estimate.totalUsd,
      estimate: storedEstimate(estimate),
    },
    shots: edited,
    event: {
      by,
      shots: patch.shots.map((s) => s.id),
      estimatedCostUsd: estimate.totalUsd,
    },
  };
}

/** The end-card length that keeps the cut at the brief's length, or why no length can. */
function fitEndCard(
  base: ShotPlan,
  edited: { spec: ShotSpec }[],
  brief: Brief,
): { endCardSeconds: number } | { declined: FieldError[] } {
  const seconds = edited.map((e) => e.spec.durationSeconds);
  const t = base.transition.durationSeconds;
  // The end card stays as the director made it while the cut still fits (an edit of words only).
  const kept = cutSeconds(seconds, base.endCardSeconds, t);
  if (Math.abs(kept - brief.durationSeconds) <= DURATION_TOLERANCE_SECONDS + 1e-9) {
    return { endCardSeconds: base.endCardSeconds };
  }
  const shotsOnly = cutSeconds(seconds, 0, t);
  const wanted = brief.durationSeconds - shotsOnly;
  const endCardSeconds = Math.min(
    END_CARD_SECONDS.max,
    Math.max(END_CARD_SECONDS.min, Math.round(wanted * 1000) / 1000),
  );
  const cut = shotsOnly + endCardSeconds;
  if (Math.abs(cut - brief.durationSeconds) <= DURATION_TOLERANCE_SECONDS + 1e-9) return { endCardSeconds };
  const off = cut - brief.durationSeconds;
  return {
    declined: [
      fieldError(
        '/shots',
        'cutLength',
        `the cut would last ${cut.toFixed(2)} s; the brief asks for ${brief.durationSeconds} s (±${DURATION_TOLERANCE_SECONDS}): ` +
          `${off > 0 ? 'shorten' : 'lengthen'} the shots by ${(Math.abs(off) - DURATION_TOLERANCE_SECONDS).toFixed(2)} s or more`,
      ),
    ],
  };
}

/**
 * An edited line is held to its estimate plus this much: a voice may speak it a little slower
 * than the language's average, and a misfit found at assembly would fail a paid job.
 */
const EDITED_LINE_MARGIN = 1.1;

/**
 * Every voice-over line must still fit its shot's room after the edit (a new line, or a shorter
 * shot), at its language's speaking rate: the planner measured the lines it wrote, and delivery
 * never cuts one off. Only the shots the edit touches (line or length) are checked. Each misfit
 * names the edited field.
 */
function linesThatDoNotFit(job: Job, plan: ShotPlan, patch: PlanPatch): FieldError[] {
  const timeline = finishTimeline({
    clips: plan.shots.map((s) => ({ durationSeconds: s.durationSeconds })),
    transition: plan.transition,
    endCard: { durationSeconds: plan.endCardSeconds },
    fps: plan.fps,
  });
  const words = job.plan!.languages ?? [
    { language: briefLanguages(job.brief)[0]!, shots: plan.shots.map((s) => ({ voiceOver: s.voiceOver })) },
  ];
  const errors: FieldError[] = [];
  for (const { language, shots } of words) {
    shots.forEach((shot, i) => {
      const shotId = plan.shots[i]!.shotId;
      const asked = patch.shots.findIndex((e) => e.id === shotId);
      const edit = asked >= 0 ? patch.shots[asked]! : undefined;
      // Only what this edit changes: a line the planner measured and left alone stays its word.
      if (!shot.voiceOver || !edit || (edit.voiceOver === undefined && edit.durationSeconds === undefined)) return;
      const room = voiceWindow(timeline, i).seconds;
      const seconds = estimatedSpeechSeconds(shot.voiceOver, language);
      if (seconds * EDITED_LINE_MARGIN <= room) return;
      const edited = edit.voiceOver !== undefined;
      errors.push(
        fieldError(
          `/shots/${asked}/${edited ? 'voiceOver' : 'durationSeconds'}`,
          'voiceFits',
          `shot ${shotId}'s ${language} voice-over takes about ${seconds.toFixed(1)} s to say; the shot leaves ${room.toFixed(1)} s`,
        ),
      );
    });
  }
  return errors;
}
