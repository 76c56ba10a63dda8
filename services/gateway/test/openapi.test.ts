import { validate as validateOpenApi, compileErrors } from '@readme/openapi-parser';
import type { Router } from 'express';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { PROBLEM_TYPES, type ProblemKind } from '@aiprod/contracts';
import { PROBLEM_EXPLANATIONS } from '../src/problem-pages';
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
    assets: unused,
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
      for (const t of types) expect(t.const).toMatch(/^\/problems\/[a-z-]+$/);
    }
    for (const op of OPERATIONS) {
      const security = (doc.paths as Record<string, Record<string, { security: unknown[] }>>)[op.path]![op.method]!
        .security;
      if (op.access === 'public') expect(security).toEqual([]);
      else expect(security).toEqual([{ apiKey: [op.access] }, { oidc: [op.access] }]);
    }
  });

  it('names its servers and license, and gives every operation and webhook a 4xx answer', () => {
    const doc = buildOpenApiDocument({ serverUrl: 'https://api.example.com' });
    expect(doc.servers).toEqual([{ url: 'https://api.example.com', description: 'The AIPROD gateway.' }]);
    expect(buildOpenApiDocument().servers[0]!.url).toBe('/');
    expect(doc.info.license.identifier).toBe('LicenseRef-AIPROD-Proprietary');
    const operations = [
      ...Object.values(doc.paths).flatMap((methods) => Object.values(methods)),
      ...Object.values(doc.webhooks).map((w) => (w as { post: unknown }).post),
    ] as { operationId: string; responses: Record<string, unknown> }[];
    for (const op of operations) {
      const fourXx = Object.keys(op.responses).filter((s) => s.startsWith('4'));
      expect([op.operationId, fourXx.length > 0]).toEqual([op.operationId, true]);
    }
    // Every authenticated operation answers the authentication problems as problem+json.
    const getJob = (doc.paths as Record<string, Record<string, { responses: Record<string, { content?: object }> }>>)[
      '/v1/jobs/{id}'
    ]!.get!;
    for (const status of ['401', '403', '404', '429']) {
      expect(Object.keys(getJob.responses[status]!.content!)).toEqual(['application/problem+json']);
    }
  });

  it('describes every webhook event the platform sends', () => {
    const doc = buildOpenApiDocument();
    expect(Object.keys(doc.webhooks).sort()).toEqual([
      'job.awaiting_approval',
      'job.canceled',
      'job.delivered',
      'job.failed',
    ]);
  });
});

describe('the pages a person reads', () => {
  const app = appWithEveryRoute();

  it('resolves every problem type in the document to a page explaining it, and refuses another', async () => {
    const types = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (v && typeof v === 'object') {
        const c = (v as { const?: unknown }).const;
        if (typeof c === 'string' && c.startsWith('/problems/')) types.add(c);
        Object.values(v).forEach(walk);
      }
    };
    walk(buildOpenApiDocument().components.schemas);
    expect(types.size).toBe(Object.keys(PROBLEM_TYPES).length);
    for (const type of types) {
      const res = await request(app).get(type);
      expect([type, res.status]).toEqual([type, 200]);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('What to do');
    }
    expect((await request(app).get('/problems/no-such-thing')).status).toBe(404);
    const index = await request(app).get('/problems');
    expect(index.status).toBe(200);
    for (const type of types) expect(index.text).toContain(`href="${type}"`);
  });

  it('explains every problem kind in words of its own', () => {
    const missing = (Object.keys(PROBLEM_TYPES) as ProblemKind[]).filter((k) => !PROBLEM_EXPLANATIONS[k]);
    expect(missing).toEqual([]);
  });

  it('serves the API reference at /docs without a key, with its script from the gateway itself', async () => {
    const page = await request(app).get('/docs');
    expect(page.status).toBe(200);
    expect(page.text).toContain('spec-url="/v1/openapi.json"');
    const src = /<script src="([^"]+)"/.exec(page.text)![1]!;
    expect(src.startsWith('/')).toBe(true);
    const script = await request(app).get(src);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(Number(script.headers['content-length'])).toBeGreaterThan(500_000);
  });
});

it('answers oversized request headers with 431 before any route, as documented for every operation', async () => {
  const server = createServer(appWithEveryRoute());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    for (const path of ['/healthz', '/docs', '/v1/jobs']) {
      const status = await new Promise<number | undefined>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path, headers: { 'X-Padding': 'x'.repeat(20_000) } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject);
      });
      expect([path, status]).toEqual([path, 431]);
    }
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  const doc = buildOpenApiDocument();
  for (const methods of Object.values(doc.paths)) {
    for (const op of Object.values(methods) as { responses: Record<string, unknown> }[])
      expect(op.responses['431']).toBeDefined();
  }
});
