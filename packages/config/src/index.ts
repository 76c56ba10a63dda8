import { Value } from '@sinclair/typebox/value';
import type { Static, TObject } from '@sinclair/typebox';
import { describeErrors, validate } from '@aiprod/contracts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses the environment once, against a schema whose property names are the variable names.
 * Strings are converted to the declared number/boolean types and defaults applied; anything
 * missing or malformed fails fast with a message that names the variable but never its value
 * (it may be a secret).
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
  return result.value;
}
