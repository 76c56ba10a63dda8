import { Type } from '@sinclair/typebox';
import {
  allOrNone,
  brokenRules,
  CommaList,
  ConfigError,
  envSchema,
  oneOfList,
  parseEnv,
  renderReference,
  requiresWhen,
  rulesOf,
} from './index';

const Schema = Type.Object(
  {
    PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
    GCP_PROJECT: Type.String({ minLength: 1 }),
    VERBOSE: Type.Boolean({ default: false }),
    SECRET_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  },
  { additionalProperties: false },
);

describe('parseEnv', () => {
  it('converts, applies defaults and ignores unrelated variables', () => {
    const env = parseEnv(Schema, { GCP_PROJECT: 'p1', VERBOSE: 'true', HOME: '/home/x' });
    expect(env).toEqual({ PORT: 8080, GCP_PROJECT: 'p1', VERBOSE: true });
  });

  it('names the missing variable', () => {
    expect(() => parseEnv(Schema, {})).toThrow(/GCP_PROJECT/);
  });

  it('names a malformed variable without echoing its value', () => {
    let error: unknown;
    try {
      parseEnv(Schema, { GCP_PROJECT: 'p', PORT: '99999', SECRET_TOKEN: 'short-secret' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/SECRET_TOKEN/);
    expect(message).not.toContain('short-secret');
  });
});

const Deployment = envSchema(
  {
    MODE: Type.Union([Type.Literal('simple'), Type.Literal('tls')], { default: 'simple', description: 'how' }),
    CERT: Type.Optional(Type.String({ minLength: 1 })),
    KEY: Type.Optional(Type.String({ minLength: 1 })),
    PRIMARY: Type.Optional(Type.Union([Type.Literal('a'), Type.Literal('b'), Type.Literal('c')])),
    ZONES: CommaList(Type.Union([Type.Literal('a'), Type.Literal('b'), Type.Literal('c')]), {
      default: 'a',
      description: 'zones | served',
    }),
    ORIGINS: Type.Optional(CommaList(Type.String({ format: 'uri' }))),
  },
  [requiresWhen('MODE', 'tls', ['CERT', 'KEY']), allOrNone('CERT', 'KEY'), oneOfList('PRIMARY', 'ZONES')],
);

// A rule about a setting the schema does not have does not compile.
// @ts-expect-error NOT_A_SETTING is not a property
envSchema({ A: Type.String() }, [requiresWhen('A', 'x', ['NOT_A_SETTING'])]);

describe('CommaList', () => {
  it('splits once: entries trimmed, empty ones dropped, repeats kept once in their first place', () => {
    const env = parseEnv(Deployment, { ZONES: ' c, a,,c ', ORIGINS: 'https://x.example,https://y.example' });
    expect(env.ZONES).toEqual(['c', 'a']);
    expect(env.ORIGINS).toEqual(['https://x.example', 'https://y.example']);
  });

  it('applies the default as the environment would spell it, and leaves an optional list unset', () => {
    const env = parseEnv(Deployment, {});
    expect(env.ZONES).toEqual(['a']);
    expect(env.ORIGINS).toBeUndefined();
  });

  it('names the setting and the position of a bad entry, never the entry itself', () => {
    expect(() => parseEnv(Deployment, { ZONES: 'a,secret-zone' })).toThrow(
      new ConfigError('invalid environment: ZONES entry 2 must be one of a, b, c'),
    );
    let message = '';
    try {
      parseEnv(Deployment, { ORIGINS: 'https://x.example,not a url' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^invalid environment: ORIGINS entry 2 .*uri/);
    expect(message).not.toContain('not a url');
  });

  it('refuses a list of nothing', () => {
    expect(() => parseEnv(Deployment, { ZONES: ',' })).toThrow('invalid environment: ZONES lists nothing');
  });
});

describe('rules across settings', () => {
  it.each([
    [{ MODE: 'tls' }, 'MODE=tls requires CERT and KEY (missing: CERT, KEY)'],
    [
      { MODE: 'tls', CERT: 'c' },
      'MODE=tls requires CERT and KEY (missing: KEY); CERT and KEY are set together or not at all (missing: KEY)',
    ],
    [{ KEY: 'k' }, 'CERT and KEY are set together or not at all (missing: CERT)'],
    [{ PRIMARY: 'b', ZONES: 'a,c' }, 'PRIMARY=b is not in ZONES (a,c)'],
  ])('refuses %j naming the settings', (env, message) => {
    expect(() => parseEnv(Deployment, env)).toThrow(new ConfigError(`invalid environment: ${message}`));
  });

  it.each([[{}], [{ MODE: 'tls', CERT: 'c', KEY: 'k' }], [{ CERT: 'c', KEY: 'k' }], [{ PRIMARY: 'c', ZONES: 'a,c' }]])(
    'accepts %j',
    (env) => {
      expect(() => parseEnv(Deployment, env)).not.toThrow();
    },
  );

  it('are checked only once every setting is valid on its own', () => {
    expect(() => parseEnv(Deployment, { MODE: 'ssl' })).toThrow(/invalid environment: MODE —/);
  });

  it('are carried by the schema without entering its JSON', () => {
    expect(rulesOf(Deployment).map((r) => r.text)).toEqual([
      'MODE=tls requires CERT and KEY',
      'CERT and KEY are set together or not at all',
      'PRIMARY is one of ZONES',
    ]);
    expect(JSON.stringify(Deployment)).not.toContain('requires');
  });
});

describe('brokenRules', () => {
  it('checks written settings without starting anything: references count as set, lists are split', () => {
    expect(brokenRules(Deployment, { MODE: 'tls', CERT: '${var.cert}' })).toEqual([
      'MODE=tls requires CERT and KEY (missing: KEY)',
      'CERT and KEY are set together or not at all (missing: KEY)',
    ]);
    expect(brokenRules(Deployment, { PRIMARY: 'c', ZONES: 'a, c' })).toEqual([]);
    expect(brokenRules(Deployment, { PRIMARY: 'c' })).toEqual(['PRIMARY=c is not in ZONES (a)']);
  });

  it('finds nothing to check on a schema without rules', () => {
    expect(brokenRules({ properties: { A: { type: 'string' } } }, {})).toEqual([]);
  });
});

describe('renderReference', () => {
  const doc = renderReference([{ title: 'svc', intro: 'The svc.', schema: Deployment }]);
  const row = (name: string) => doc.split('\n').find((l) => l.startsWith(`| \`${name}\``));

  it('lists every setting with its type, default, whether it is required, and its description', () => {
    expect(row('MODE')).toBe('| `MODE` | `simple` / `tls` | `simple` | no | how |');
    expect(row('ZONES')).toBe('| `ZONES` | comma list of `a` / `b` / `c` | `a` | no | zones \\| served |');
    expect(row('CERT')).toBe('| `CERT` | string | — | by rule |  |');
    expect(row('ORIGINS')).toBe('| `ORIGINS` | comma list of URL | — | no |  |');
  });

  it('marks a setting without a default as required and lists the rules', () => {
    const required = renderReference([
      { title: 't', intro: 'i', schema: envSchema({ N: Type.Integer({ minimum: 1, maximum: 9 }) }) },
    ]);
    expect(required).toContain('| `N` | integer 1–9 | — | yes |  |');
    expect(doc).toContain('- MODE=tls requires CERT and KEY\n- CERT and KEY are set together or not at all');
  });
});
