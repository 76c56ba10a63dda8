import type { Brief, ShotSpec } from '@aiprod/contracts';

/**
 * A valid brief with only the fields a client must send. A test overrides the fields it is
 * about, so a reader sees at once what matters to it; every call returns new objects, so a test
 * that changes its brief changes no other test's.
 */
export function aBrief(overrides: Partial<Brief> = {}): Brief {
  return {
    product: 'Aurora running shoe',
    brand: { name: 'Aurora' },
    keyMessage: 'Meet Aurora',
    durationSeconds: 15,
    aspectRatios: ['16:9'],
    ...overrides,
  };
}

/**
 * The brief a client sends through the public API in the gateway's tests and its benchmark: a
 * palette, a vertical cut, a call to action and metadata the API echoes back.
 */
export function aClientBrief(overrides: Partial<Brief> = {}): Brief {
  return aBrief({
    brand: { name: 'Aurora', colors: ['#FF5A1F', '#1B1B3A'] },
    keyMessage: 'Run brighter',
    aspectRatios: ['9:16'],
    callToAction: 'Run brighter',
    metadata: { campaign: 'spring-26' },
    ...overrides,
  });
}

/**
 * A valid shot of a plan: five seconds of 1280×720 at 30 fps, a slow zoom over the brand's
 * blues. A test overrides what it is about (text on screen, duration, size, seed).
 */
export function aShotSpec(overrides: Partial<ShotSpec> = {}): ShotSpec {
  return {
    shotId: 's01',
    index: 0,
    purpose: 'hook',
    durationSeconds: 5,
    prompt: 'A running shoe on a wet city street at dawn',
    camera: 'zoom_in',
    palette: ['#0B1D3A', '#1E6FD9'],
    width: 1280,
    height: 720,
    fps: 30,
    ...overrides,
  };
}
