import { BriefSchema, PRESETS, defaultPresetFor, normalizeBriefInput, validate, type Brief } from '@aiprod/contracts';
import { HttpProblem } from './problem';

/**
 * The brief exactly as we store it: NFC-normalised first (so `é` typed two ways is one string and
 * lengths are counted the same for every client), then validated against the closed schema.
 * Every rejection names the field (a JSON Pointer) and the rule.
 */
export function parseBrief(body: unknown): Brief {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpProblem('validation', 'the body must be a JSON object (a brief)', {
      errors: [{ field: '', rule: 'type', message: 'must be object' }],
    });
  }
  const normalized = normalizeBriefInput(body);
  if (!normalized.ok) {
    throw new HttpProblem('validation', 'the brief nests deeper than any of its fields allows', {
      errors: [{ field: normalized.field, rule: 'maxDepth', message: 'is nested too deeply' }],
    });
  }
  const checked = validate(BriefSchema, normalized.value);
  if (!checked.ok) throw new HttpProblem('validation', 'the brief is not valid', { errors: checked.errors });
  // The preset is stored explicitly: the one asked for, or the shortest-form one that fits.
  const brief = { ...checked.value, preset: checked.value.preset ?? defaultPresetFor(checked.value.durationSeconds) };
  const preset = PRESETS[brief.preset];
  if (brief.durationSeconds > preset.maxDurationSeconds) {
    throw new HttpProblem('validation', 'the brief is longer than its preset allows', {
      errors: [
        {
          field: '/durationSeconds',
          rule: 'presetMaximum',
          message: `must be at most ${preset.maxDurationSeconds} s for the ${preset.name} preset`,
        },
      ],
    });
  }
  return brief;
}

/** Query strings: the schema's types are numbers, the URL's are strings. */
export function coerceQuery(query: Record<string, unknown>, integers: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    // A repeated parameter (?a=1&a=2) arrives as an array; the schema refuses it as not a string.
    out[key] =
      integers.includes(key) && typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  }
  return out;
}
