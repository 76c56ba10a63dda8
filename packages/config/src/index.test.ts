import { Type } from '@sinclair/typebox';
import { ConfigError, parseEnv } from './index';

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
