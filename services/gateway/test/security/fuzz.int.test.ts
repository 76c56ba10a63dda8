// API8 (security misconfiguration: error handling) and API3 (mass assignment / property level):
// at least 1,000 generated hostile briefs to POST /v1/jobs and 250 to POST /v1/estimates through
// the whole middleware chain (auth, Firestore rate limit, idempotency, quotas). Zero 5xx, every
// rejection is application/problem+json (naming the field and the rule whenever the body was
// JSON), and Object.prototype is untouched afterwards.
import fc from 'fast-check';
import { problemTypeUri } from '@aiprod/contracts';
import { BRIEF, serve, type Harness } from '../harness';
import { closeSecureSuite, type LocalIdp, PROBLEM_JSON, startSecureSuite } from './fixtures';

let h: Harness;
let idp: LocalIdp;
let served: Awaited<ReturnType<typeof serve>> | undefined;
let base: string;

// Snapshots of what a prototype-pollution bug would change, taken before any request.
const objectProtoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
const arrayProtoKeys = Object.getOwnPropertyNames(Array.prototype).sort();
const functionProtoKeys = Object.getOwnPropertyNames(Function.prototype).sort();
const originalToString = Object.prototype.toString;
const originalHasOwnProperty = Object.prototype.hasOwnProperty;

beforeAll(async () => {
  // No planner answers estimates here: a valid brief gets its 202 after a short wait instead of
  // holding each property run for the default ten seconds.
  ({ h, idp } = await startSecureSuite('sec-fuzz', { estimateWaitMs: 20 }));
  // The tenant's own concurrent-jobs limit (20 by default) wins over the harness defaults.
  await h.tenants.createTenant({ tenantId: h.tenantA, name: 'A', maxConcurrentJobs: 100_000 });
  served = await serve(h.app);
  base = served.base;
}, 60_000);

afterAll(async () => {
  await served?.close();
  await closeSecureSuite({ h, idp });
});

/** Values JSON cannot carry as such are written into the text raw: `"@@RAW(1e309)@@"` → `1e309`. */
const raw = (text: string) => `@@RAW(${text})@@`;
const serialise = (value: unknown) =>
  JSON.stringify(value).replace(/"@@RAW\((.*?)\)@@"/g, (_m, text: string) => text.replace(/\\"/g, '"'));

/** Sets an own enumerable property, even `__proto__` (plain assignment would change the prototype). */
function own(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const NASTY_STRINGS = [
  '\u0000',
  'tab\there',
  'line\nbreak',
  '\r\n',
  '\u0007bell',
  '\u0085next line',
  '\u202Eevil\u202C',
  'abc\u2066def\u2069',
  '\u200Bzero width',
  '\uFEFFbom',
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\udc00\ud800',
  'e\u0301',
  '<script>alert(1)</script>',
  "'; DROP TABLE jobs;--",
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '../../etc/passwd',
  '%00',
  'javascript:alert(1)',
  'file:///etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
  '',
  ' ',
];
const CONTROL_UNITS = [
  '\u0000',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
  '\ud800',
  '\udc00',
  'a',
  'é',
];

const hostileString = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...CONTROL_UNITS), minLength: 1, maxLength: 40 }),
  // Huge strings: past every field limit, and some past the 64 KiB body limit.
  fc.integer({ min: 201, max: 120_000 }).map((n) => 'x'.repeat(n)),
);
const specialNumber = fc
  .constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    '1e309',
    '-1e309',
    '-0',
    '0x10',
    '1e-400',
    '01',
    '+1',
    '9007199254740993',
    '.5',
  )
  .map(raw);
const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 0, 4.9999, 60.0001, -1, 1e21, Number.MAX_SAFE_INTEGER),
);
const POLLUTION_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '__defineGetter__',
  'hasOwnProperty',
  'toString',
  'valueOf',
];
const key = fc.oneof(
  fc.constantFrom(...POLLUTION_KEYS),
  fc.string({ maxLength: 20 }),
  fc.constantFrom(...NASTY_STRINGS),
);
// Parsed afresh for every sample: a shared object mutated by one case must not leak into another.
const pollutionPayload = fc
  .constantFrom(
    '{"polluted":"yes","isAdmin":true}',
    '{"prototype":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"__proto__":{"polluted":"yes"}}',
    '{"status":"DELIVERED","tenantId":"tenant-b"}',
  )
  .map((text) => JSON.parse(text) as unknown);

const { value: hostileValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    hostileString,
    specialNumber,
    number,
    fc.boolean(),
    fc.constant(null),
    pollutionPayload,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((entries) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of entries) own(o, k, v);
      return o;
    }),
  ),
}));

/** Where a mutation lands: each field of the brief, nested fields, and fields a client must not set. */
const PATHS = [
  ['product'],
  ['brand'],
  ['brand', 'name'],
  ['brand', 'colors'],
  ['brand', 'logoUrl'],
  ['keyMessage'],
  ['audience'],
  ['tone'],
  ['durationSeconds'],
  ['aspectRatios'],
  ['language'],
  ['callToAction'],
  ['scenes'],
  ['referenceImages'],
  ['musicMood'],
  ['voiceOver'],
  ['preset'],
  ['budgetCapUsd'],
  ['metadata'],
  ['metadata', 'campaign'],
  ['status'],
  ['tenantId'],
  ['costUsd'],
  ['jobId'],
  ['__proto__'],
  ['constructor'],
  ['prototype'],
  ['brand', '__proto__'],
  ['metadata', '__proto__'],
  ['metadata', 'constructor'],
] as const;

const mutation = fc.record({
  path: fc.constantFrom(...PATHS),
  op: fc.constantFrom('set', 'set', 'set', 'delete'),
  value: fc.oneof(hostileValue, pollutionPayload),
});

/** A whole body: a mutated brief, or something that is not a brief at all. */
const hostileText = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => {
      const brief = JSON.parse(JSON.stringify(BRIEF)) as Record<string, unknown>;
      for (const m of ms) {
        let at = brief;
        for (const step of m.path.slice(0, -1)) {
          const next = Object.getOwnPropertyDescriptor(at, step)?.value as unknown;
          if (next === null || typeof next !== 'object') {
            own(at, step, {});
          }
          at = Object.getOwnPropertyDescriptor(at, step)!.value as Record<string, unknown>;
        }
        const last = m.path.at(-1)!;
        if (m.op === 'delete') delete at[last];
        else own(at, last, m.value);
      }
      return serialise(brief);
    }),
  },
  // Arrays where objects go, scalars, and the body as a whole replaced.
  { weight: 1, arbitrary: hostileValue.map(serialise) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '[]',
      '[{}]',
      'null',
      '""',
      '0',
      'true',
      '{}',
      '{"__proto__":{"polluted":"yes"}}',
      '{"constructor":{"prototype":{"polluted":"yes"}}}',
    ),
  },
  // Deep nesting, as a whole body and inside a field.
  { weight: 1, arbitrary: fc.integer({ min: 5, max: 30_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 5, max: 5_000 })
      .map((d) => serialise({ ...BRIEF, metadata: raw(`${'{"a":'.repeat(d)}1${'}'.repeat(d)}`) })),
  },
  // Huge arrays.
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 5, max: 40_000 })
      .map((n) => serialise({ ...BRIEF, aspectRatios: raw(new Array<string>(n).fill('"9:16"').join(',')) })),
  },
  // Not JSON at all, or truncated.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{',
      '{"product":',
      "{'product':'x'}",
      'NaN',
      '{"a":1,}',
      '\u0000',
      '{"product":"\\ud800"}',
    ),
  },
);

/** Reported by fast-check in 300 characters at most: some bodies are 60 KiB. */
const hostileBody = hostileText.map((text) => ({
  text,
  [fc.toStringMethod]: () => JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text),
}));

interface Outcome {
  status: number;
  contentType: string;
  body: unknown;
}
async function post(path: string, text: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.keys.readWrite}`, 'content-type': 'application/json', ...headers },
    body: text,
    signal: AbortSignal.timeout(10_000),
  });
  const bodyText = await res.text();
  let body: unknown = bodyText;
  try {
    body = JSON.parse(bodyText);
  } catch {
    // Left as text: the assertion below reports it.
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body };
}

/** Whether the gateway's strict JSON parser takes the text: JSON whose top level is an object or array. */
const parsesAsJson = (text: string) => {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object';
  } catch {
    return false;
  }
};

/** What every answer to a hostile body must be. Returns a complaint, or null. */
function complaint(text: string, out: Outcome): string | null {
  if (out.status >= 500) return `status ${out.status}`;
  if (out.status === 429) return 'a 429 hid the result (limits too low for the fuzz tenant)';
  if (out.status < 400) return out.status === 200 || out.status === 202 ? null : `status ${out.status}`;
  if (!PROBLEM_JSON.test(out.contentType)) return `rejection as ${out.contentType}`;
  const p = out.body as { type?: string; status?: number; errors?: { field?: unknown; rule?: unknown }[] };
  if (typeof p.type !== 'string' || p.status !== out.status) return 'not a problem document';
  if (out.status === 413) return p.type === problemTypeUri('payload_too_large') ? null : `413 as ${p.type}`;
  if (!parsesAsJson(text)) return p.type === problemTypeUri('validation') ? null : `non-JSON body as ${p.type}`;
  if (out.status !== 400) return `status ${out.status} for a JSON body`;
  if (!Array.isArray(p.errors) || p.errors.length === 0) return 'a 400 without errors';
  for (const e of p.errors) {
    if (typeof e.field !== 'string' || typeof e.rule !== 'string' || e.rule === '')
      return 'an error without field and rule';
  }
  return null;
}

const seen = { jobs: 0, estimates: 0, accepted: 0, byStatus: new Map<number, number>() };

it('answers 1,000 hostile briefs to POST /v1/jobs without a 5xx, each rejection a problem naming field and rule', async () => {
  await fc.assert(
    fc.asyncProperty(hostileBody, fc.option(fc.uuid(), { freq: 3 }), async ({ text }, idempotencyKey) => {
      const out = await post('/v1/jobs', text, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
      seen.jobs++;
      seen.byStatus.set(out.status, (seen.byStatus.get(out.status) ?? 0) + 1);
      if (out.status === 202) seen.accepted++;
      const wrong = complaint(text, out);
      if (wrong) throw new Error(`${wrong}: ${JSON.stringify(out.body).slice(0, 300)}`);
    }),
    { numRuns: 1000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
  );
  expect(seen.jobs).toBeGreaterThanOrEqual(1000);
  // Most hostile briefs are refused; if almost none were, the generators are not hostile.
  expect(seen.accepted).toBeLessThan(seen.jobs / 4);
  expect(seen.byStatus.get(400) ?? 0).toBeGreaterThan(seen.jobs / 2);
}, 150_000);

it('answers 250 hostile briefs to POST /v1/estimates the same way', async () => {
  await fc.assert(
    fc.asyncProperty(hostileBody, async ({ text }) => {
      const out = await post('/v1/estimates', text);
      seen.estimates++;
      const wrong = complaint(text, out);
      if (wrong) throw new Error(`${wrong}: ${JSON.stringify(out.body).slice(0, 300)}`);
    }),
    { numRuns: 250, endOnFailure: true },
  );
  expect(seen.estimates).toBeGreaterThanOrEqual(250);
}, 60_000);

it('refuses other media types and charsets as problems too', async () => {
  for (const contentType of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/xml',
    'application/json; charset=koi8-r',
  ]) {
    const out = await post('/v1/jobs', JSON.stringify(BRIEF), { 'content-type': contentType });
    expect([contentType, out.status]).toEqual([contentType, 415]);
    expect(out.contentType).toMatch(PROBLEM_JSON);
  }
  // A charset the parser knows but the bytes are not in: refused as unreadable, still a problem.
  const utf16 = await post('/v1/jobs', JSON.stringify(BRIEF), { 'content-type': 'application/json; charset=utf-16' });
  expect([400, 415]).toContain(utf16.status);
  expect(utf16.contentType).toMatch(PROBLEM_JSON);
});

it('leaves Object.prototype, Array.prototype and Function.prototype unpolluted, and the gateway working', async () => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(objectProtoKeys);
  expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(arrayProtoKeys);
  expect(Object.getOwnPropertyNames(Function.prototype).sort()).toEqual(functionProtoKeys);
  expect(Object.prototype.toString).toBe(originalToString);
  expect(Object.prototype.hasOwnProperty).toBe(originalHasOwnProperty);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  // No stored job took a field a client may not set, whatever was sent.
  const stored = await h.jobs.listJobsForTenant(h.tenantA, { limit: 100 });
  for (const job of stored.jobs) {
    expect(job.tenantId).toBe(h.tenantA);
    const brief = job.brief as unknown as Record<string, unknown>;
    for (const k of ['status', 'tenantId', 'costUsd', 'jobId', '__proto__', 'constructor', 'prototype']) {
      expect(Object.hasOwn(brief, k)).toBe(false);
    }
    expect(Object.getPrototypeOf(brief)).toBe(Object.prototype);
  }
  const ok = await post('/v1/jobs', JSON.stringify(BRIEF));
  expect(ok.status).toBe(202);
});
