import { redactInternalNames } from './client-text';

describe('redactInternalNames', () => {
  it.each([
    [
      'polling projects/acme-prod/locations/us-central1/publishers/google/models/veo-3.0/operations/abc-123 failed',
      'polling [internal resource] failed',
    ],
    ['dead-lettered from aiprod.render.veo.v1.render-veo.dlq', 'dead-lettered from [internal queue]'],
    ['published to aiprod.job.requested.v1', 'published to [internal queue]'],
    ['gs://acme-media/jobs/j1/clip.mp4 is missing', '[internal storage] is missing'],
    ['connect ECONNREFUSED 10.0.0.7:443', 'connect ECONNREFUSED [address]'],
    ['connect ECONNREFUSED [fd00::1]:443 via ::ffff:10.0.0.1', 'connect ECONNREFUSED [address] via [address]'],
  ])('%s', (text, shown) => {
    expect(redactInternalNames(text)).toBe(shown);
  });

  it('leaves times, ratios, versions, dates and key prefixes alone', () => {
    const text = 'at 12:30:45, 16:9, veo-3.0 v1.2.3, 2026-12-01T10:00:00.000Z, key aiprod_live_ab12cd34';
    expect(redactInternalNames(text)).toBe(text);
  });
});
