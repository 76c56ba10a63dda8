import { loadEnv } from './env';

describe('planner env', () => {
  it('parses with only GCP_PROJECT, applying every default', () => {
    expect(loadEnv({ GCP_PROJECT: 'p1' })).toMatchObject({
      PLANNER_DIRECTOR: 'local',
      PLANNER_FALLBACK_TO_LOCAL: false,
      ENABLED_BACKENDS: ['local'],
      GEMINI_MODEL: 'gemini-3.8-flash',
      VERTEX_LOCATION: 'europe-west1',
      PLANNER_GEMINI_TIMEOUT_SECONDS: 45,
      PLANNER_GEMINI_ATTEMPTS: 3,
      SWEEP_INTERVAL_SECONDS: 30,
    });
  });

  it('reads the deployed pools from ENABLED_BACKENDS, the name the gateway and render pools use', () => {
    const env = loadEnv({ GCP_PROJECT: 'p1', ENABLED_BACKENDS: 'local,runway, veo,replicate,runway' });
    expect(env.ENABLED_BACKENDS).toEqual(['local', 'runway', 'veo', 'replicate']);
  });

  it('reads the retired name PLANNER_BACKENDS for one release, and refuses it when it disagrees', () => {
    // A new image on a pool whose environment still has only the old name must not plan every
    // paid brief on the free local pool.
    expect(loadEnv({ GCP_PROJECT: 'p1', PLANNER_BACKENDS: 'veo,local' }).ENABLED_BACKENDS).toEqual(['veo', 'local']);
    expect(
      loadEnv({ GCP_PROJECT: 'p1', PLANNER_BACKENDS: 'local,veo', ENABLED_BACKENDS: 'veo, local' }).ENABLED_BACKENDS,
    ).toEqual(['veo', 'local']);
    expect(() => loadEnv({ GCP_PROJECT: 'p1', PLANNER_BACKENDS: 'veo', ENABLED_BACKENDS: 'local' })).toThrow(
      'PLANNER_BACKENDS (the retired name of ENABLED_BACKENDS) disagrees with ENABLED_BACKENDS',
    );
  });

  it('refuses an unknown backend, naming the setting and the entry', () => {
    expect(() => loadEnv({ GCP_PROJECT: 'p1', ENABLED_BACKENDS: 'runway,sora' })).toThrow(
      'invalid environment: ENABLED_BACKENDS entry 2 must be one of runway, veo, replicate, local',
    );
  });

  it('plans with Gemini from the defaults alone (every setting it needs has one)', () => {
    expect(loadEnv({ GCP_PROJECT: 'p1', PLANNER_DIRECTOR: 'gemini' })).toMatchObject({
      PLANNER_DIRECTOR: 'gemini',
      VERTEX_LOCATION: 'europe-west1',
      GEMINI_MODEL: 'gemini-3.8-flash',
    });
  });

  it('names a missing project', () => {
    expect(() => loadEnv({})).toThrow(/GCP_PROJECT/);
  });
});
