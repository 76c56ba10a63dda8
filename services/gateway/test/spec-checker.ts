import type { TSchema } from '@sinclair/typebox';
import type { Response } from 'supertest';
import { describeErrors, validate } from '@aiprod/contracts';
import { buildOpenApiDocument } from '../src/openapi/document';

type Doc = ReturnType<typeof buildOpenApiDocument>;
interface DocResponse {
  content?: Record<string, { schema: unknown }>;
}

/** Replaces `#/components/schemas/X` references with the schema itself (ours are not recursive). */
function inline(value: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => inline(v, components));
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as { $ref?: unknown }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
    return inline(components[ref.slice('#/components/schemas/'.length)], components);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inline(v, components)]));
}

/**
 * Checks real responses against the OpenAPI document: the status must be documented for the
 * operation, the media type must be the documented one, and a JSON body must match its schema.
 * Remembers which operation × status class was seen, for a coverage check.
 */
export class SpecChecker {
  readonly doc: Doc = buildOpenApiDocument();
  readonly seen = new Set<string>();
  readonly failures: string[] = [];
  // The shared 2020-12 validator (ajv + formats) of @aiprod/contracts; it caches per schema object.
  private readonly compiled = new Map<string, TSchema>();
  private readonly matchers: { method: string; path: string; regex: RegExp }[] = [];

  constructor() {
    for (const [path, methods] of Object.entries(this.doc.paths)) {
      const regex = new RegExp(`^${path.replace(/\{path\}/, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const method of Object.keys(methods)) this.matchers.push({ method, path, regex });
    }
  }

  operationFor(method: string, urlPath: string): { method: string; path: string } | undefined {
    return this.matchers.find((m) => m.method === method.toLowerCase() && m.regex.test(urlPath));
  }

  check(method: string, url: string, res: Response): void {
    const urlPath = url.split('?')[0]!;
    const op = this.operationFor(method, urlPath);
    const where = `${method.toUpperCase()} ${urlPath} → ${res.status}`;
    if (!op) return void this.failures.push(`${where}: no documented operation`);
    const operation = (this.doc.paths as Record<string, Record<string, { responses: Record<string, DocResponse> }>>)[
      op.path
    ]![op.method]!;
    const documented = operation.responses[String(res.status)];
    if (!documented) return void this.failures.push(`${where}: status not documented`);
    this.seen.add(`${op.method} ${op.path} ${Math.floor(res.status / 100)}xx`);
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    const content = documented.content;
    if (!content) {
      if (res.status !== 204 && mediaType) this.failures.push(`${where}: undocumented body ${mediaType}`);
      return;
    }
    if (!content[mediaType]) return void this.failures.push(`${where}: media type ${mediaType} not documented`);
    if (!mediaType.endsWith('json')) return;
    const key = `${op.method} ${op.path} ${res.status} ${mediaType}`;
    let schema = this.compiled.get(key);
    if (!schema) {
      schema = inline(content[mediaType]!.schema, this.doc.components.schemas as Record<string, unknown>) as TSchema;
      this.compiled.set(key, schema);
    }
    const checked = validate(schema, JSON.parse(res.text) as unknown);
    if (!checked.ok) this.failures.push(`${where}: body does not match: ${describeErrors(checked.errors)}`);
  }
}
