/** The still-image formats a brief's reference images may be in: what every video vendor accepts. */
export type StillImageType = 'image/png' | 'image/jpeg' | 'image/webp';

export interface StillImageInfo {
  contentType: StillImageType;
  /** File extension without the dot. */
  extension: 'png' | 'jpg' | 'webp';
  width: number;
  height: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * What a file is, read from its own bytes (a Content-Type header or a file name is the sender's
 * claim, not a fact), with its pixel size from the header: PNG's IHDR, JPEG's first start-of-frame
 * marker, WebP's VP8/VP8L/VP8X chunk. Null when the bytes are none of the three or the header is
 * cut short or names a zero size. Reads only the header, never decodes pixels: a small parser
 * rather than ffprobe, so the gateway (which has no ffmpeg) and the planner share it.
 */
export function stillImageInfo(bytes: Buffer): StillImageInfo | null {
  const info = png(bytes) ?? jpeg(bytes) ?? webp(bytes);
  return info && info.width > 0 && info.height > 0 ? info : null;
}

function png(b: Buffer): StillImageInfo | null {
  // Signature, then the first chunk must be IHDR (length 13): width and height at 16 and 20.
  if (b.length < 24 || !b.subarray(0, 8).equals(PNG_SIGNATURE) || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  return { contentType: 'image/png', extension: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function jpeg(b: Buffer): StillImageInfo | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8 || b[2] !== 0xff) return null;
  let at = 2;
  // Each segment: 0xFF, marker, 2-byte length (including itself). Bounded by the buffer.
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    // Standalone markers carry no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image or scan data before any frame header
    const length = b.readUInt16BE(at + 2);
    if (length < 2) return null;
    // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC), hold precision, height, width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 9 > b.length) return null;
      return {
        contentType: 'image/jpeg',
        extension: 'jpg',
        height: b.readUInt16BE(at + 5),
        width: b.readUInt16BE(at + 7),
      };
    }
    at += 2 + length;
  }
  return null;
}

function webp(b: Buffer): StillImageInfo | null {
  if (b.length < 30 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP') return null;
  const chunk = b.toString('latin1', 12, 16);
  const info = (width: number, height: number): StillImageInfo => ({
    contentType: 'image/webp',
    extension: 'webp',
    width,
    height,
  });
  if (chunk === 'VP8 ') {
    // A key frame's start code, then 14-bit width and height.
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return null;
    return info(b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff);
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return null;
    const bits = b.readUInt32LE(21);
    return info((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
  }
  if (chunk === 'VP8X') {
    return info(b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1);
  }
  return null;
}
