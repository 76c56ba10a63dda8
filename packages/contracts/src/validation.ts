import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';

const ajv = new Ajv2020({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false });
addFormats(ajv);

export interface FieldError {
  /** JSON Pointer to the offending field, '' for the whole document. */
  field: string;
  rule: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

const cache = new WeakMap<TSchema, ValidateFunction>();

function toFieldError(e: ErrorObject): FieldError {
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    return { field: `${e.instancePath}/${extra}`, rule: 'additionalProperties', message: 'is not an allowed field' };
  }
  if (e.keyword === 'required') {
    const missing = String((e.params as { missingProperty: string }).missingProperty);
    return { field: `${e.instancePath}/${missing}`, rule: 'required', message: 'is required' };
  }
  return { field: e.instancePath, rule: e.keyword, message: e.message ?? 'is invalid' };
}

/** Validates untrusted data against a schema; compiled once per schema. */
export function validate<S extends TSchema>(schema: S, data: unknown): Validated<Static<S>> {
  let fn = cache.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    cache.set(schema, fn);
  }
  if (fn(data)) return { ok: true, value: data as Static<S> };
  const errors = (fn.errors ?? []).map(toFieldError);
  // Unions report one error per branch; keep the list short and unique.
  const unique = [...new Map(errors.map((e) => [`${e.field}|${e.rule}`, e])).values()].slice(0, 20);
  return { ok: false, errors: unique };
}

export const describeErrors = (errors: FieldError[]) =>
  errors.map((e) => `${e.field || '(root)'} ${e.message} [${e.rule}]`).join('; ');
