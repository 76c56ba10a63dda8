import { loadEnv } from './env';

// The planner stores the brief's reference images: a bucket is as required as the project.
const BASE = { GCP_PROJECT: 'p1', STORAGE_BUCKET: 'aiprod-media' };

describe('planner env', () => {
  it('parses with only GCP_PROJECT and STORAGE_BUCKET, applying every default', () => {
    expect(loadEnv({ ...BASE })).toMatchObject({
      PLANNER_DIRECTOR: 'local',
      PLANNER_FALLBACK_TO_LOCAL: false,
      ENABLED_BACKENDS: ['local'],
      GEMINI_MODEL: 'gemini-3.8-flash',
      VERTEX_LOCATION: 'europe-west1',
      PLANNER_GEMINI_TIMEOUT_SECONDS: 45,
      PLANNER_GEMINI_ATTEMPTS: 3,
      SWEEP_INTERVAL_SECONDS: 30,
      REFERENCE_FETCH_TIMEOUT_SECONDS: 20,
      ALLOW_LOOPBACK_HTTP: false,
      STORAGE_KIND: 'gcs',
    });
  });

  it('names the bucket it needs to store reference images', () => {
    expect(() => loadEnv({ GCP_PROJECT: 'p1' })).toThrow(/STORAGE_BUCKET/);
  });

  it('reads the deployed pools from ENABLED_BACKENDS, the name the gateway and render pools use', () => {
    const env = loadEnv({ ...BASE, ENABLED_BACKENDS: 'local,runway, veo,replicate,runway' });
    expect(env.ENABLED_BACKENDS).toEqual(['local', 'runway', 'veo', 'replicate']);
  });

  it('reads the retired name PLANNER_BACKENDS for one release, and refuses it when it disagrees', () => {
    // A new image on a pool whose environment still has only the old name must not plan every
    // paid brief on the free local pool.
    expect(loadEnv({ ...BASE, PLANNER_BACKENDS: 'veo,local' }).ENABLED_BACKENDS).toEqual(['veo', 'local']);
    expect(
      loadEnv({ ...BASE, PLANNER_BACKENDS: 'local,veo', ENABLED_BACKENDS: 'veo, local' }).ENABLED_BACKENDS,
    ).toEqual(['veo', 'local']);
    expect(() => loadEnv({ ...BASE, PLANNER_BACKENDS: 'veo', ENABLED_BACKENDS: 'local' })).toThrow(
      'PLANNER_BACKENDS (the retired name of ENABLED_BACKENDS) disagrees with ENABLED_BACKENDS',
    );
  });

  it('refuses an unknown backend, naming the setting and the entry', () => {
    expect(() => loadEnv({ ...BASE, ENABLED_BACKENDS: 'runway,sora' })).toThrow(
      'invalid environment: ENABLED_BACKENDS entry 2 must be one of runway, veo, replicate, local',
    );
  });

  it('plans with Gemini from the defaults alone (every setting it needs has one)', () => {
    expect(loadEnv({ ...BASE, PLANNER_DIRECTOR: 'gemini' })).toMatchObject({
      PLANNER_DIRECTOR: 'gemini',
      VERTEX_LOCATION: 'europe-west1',
      GEMINI_MODEL: 'gemini-3.8-flash',
    });
  });

  it('translates with Gemini only when asked, from the settings the gemini director uses', () => {
    expect(loadEnv({ ...BASE }).PLANNER_TRANSLATOR).toBe('none');
    expect(loadEnv({ ...BASE, PLANNER_TRANSLATOR: 'gemini' })).toMatchObject({
      PLANNER_TRANSLATOR: 'gemini',
      VERTEX_LOCATION: 'europe-west1',
      GEMINI_MODEL: 'gemini-3.8-flash',
    });
    // An empty value is unset, so it takes the default: only the project can be missing.
    expect(loadEnv({ ...BASE, PLANNER_TRANSLATOR: 'gemini', GEMINI_MODEL: '' }).GEMINI_MODEL).toBe('gemini-3.8-flash');
    expect(() => loadEnv({ STORAGE_BUCKET: 'b', PLANNER_TRANSLATOR: 'gemini' })).toThrow(/GCP_PROJECT/);
    expect(() => loadEnv({ ...BASE, PLANNER_TRANSLATOR: 'deepl' })).toThrow(/PLANNER_TRANSLATOR/);
  });

  it('names a missing project', () => {
    expect(() => loadEnv({})).toThrow(/GCP_PROJECT/);
  });

  it('checks BACKEND_MODELS against the vendor catalogue at start-up', () => {
    expect(loadEnv({ ...BASE, BACKEND_MODELS: 'runway=gen4_turbo' }).BACKEND_MODELS).toBe('runway=gen4_turbo');
    expect(() => loadEnv({ ...BASE, BACKEND_MODELS: 'runway=gen9' })).toThrow(/BACKEND_MODELS.*no runway model "gen9"/);
  });
});
