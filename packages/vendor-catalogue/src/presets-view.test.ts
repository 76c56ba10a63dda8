import { PresetsViewSchema, validate } from '@aiprod/contracts';
import { presetsView } from './presets-view';

describe('presets view', () => {
  it('is JSON that matches its schema and shows each preset’s tier, order and variants', () => {
    const view = JSON.parse(JSON.stringify(presetsView())) as unknown;
    expect(validate(PresetsViewSchema, view).ok).toBe(true);
    const [social] = presetsView();
    expect(social).toMatchObject({
      name: 'social_quick',
      qualityTier: 'basic',
      backendOrder: ['replicate', 'runway', 'local'],
      defaultAspectRatios: ['9:16'],
    });
    expect(social!.backends[0]).toEqual({
      backend: 'replicate',
      model: 'wan-video/wan-2.2-t2v-fast',
      tier: 'basic',
      durations: '5, 8 s',
    });
    for (const p of presetsView()) expect([...p.backendOrder].sort()).toEqual([...p.allowedBackends].sort());
  });
});

describe('presets view with configured models', () => {
  it('shows the configured model and its lengths, and refuses a model the catalogue does not know', () => {
    const [social] = presetsView({ replicate: 'bytedance/seedance-1-lite' });
    expect(social!.backends[0]).toEqual({
      backend: 'replicate',
      model: 'bytedance/seedance-1-lite',
      tier: 'basic',
      durations: 'whole seconds, 2–12 s',
    });
    expect(() => presetsView({ replicate: 'acme/unknown' })).toThrow(/no replicate model "acme\/unknown"/);
  });
});
