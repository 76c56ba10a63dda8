import { ConfigError } from '@aiprod/config';
import { loadEnv } from './env';

const GCS = { GCP_PROJECT: 'p1', STORAGE_BUCKET: 'aiprod-files' };
const LOCAL = {
  GCP_PROJECT: 'p1',
  STORAGE_KIND: 'local',
  STORAGE_ROOT: '/tmp/aiprod',
  PUBLIC_BASE_URL: 'https://127.0.0.1:8443',
  STORAGE_SIGNING_KEY: 'ab'.repeat(32),
};
const OIDC = {
  OIDC_ISSUER: 'https://id.example.com',
  OIDC_AUDIENCE: 'aiprod',
  OIDC_JWKS_URL: 'https://id.example.com/jwks',
};

describe('gateway env', () => {
  it('parses with only the required settings, applying every default', () => {
    const env = loadEnv(GCS);
    expect(env).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      STORAGE_KIND: 'gcs',
      ENABLED_BACKENDS: ['local'],
      OIDC_ALGORITHMS: ['RS256', 'ES256'],
      OIDC_TENANT_CLAIM: 'aiprod_tenant',
      TRUST_PROXY_HOPS: 0,
      ALLOW_LOOPBACK_HTTP: false,
    });
    expect(env.CORS_ALLOWED_ORIGINS).toBeUndefined();
    expect(env.OIDC_AUDIENCE).toBeUndefined();
  });

  it('parses the lists once: trimmed, without empty or repeated entries', () => {
    const env = loadEnv({
      ...LOCAL,
      ...OIDC,
      OIDC_AUDIENCE: 'aiprod, console ,aiprod',
      ENABLED_BACKENDS: 'veo, local,,veo',
      CORS_ALLOWED_ORIGINS: 'https://app.example.com,,https://studio.example.com',
      OIDC_ALGORITHMS: 'ES256',
    });
    expect(env.OIDC_AUDIENCE).toEqual(['aiprod', 'console']);
    expect(env.ENABLED_BACKENDS).toEqual(['veo', 'local']);
    expect(env.CORS_ALLOWED_ORIGINS).toEqual(['https://app.example.com', 'https://studio.example.com']);
    expect(env.OIDC_ALGORITHMS).toEqual(['ES256']);
  });

  it.each([
    [
      'an unknown backend',
      { ...GCS, ENABLED_BACKENDS: 'local,vimeo' },
      'ENABLED_BACKENDS entry 2 must be one of runway, veo, replicate, local',
    ],
    ['a symmetric algorithm', { ...GCS, OIDC_ALGORITHMS: 'RS256,HS256' }, 'OIDC_ALGORITHMS entry 2 must match pattern'],
    ['an empty list', { ...GCS, ENABLED_BACKENDS: ' , ' }, 'ENABLED_BACKENDS lists nothing'],
  ])('refuses %s, naming the setting and the entry', (_, env, message) => {
    expect(() => loadEnv(env)).toThrow(message);
  });

  it.each([
    [
      'gcs storage without a bucket',
      { GCP_PROJECT: 'p1' },
      'STORAGE_KIND=gcs requires STORAGE_BUCKET (missing: STORAGE_BUCKET)',
    ],
    [
      'local storage without its URL and key',
      { ...LOCAL, PUBLIC_BASE_URL: undefined, STORAGE_SIGNING_KEY: undefined },
      'STORAGE_KIND=local requires STORAGE_ROOT, PUBLIC_BASE_URL and STORAGE_SIGNING_KEY (missing: PUBLIC_BASE_URL, STORAGE_SIGNING_KEY)',
    ],
    [
      'OIDC without a JWKS URL',
      { ...GCS, ...OIDC, OIDC_JWKS_URL: undefined },
      'OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL are set together or not at all (missing: OIDC_JWKS_URL)',
    ],
    [
      'a certificate without its key',
      { ...GCS, TLS_CERT_FILE: '/tls/cert.pem' },
      'TLS_CERT_FILE and TLS_KEY_FILE are set together or not at all (missing: TLS_KEY_FILE)',
    ],
  ])('refuses %s with a message naming the settings', (_, env, message) => {
    let error: unknown;
    try {
      loadEnv(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`invalid environment: ${message}`);
  });

  it('accepts each rule when kept', () => {
    expect(() => loadEnv({ ...LOCAL, ...OIDC, TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem' })).not.toThrow();
  });
});
