import { loadEnv } from './env';

const LOCAL = {
  GCP_PROJECT: 'p1',
  STORAGE_KIND: 'local',
  STORAGE_ROOT: '/tmp/aiprod',
  PUBLIC_BASE_URL: 'https://127.0.0.1:8443',
  STORAGE_SIGNING_KEY: 'cd'.repeat(32),
};

describe('qa env', () => {
  it('parses with only the required settings, applying every default', () => {
    expect(loadEnv({ GCP_PROJECT: 'p1', STORAGE_BUCKET: 'aiprod-files' })).toMatchObject({
      STORAGE_KIND: 'gcs',
      QA_CONCURRENCY: 2,
      QA_TIMEOUT_SECONDS: 120,
      QA_JUDGE: 'local',
      GEMINI_MODEL: 'gemini-3.8-flash',
      VERTEX_LOCATION: 'europe-west1',
    });
  });

  it('judges with Gemini from the defaults alone (every setting it needs has one)', () => {
    expect(loadEnv({ ...LOCAL, QA_JUDGE: 'gemini' })).toMatchObject({
      QA_JUDGE: 'gemini',
      VERTEX_LOCATION: 'europe-west1',
    });
  });

  it.each([
    [{ GCP_PROJECT: 'p1' }, 'STORAGE_KIND=gcs requires STORAGE_BUCKET (missing: STORAGE_BUCKET)'],
    [
      { ...LOCAL, STORAGE_ROOT: undefined },
      'STORAGE_KIND=local requires STORAGE_ROOT, PUBLIC_BASE_URL and STORAGE_SIGNING_KEY (missing: STORAGE_ROOT)',
    ],
  ])('refuses a store without what it needs (%#)', (env, message) => {
    expect(() => loadEnv(env)).toThrow(`invalid environment: ${message}`);
  });

  it('never echoes a value in its message', () => {
    const key = 'not-hex-and-too-short';
    expect(() => loadEnv({ ...LOCAL, STORAGE_SIGNING_KEY: key })).toThrow(/STORAGE_SIGNING_KEY/);
    expect(() => loadEnv({ ...LOCAL, STORAGE_SIGNING_KEY: key })).not.toThrow(key);
  });
});
