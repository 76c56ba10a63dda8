import { BACKENDS } from '@aiprod/contracts';
import {
  BACKEND_CAPABILITIES,
  DEFAULT_MODELS,
  durationRange,
  isAllowedDuration,
  modelCapability,
  parseBackendModels,
  requiresImage,
  shotNeedsImage,
  takesImage,
  neighbourDurations,
  resolutionFor,
  resolveModels,
  snapDuration,
} from './capabilities';
import { fitDurations } from './durations';

describe('vendor catalogue', () => {
  it('has a default model per backend, today’s models as the defaults', () => {
    expect(DEFAULT_MODELS).toEqual({
      local: 'animatic-1',
      replicate: 'wan-video/wan-2.2-t2v-fast',
      runway: 'gen4.5',
      veo: 'veo-3.1-fast-generate-001',
    });
    for (const b of BACKENDS) expect(modelCapability(b).model).toBe(DEFAULT_MODELS[b]);
  });

  it('refuses a model it does not know, naming the backend and the models it knows', () => {
    expect(() => modelCapability('veo', 'veo-3.0-generate-001')).toThrow(
      /no veo model "veo-3.0-generate-001" \(known: veo-3.1-fast-generate-001, veo-3.1-generate-001\)/,
    );
    // Not fooled by names every object has.
    expect(() => modelCapability('runway', 'constructor')).toThrow(/no runway model/);
    expect(() => resolveModels({ replicate: 'acme/vid' })).toThrow(/no replicate model "acme\/vid"/);
    expect(() => isAllowedDuration('runway', 5, 30, 'gen9')).toThrow(/no runway model "gen9"/);
    expect(resolveModels({ runway: 'gen4_turbo' })).toEqual({ ...DEFAULT_MODELS, runway: 'gen4_turbo' });
  });

  it('keeps each model’s own duration rule', () => {
    const cases: [Parameters<typeof durationRange>[0], string, { min: number; max: number }, number[], number[]][] = [
      // backend, model, range, allowed samples, refused samples
      ['local', 'animatic-1', { min: 1, max: 20 }, [1, 2.5, 20], [0.5, 21]],
      ['veo', 'veo-3.1-fast-generate-001', { min: 4, max: 8 }, [4, 6, 8], [5, 7, 10]],
      ['veo', 'veo-3.1-generate-001', { min: 4, max: 8 }, [4, 6, 8], [2, 5]],
      ['runway', 'gen4.5', { min: 2, max: 10 }, [2, 7, 10], [1, 2.5, 11]],
      ['runway', 'gen4_turbo', { min: 2, max: 10 }, [2, 10], [11]],
      ['runway', 'veo3.1', { min: 4, max: 8 }, [4, 6, 8], [5]],
      ['runway', 'veo3.1_fast', { min: 4, max: 8 }, [8], [9]],
      ['replicate', 'wan-video/wan-2.2-t2v-fast', { min: 5, max: 8 }, [5, 8], [6, 7]],
      ['replicate', 'bytedance/seedance-1-lite', { min: 2, max: 12 }, [2, 7, 12], [1, 12.5, 13]],
      ['replicate', 'kwaivgi/kling-v2.1', { min: 5, max: 10 }, [5, 10], [6, 8]],
      ['replicate', 'minimax/hailuo-02', { min: 6, max: 10 }, [6, 10], [5, 8]],
    ];
    for (const [backend, model, range, allowed, refused] of cases) {
      expect({ model, range: durationRange(backend, model) }).toEqual({ model, range });
      for (const s of allowed)
        expect({ model, s, ok: isAllowedDuration(backend, s, 30, model) }).toEqual({ model, s, ok: true });
      for (const s of refused)
        expect({ model, s, ok: isAllowedDuration(backend, s, 30, model) }).toEqual({ model, s, ok: false });
    }
    // Every catalogued model is covered above.
    const covered = new Set(cases.map((c) => c[1]));
    const all = Object.values(BACKEND_CAPABILITIES).flatMap((b) => Object.keys(b.models));
    expect(all.filter((m) => !covered.has(m))).toEqual([]);
  });

  it('snaps and steps lengths by the model, the default model when none is named', () => {
    expect(snapDuration('replicate', 7, 30)).toBe(8);
    expect(snapDuration('replicate', 7, 30, 'bytedance/seedance-1-lite')).toBe(7);
    expect(snapDuration('replicate', 20, 30, 'bytedance/seedance-1-lite')).toBe(12);
    expect(neighbourDurations('replicate', 5, 30)).toEqual([8]);
    expect(neighbourDurations('replicate', 5, 30, 'bytedance/seedance-1-lite')).toEqual([4, 6]);
    expect(neighbourDurations('replicate', 6, 30, 'minimax/hailuo-02')).toEqual([10]);
    expect(resolutionFor('replicate', 1080, 1920)).toBe('720p');
    expect(resolutionFor('replicate', 1080, 1920, 'bytedance/seedance-1-lite')).toBe('1080p');
  });

  it('fits a cut to the configured model’s lengths', () => {
    // Three shots for a 15 s cut: Wan makes only 5 or 8 s, Seedance any whole second.
    const fit = (models?: Record<string, string>) =>
      fitDurations([4, 6, 5], ['replicate', 'replicate', 'replicate'], 15, models ? { models } : {});
    const wan = fit();
    const seedance = fit({ replicate: 'bytedance/seedance-1-lite' });
    if (!wan.ok || !seedance.ok) throw new Error('expected both to fit');
    for (const d of wan.durations) expect([5, 8]).toContain(d);
    expect(seedance.durations.some((d) => d !== 5 && d !== 8)).toBe(true);
    for (const d of seedance.durations)
      expect(isAllowedDuration('replicate', d, 30, 'bytedance/seedance-1-lite')).toBe(true);
  });

  it('says which image inputs each model takes, and by which field', () => {
    expect(modelCapability('runway', 'gen4_turbo')).toMatchObject({
      firstFrame: 'required',
      inputs: { firstFrame: 'promptImage' },
    });
    expect(modelCapability('runway', 'gen4.5')).toMatchObject({
      firstFrame: 'optional',
      maxPromptChars: 1000,
      negativePrompt: false,
    });
    expect(modelCapability('replicate', 'bytedance/seedance-1-lite')).toMatchObject({
      firstFrame: 'optional',
      lastFrame: true,
      maxReferenceImages: 4,
      inputs: { firstFrame: 'image', lastFrame: 'last_frame_image', referenceImages: 'reference_images' },
    });
    expect(modelCapability('replicate', 'minimax/hailuo-02').inputs).toEqual({
      firstFrame: 'first_frame_image',
      lastFrame: 'end_image',
    });
    expect(modelCapability('replicate', 'kwaivgi/kling-v2.1')).toMatchObject({
      firstFrame: 'required',
      inputs: { firstFrame: 'start_image' },
    });
    expect(modelCapability('veo')).toMatchObject({
      nativeAudio: true,
      maxReferenceImages: 3,
      lastFrame: true,
      concurrency: { limit: 10, per: 'project' },
    });
    // A model that takes no image names no input for one, and one that takes one names its field.
    for (const b of Object.values(BACKEND_CAPABILITIES)) {
      for (const m of Object.values(b.models)) {
        expect({ model: m.model, has: m.inputs.firstFrame !== undefined }).toEqual({
          model: m.model,
          has: m.firstFrame !== 'none',
        });
        expect({ model: m.model, has: m.inputs.lastFrame !== undefined }).toEqual({ model: m.model, has: m.lastFrame });
        expect({ model: m.model, has: m.inputs.referenceImages !== undefined }).toEqual({
          model: m.model,
          has: m.maxReferenceImages > 0,
        });
      }
    }
  });
});

describe('BACKEND_MODELS', () => {
  it('reads backend=model pairs, trimming space, and nothing from an empty value', () => {
    expect(parseBackendModels(' runway=gen4_turbo , replicate=bytedance/seedance-1-lite')).toEqual({
      runway: 'gen4_turbo',
      replicate: 'bytedance/seedance-1-lite',
    });
    expect(parseBackendModels('')).toEqual({});
    expect(parseBackendModels(undefined)).toEqual({});
  });

  it('refuses an unknown backend, an unknown model, a backend named twice and a pair without a model', () => {
    expect(() => parseBackendModels('kling=v2')).toThrow('BACKEND_MODELS: "kling" is not a backend');
    expect(() => parseBackendModels('runway=gen9')).toThrow(
      'BACKEND_MODELS: the vendor catalogue has no runway model "gen9"',
    );
    expect(() => parseBackendModels('runway=gen4.5,runway=gen4_turbo')).toThrow('BACKEND_MODELS names runway twice');
    expect(() => parseBackendModels('runway')).toThrow('BACKEND_MODELS: "runway" is not backend=model');
  });
});

describe('what a model can be given', () => {
  it('takes an image as a first frame or as references; requires one only when its first frame is required', () => {
    expect(takesImage('runway', 'gen4.5')).toBe(true);
    expect(takesImage('veo')).toBe(true);
    expect(takesImage('replicate', 'wan-video/wan-2.2-t2v-fast')).toBe(false);
    expect(takesImage('local')).toBe(false);
    expect(requiresImage('runway', 'gen4_turbo')).toBe(true);
    expect(requiresImage('runway', 'gen4.5')).toBe(false);
  });

  it('a shot needs an image when it carries a product reference, not a brand or style one', () => {
    const ref = (role: 'product' | 'brand' | 'style') => ({
      id: 'ref-1',
      role,
      path: 'p',
      contentType: 'image/png' as const,
      sha256: '0'.repeat(64),
    });
    expect(shotNeedsImage({ references: [ref('style'), ref('product')] })).toBe(true);
    expect(shotNeedsImage({ references: [ref('brand'), ref('style')] })).toBe(false);
    expect(shotNeedsImage({})).toBe(false);
  });
});
