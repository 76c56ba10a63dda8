import { Value } from '@sinclair/typebox/value';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import { describeErrors, validate } from '@aiprod/contracts';
import { listItemsOf, splitList } from './list';
import { rulesOf } from './rules';

export { CommaList, splitList, type CommaListOptions } from './list';
export {
  allOrNone,
  envRule,
  envSchema,
  oneOfList,
  requiresWhen,
  rulesOf,
  type EnvRule,
  type EnvSchema,
  type ParsedEnv,
} from './rules';
export { describeSetting, renderReference, type ReferenceSection, type SettingReference } from './reference';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The literals of a union of literals (an enumeration), or undefined for any other schema. */
export function literalsOf(schema: TSchema): string[] | undefined {
  const branches = (schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (!branches?.every((b) => typeof b.const === 'string' || typeof b.const === 'boolean')) return undefined;
  return branches.map((b) => String(b.const));
}

/** Splits every comma-list setting and checks each entry; returns what is wrong, by setting name. */
function splitLists(schema: TObject, values: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [name, property] of Object.entries(schema.properties)) {
    const item = listItemsOf(property);
    const value = values[name];
    if (!item || typeof value !== 'string') continue;
    const entries = splitList(value);
    if (entries.length === 0) problems.push(`${name} lists nothing`);
    entries.forEach((entry, i) => {
      const checked = validate(item, entry);
      if (checked.ok) return;
      const literals = literalsOf(item);
      // The entry's position, not its text: a list may hold something private.
      problems.push(
        `${name} entry ${i + 1} ${literals ? `must be one of ${literals.join(', ')}` : checked.errors.map((e) => e.message).join(', ')}`,
      );
    });
    values[name] = entries;
  }
  return problems;
}

/**
 * The rules across settings that `settings` break, for a check that sees a deployment's settings
 * without starting the service (Terraform): values are taken as written (a reference such as
 * `${module.storage.name}` counts as set), lists are split, and unset settings take their defaults.
 */
export function brokenRules(schema: object, settings: Readonly<Record<string, string>>): string[] {
  const rules = rulesOf(schema);
  if (!rules.length) return [];
  const object = schema as TObject;
  const values = Value.Default(object, Value.Convert(object, { ...settings })) as Record<string, unknown>;
  for (const [name, property] of Object.entries(object.properties)) {
    const value = values[name];
    if (listItemsOf(property) && typeof value === 'string') values[name] = splitList(value);
  }
  return rules.map((rule) => rule.broken(values)).filter((problem): problem is string => problem !== undefined);
}

/**
 * Parses the environment once, against a schema whose property names are the variable names.
 * Strings are converted to the declared number/boolean types, defaults applied and comma lists
 * (CommaList) split; then the schema's cross-field rules (envSchema) are checked. Anything
 * missing or malformed fails fast with a message that names the variables but never their values
 * (they may be secrets).
 */
export function parseEnv<S extends TObject>(schema: S, env: NodeJS.ProcessEnv = process.env): Static<S> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const converted = Value.Default(schema, Value.Convert(schema, raw));
  const result = validate(schema, converted);
  if (!result.ok) {
    const names = result.errors.map((e) => e.field.replace(/^\//, '') || '(environment)');
    throw new ConfigError(`invalid environment: ${[...new Set(names)].join(', ')} — ${describeErrors(result.errors)}`);
  }
  const values = result.value as Record<string, unknown>;
  const listProblems = splitLists(schema, values);
  if (listProblems.length) throw new ConfigError(`invalid environment: ${listProblems.join('; ')}`);
  const broken = rulesOf(schema)
    .map((rule) => rule.broken(values))
    .filter((problem): problem is string => problem !== undefined);
  if (broken.length) throw new ConfigError(`invalid environment: ${broken.join('; ')}`);
  return values as Static<S>;
}
