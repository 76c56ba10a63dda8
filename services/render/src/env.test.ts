import { loadEnv, poolModels } from './env';

const GCS = { GCP_PROJECT: 'p1', STORAGE_BUCKET: 'aiprod-files' };

describe('render env', () => {
  it('parses with only the required settings, applying every default', () => {
    const env = loadEnv({ ...GCS, RENDER_BACKEND: 'local' });
    expect(env).toMatchObject({
      RENDER_BACKEND: 'local',
      ENABLED_BACKENDS: ['local'],
      RENDER_TIMEOUT_SECONDS: 300,
      RENDER_LEASE_SECONDS: 30,
      RENDER_POLL_TIMEOUT_SECONDS: 60,
      RENDER_CACHE_TTL_SECONDS: 168 * 3600,
      VERTEX_LOCATION: 'us-central1',
    });
    expect(env.RENDER_CONCURRENCY).toBeUndefined();
  });

  it('parses ENABLED_BACKENDS into the deployed pools', () => {
    const env = loadEnv({ ...GCS, RENDER_BACKEND: 'veo', ENABLED_BACKENDS: 'local, veo,local' });
    expect(env.ENABLED_BACKENDS).toEqual(['local', 'veo']);
  });

  it.each([
    [
      'a pool for a backend the deployment does not run',
      { ...GCS, RENDER_BACKEND: 'veo', ENABLED_BACKENDS: 'local,runway' },
      'RENDER_BACKEND=veo is not in ENABLED_BACKENDS (local,runway)',
    ],
    [
      'a Runway pool without its key',
      { ...GCS, RENDER_BACKEND: 'runway', ENABLED_BACKENDS: 'local,runway' },
      'RENDER_BACKEND=runway requires RUNWAY_API_KEY (missing: RUNWAY_API_KEY)',
    ],
    [
      'a Replicate pool without its token',
      { ...GCS, RENDER_BACKEND: 'replicate', ENABLED_BACKENDS: 'replicate' },
      'RENDER_BACKEND=replicate requires REPLICATE_API_TOKEN (missing: REPLICATE_API_TOKEN)',
    ],
    [
      'Veo output outside our bucket',
      { ...GCS, RENDER_BACKEND: 'veo', ENABLED_BACKENDS: 'veo', VEO_OUTPUT_GCS_PREFIX: 'gs://aiprod-files-other/veo' },
      'VEO_OUTPUT_GCS_PREFIX must lie in gs://STORAGE_BUCKET/ with STORAGE_KIND=gcs (the clips are read back from our bucket)',
    ],
    [
      'a gcs store without a bucket',
      { GCP_PROJECT: 'p1', RENDER_BACKEND: 'local' },
      'STORAGE_KIND=gcs requires STORAGE_BUCKET (missing: STORAGE_BUCKET)',
    ],
  ])('refuses %s with a message naming the settings', (_, env, message) => {
    expect(() => loadEnv(env)).toThrow(`invalid environment: ${message}`);
  });

  it('reports every broken rule at once', () => {
    expect(() => loadEnv({ GCP_PROJECT: 'p1', RENDER_BACKEND: 'runway' })).toThrow(
      'invalid environment: STORAGE_KIND=gcs requires STORAGE_BUCKET (missing: STORAGE_BUCKET); RENDER_BACKEND=runway is not in ENABLED_BACKENDS (local); RENDER_BACKEND=runway requires RUNWAY_API_KEY (missing: RUNWAY_API_KEY)',
    );
  });

  it('accepts a vendor pool that has what it needs', () => {
    const env = loadEnv({
      ...GCS,
      RENDER_BACKEND: 'veo',
      ENABLED_BACKENDS: 'local,veo',
      VEO_OUTPUT_GCS_PREFIX: 'gs://aiprod-files/veo',
    });
    expect(env.VEO_OUTPUT_GCS_PREFIX).toBe('gs://aiprod-files/veo');
    expect(
      loadEnv({ ...GCS, RENDER_BACKEND: 'runway', ENABLED_BACKENDS: 'runway', RUNWAY_API_KEY: 'key_12345678' }),
    ).toMatchObject({ RENDER_BACKEND: 'runway' });
  });

  it('names a missing RENDER_BACKEND', () => {
    expect(() => loadEnv(GCS)).toThrow(/RENDER_BACKEND/);
  });

  it("reads every pool's model from BACKEND_MODELS, the pool's older variable when it does not name the pool, and refuses the two disagreeing", () => {
    const runway = {
      ...GCS,
      RENDER_BACKEND: 'runway',
      ENABLED_BACKENDS: 'local,runway',
      RUNWAY_API_KEY: 'key_12345678',
    };
    const shared = loadEnv({ ...runway, BACKEND_MODELS: 'runway=gen4_turbo,replicate=bytedance/seedance-1-lite' });
    expect(poolModels(shared)).toMatchObject({
      runway: 'gen4_turbo',
      replicate: 'bytedance/seedance-1-lite',
      veo: 'veo-3.1-fast-generate-001',
      local: 'animatic-1',
    });
    expect(poolModels(loadEnv({ ...runway, RUNWAY_MODEL: 'gen4_turbo' })).runway).toBe('gen4_turbo');
    expect(poolModels(loadEnv({ ...runway, RUNWAY_MODEL: 'gen4.5', BACKEND_MODELS: 'runway=gen4.5' })).runway).toBe(
      'gen4.5',
    );
    expect(() => loadEnv({ ...runway, RUNWAY_MODEL: 'gen4.5', BACKEND_MODELS: 'runway=gen4_turbo' })).toThrow(
      /RUNWAY_MODEL=gen4\.5 disagrees with BACKEND_MODELS \(runway=gen4_turbo\)/,
    );
    expect(() => loadEnv({ ...runway, BACKEND_MODELS: 'veo=veo-2.0' })).toThrow(/no veo model "veo-2\.0"/);
  });
});
