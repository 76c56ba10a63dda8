import { attemptCost, parsePriceTable, PRICE_TABLE, priceShot } from './pricing';
import { BACKEND_CAPABILITIES } from './capabilities';

describe('price table and attempt cost', () => {
  it('is versioned data, checked when loaded', () => {
    expect(PRICE_TABLE.version).toMatch(/^\d{4}-\d{2}-\d{2}\.\d+$/);
    expect(PRICE_TABLE.currency).toBe('USD');
    expect(() => parsePriceTable({ ...PRICE_TABLE, currency: 'EUR' })).toThrow(/invalid price table: \/currency/);
  });

  it('prices per output second with the audio surcharge, and Replicate per predict-second', () => {
    expect(attemptCost('veo', 'veo-3.1-fast-generate-001', { outputSeconds: 8, resolution: '720p', audio: true })).toBe(
      1.2,
    );
    expect(
      attemptCost('veo', 'veo-3.1-fast-generate-001', { outputSeconds: 8, resolution: '720p', audio: false }),
    ).toBe(0.8);
    expect(attemptCost('runway', 'gen4.5', { outputSeconds: 5, resolution: '720p', audio: true })).toBe(0.6);
    expect(attemptCost('local', 'animatic-1', { outputSeconds: 20, resolution: '1080p', audio: false })).toBe(0);
    const wan = 'wan-video/wan-2.2-t2v-fast';
    // Measured predict time wins over the table's factor.
    expect(
      attemptCost('replicate', wan, { outputSeconds: 5, resolution: '480p', audio: false, predictSeconds: 40 }),
    ).toBe(0.061);
    expect(attemptCost('replicate', wan, { outputSeconds: 5, resolution: '480p', audio: false })).toBe(0.0458);
    // A 1080p request is rendered, and billed, at the model's 720p.
    expect(attemptCost('replicate', wan, { outputSeconds: 5, resolution: '1080p', audio: false })).toBe(
      attemptCost('replicate', wan, { outputSeconds: 5, resolution: '720p', audio: false }),
    );
    expect(() => attemptCost('runway', 'gen9', { outputSeconds: 5, resolution: '720p', audio: false })).toThrow(
      /has no price for runway model gen9/,
    );
  });

  it('prices a shot at the resolution its backend renders the frame', () => {
    const shot = { durationSeconds: 6, width: 1080, height: 1920 };
    expect(priceShot(shot, 'veo', { model: 'veo-3.1-generate-001', audio: true })).toBe(2.4);
    expect(priceShot(shot, 'runway', { model: 'gen4.5', audio: false })).toBe(0.72);
  });
});

describe('price table against the catalogue', () => {
  const catalogued = Object.values(BACKEND_CAPABILITIES).flatMap((b) =>
    Object.values(b.models).map((m) => ({ backend: b.backend, model: m })),
  );

  it('prices every default model, and every other catalogued model, at each resolution it renders', () => {
    for (const b of Object.values(BACKEND_CAPABILITIES)) expect(Object.keys(b.models)).toContain(b.defaultModel);
    for (const { backend, model } of catalogued) {
      for (const resolution of model.resolutions) {
        const usd = attemptCost(backend, model.model, { outputSeconds: 5, resolution, audio: model.nativeAudio });
        expect(Number.isFinite(usd)).toBe(true);
        if (backend !== 'local') expect(usd).toBeGreaterThan(0);
      }
    }
  });

  it('prices no model the catalogue does not know', () => {
    for (const [backend, models] of Object.entries(PRICE_TABLE.backends)) {
      const known = Object.keys(BACKEND_CAPABILITIES[backend as keyof typeof BACKEND_CAPABILITIES].models);
      expect(Object.keys(models).filter((m) => !known.includes(m))).toEqual([]);
    }
  });

  it('prices Seedance lite per output second by resolution, and a shot at the resolution the model renders', () => {
    const seedance = 'bytedance/seedance-1-lite';
    expect(attemptCost('replicate', seedance, { outputSeconds: 5, resolution: '480p', audio: false })).toBe(0.09);
    expect(attemptCost('replicate', seedance, { outputSeconds: 5, resolution: '1080p', audio: false })).toBe(0.36);
    // A 1080×1920 frame: Seedance renders (and bills) 1080p, Wan tops out at 720p.
    const tall = { durationSeconds: 5, width: 1080, height: 1920 };
    expect(priceShot(tall, 'replicate', { model: seedance, audio: false })).toBe(0.36);
    expect(priceShot(tall, 'replicate', { model: 'wan-video/wan-2.2-t2v-fast', audio: false })).toBe(0.0915);
  });
});
