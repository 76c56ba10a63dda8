import { validate as validateOpenApi, compileErrors } from '@readme/openapi-parser';
import type { Router } from 'express';
import { createBlobStore } from '@aiprod/storage';
import { memoryLog } from '@aiprod/testing';
import { buildGateway, type GatewayDeps } from '../src/app';
import { reviewLinks } from '../src/review-links';
import { buildOpenApiDocument, OPERATIONS } from '../src/openapi/document';

/** Express path patterns → OpenAPI paths: `:id` → `{id}`, `*path` → `{path}`. */
const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}').replace(/\*(\w+)/g, '{$1}');

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every route the app serves, found by walking express's router stacks (routers are mounted at /). */
function servedRoutes(app: ReturnType<typeof buildGateway>): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push(`${method} ${toOpenApiPath(layer.route.path)}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: Router & { stack: Layer[] } }).router.stack);
  return out.sort();
}

function appWithEveryRoute() {
  // No I/O happens while building: the stores are never called.
  const unused = {} as never;
  const deps: GatewayDeps = {
    log: memoryLog().log,
    jobs: unused,
    plans: unused,
    tenants: unused,
    webhooks: unused,
    publisher: unused,
    storage: createBlobStore({
      kind: 'local',
      rootDir: '/nonexistent',
      publicBaseUrl: 'https://127.0.0.1:1',
      signingKey: Buffer.alloc(32),
    }),
    // The local store's file route is served only with a signing key: include it, it is documented.
    signingKey: Buffer.alloc(32),
    outputUrlTtlSeconds: 3600,
    isReady: () => true,
    // Review links are served only with their secret: include them, they are documented.
    reviewLinks: reviewLinks(Buffer.alloc(32, 1)),
  };
  return buildGateway(deps);
}

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const doc = buildOpenApiDocument();
    const result = await validateOpenApi(structuredClone(doc) as never);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(doc.openapi).toBe('3.1.0');
  });

  it('documents exactly the routes the app serves, no more, no fewer', () => {
    const served = servedRoutes(appWithEveryRoute());
    const documented = OPERATIONS.map((op) => `${op.method} ${op.path}`).sort();
    expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !served.includes(r))).toEqual([]);
    expect(new Set(served).size).toBe(served.length);
  });

  it('gives every problem response a stable type URI and every authenticated operation both schemes', () => {
    const doc = buildOpenApiDocument();
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      if (!name.startsWith('Problem')) continue;
      const type = (schema as { properties: { type: { anyOf?: { const: string }[]; const?: string } } }).properties
        .type;
      // TypeBox writes a one-member union as the member itself.
      const types = type.anyOf ?? [type as { const: string }];
      expect(types.length).toBeGreaterThan(0);
      for (const t of types) expect(t.const).toMatch(/^https:\/\/aiprod\.dev\/problems\/[a-z-]+$/);
    }
    for (const op of OPERATIONS) {
      const security = (doc.paths as Record<string, Record<string, { security: unknown[] }>>)[op.path]![op.method]!
        .security;
      if (op.access === 'public') expect(security).toEqual([]);
      else expect(security).toEqual([{ apiKey: [op.access] }, { oidc: [op.access] }]);
    }
  });
});
