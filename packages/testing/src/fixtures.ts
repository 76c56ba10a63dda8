import { crc32, deflateSync } from 'node:zlib';
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

/**
 * A real, decodable PNG of `width`×`height` in one grey (8-bit greyscale, one IDAT), built here
 * rather than read from a file so a test can ask for any size: an upload or a reference image.
 */
export function aPng(width: number, height: number, grey = 128): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  // Each row: filter byte 0, then the pixels.
  const rows = Buffer.alloc((width + 1) * height, grey);
  for (let y = 0; y < height; y++) rows[y * (width + 1)] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
