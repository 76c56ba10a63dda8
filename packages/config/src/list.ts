import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

/**
 * Where a comma list keeps the schema of its entries. The environment holds one string, so the
 * JSON Schema type stays `string` (validated, converted and defaulted like any other setting);
 * parseEnv then splits it and checks every entry against this schema.
 */
export const LIST_ITEMS = 'x-comma-list-items';

export interface CommaListOptions {
  /** The default as the environment would spell it, e.g. `'local'` or `'RS256,ES256'`. */
  default?: string;
  description?: string;
}

/**
 * A comma-separated setting, parsed once: `a, b,,a` becomes `['a', 'b']` (entries trimmed, empty
 * ones dropped, each kept once in its first place). Every entry must match `item`, and the list
 * must name at least one.
 */
export function CommaList<I extends TSchema>(item: I, options: CommaListOptions = {}): TUnsafe<Static<I>[]> {
  return Type.Unsafe<Static<I>[]>({ type: 'string', minLength: 1, ...options, [LIST_ITEMS]: item });
}

export const listItemsOf = (schema: unknown): TSchema | undefined =>
  typeof schema === 'object' && schema !== null
    ? (schema as Record<string, TSchema | undefined>)[LIST_ITEMS]
    : undefined;

export const splitList = (value: string): string[] => [
  ...new Set(
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  ),
];
