import { loadEnv } from './env';

describe('delivery env', () => {
  it('parses with only the required settings, applying every default', () => {
    const env = loadEnv({ GCP_PROJECT: 'p1', STORAGE_BUCKET: 'aiprod-files' });
    expect(env).toMatchObject({
      STORAGE_KIND: 'gcs',
      STORAGE_BUCKET: 'aiprod-files',
      ASSEMBLY_TIMEOUT_SECONDS: 600,
      WEBHOOK_TIMEOUT_SECONDS: 10,
      WEBHOOK_POLL_SECONDS: 5,
      LOGO_FETCH_TIMEOUT_SECONDS: 15,
      ALLOW_LOOPBACK_HTTP: false,
    });
    expect(env.WORK_DIR).toBeUndefined();
  });

  it.each([
    [{ GCP_PROJECT: 'p1', STORAGE_KIND: 'gcs' }, 'STORAGE_KIND=gcs requires STORAGE_BUCKET (missing: STORAGE_BUCKET)'],
    [
      { GCP_PROJECT: 'p1', STORAGE_KIND: 'local', STORAGE_BUCKET: 'aiprod-files' },
      'STORAGE_KIND=local requires STORAGE_ROOT, PUBLIC_BASE_URL and STORAGE_SIGNING_KEY (missing: STORAGE_ROOT, PUBLIC_BASE_URL, STORAGE_SIGNING_KEY)',
    ],
  ])('refuses a store without what it needs (%#)', (env, message) => {
    expect(() => loadEnv(env)).toThrow(`invalid environment: ${message}`);
  });

  it('names a malformed number', () => {
    expect(() => loadEnv({ GCP_PROJECT: 'p1', STORAGE_BUCKET: 'b12', WEBHOOK_TIMEOUT_SECONDS: 'soon' })).toThrow(
      /WEBHOOK_TIMEOUT_SECONDS/,
    );
  });
});
