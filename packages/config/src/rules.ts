import { Type, type TObject, type TProperties } from '@sinclair/typebox';

/** The parsed environment a rule reads: values after conversion, defaults and list splitting. */
export type ParsedEnv = Readonly<Record<string, unknown>>;

/**
 * A rule across settings, checked by parseEnv after every setting is valid on its own. `S` is the
 * union of the setting names it involves, so a schema cannot carry a rule about settings it lacks.
 */
export interface EnvRule<S extends string = string> {
  /** The rule as one sentence for the reference, e.g. `STORAGE_KIND=gcs requires STORAGE_BUCKET`. */
  readonly text: string;
  readonly settings: readonly S[];
  /** The settings it may demand (the reference marks them "by rule" rather than optional). */
  readonly requires: readonly S[];
  /** What is wrong, naming settings and never their values (they may be secrets); undefined when kept. */
  readonly broken: (env: ParsedEnv) => string | undefined;
}

const RULES = Symbol.for('aiprod.config.rules');

export type EnvSchema<P extends TProperties = TProperties> = TObject<P> & {
  readonly [RULES]: readonly EnvRule<keyof P & string>[];
};

/** A service's environment: its settings, and the rules across them that parseEnv enforces. */
export function envSchema<P extends TProperties>(
  properties: P,
  rules: readonly EnvRule<keyof P & string>[] = [],
): EnvSchema<P> {
  const schema = Type.Object(properties);
  // Not enumerable and keyed by a symbol: the JSON Schema that Ajv compiles and the docs print stays plain.
  Object.defineProperty(schema, RULES, { value: rules, enumerable: false });
  return schema as EnvSchema<P>;
}

export const rulesOf = (schema: object): readonly EnvRule[] =>
  (schema as Partial<EnvSchema>)[RULES] ?? ([] as readonly EnvRule[]);

export const isSet = (value: unknown): boolean =>
  value !== undefined && value !== '' && !(Array.isArray(value) && value.length === 0);

const and = (names: readonly string[]) =>
  names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]!}`;

/** `setting=value requires a, b and c`: each of them must be set when the setting has that value. */
export function requiresWhen<const K extends string, const R extends string>(
  setting: K,
  value: string | boolean,
  required: readonly R[],
): EnvRule<K | R> {
  const text = `${setting}=${String(value)} requires ${and(required)}`;
  return {
    text,
    settings: [setting, ...required],
    requires: required,
    broken: (env) => {
      if (env[setting] !== value) return undefined;
      const missing = required.filter((name) => !isSet(env[name]));
      return missing.length ? `${text} (missing: ${missing.join(', ')})` : undefined;
    },
  };
}

/** Settings that only mean something together: all of them set, or none. */
export function allOrNone<const K extends string>(...names: K[]): EnvRule<K> {
  const text = `${and(names)} are set together or not at all`;
  return {
    text,
    settings: names,
    requires: names,
    broken: (env) => {
      const missing = names.filter((name) => !isSet(env[name]));
      return missing.length > 0 && missing.length < names.length
        ? `${text} (missing: ${missing.join(', ')})`
        : undefined;
    },
  };
}

/**
 * `setting` must be one of the entries of the comma list `list`. Both are enumerations, so the
 * message may show their values.
 */
export function oneOfList<const K extends string, const L extends string>(setting: K, list: L): EnvRule<K | L> {
  const text = `${setting} is one of ${list}`;
  return {
    text,
    settings: [setting, list],
    requires: [],
    broken: (env) => {
      const entries = env[list];
      if (!isSet(env[setting]) || !Array.isArray(entries) || entries.includes(env[setting])) return undefined;
      return `${setting}=${String(env[setting])} is not in ${list} (${entries.join(',')})`;
    },
  };
}

/** Any other rule: `broken` says what is wrong (names, never values) or returns undefined. */
export function envRule<const S extends string>(
  text: string,
  settings: readonly S[],
  broken: (env: ParsedEnv) => string | undefined,
): EnvRule<S> {
  return { text, settings, requires: [], broken };
}
