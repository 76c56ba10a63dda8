/** The audio formats a client's music may be in. */
export type AudioFileType = 'audio/mpeg' | 'audio/wav' | 'audio/mp4' | 'audio/ogg' | 'audio/flac';

export interface AudioFileInfo {
  contentType: AudioFileType;
  /** File extension without the dot. */
  extension: 'mp3' | 'wav' | 'm4a' | 'ogg' | 'flac';
}

/**
 * What an audio file is, read from its first bytes (a Content-Type header or a file name is the
 * sender's claim): MP3 (an ID3v2 tag or an MPEG audio frame sync), WAV (RIFF…WAVE), MP4/M4A (an
 * `ftyp` box), Ogg (`OggS`) or FLAC (`fLaC`). Null for anything else. Only the signature: whether
 * it really decodes, and how long it lasts, is ffprobe's to say (the planner's, which has ffmpeg);
 * like stillImageInfo, the gateway can use it without ffmpeg.
 */
export function audioFileInfo(b: Buffer): AudioFileInfo | null {
  const ascii = (from: number, to: number) => (b.length >= to ? b.toString('latin1', from, to) : '');
  if (ascii(0, 3) === 'ID3') return { contentType: 'audio/mpeg', extension: 'mp3' };
  // MPEG-1/2 layer III frame sync: 11 set bits, a valid version (not 01) and layer III (01).
  if (b.length >= 2 && b[0] === 0xff && (b[1]! & 0xe0) === 0xe0 && (b[1]! & 0x18) !== 0x08 && (b[1]! & 0x06) === 0x02)
    return { contentType: 'audio/mpeg', extension: 'mp3' };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return { contentType: 'audio/wav', extension: 'wav' };
  if (ascii(4, 8) === 'ftyp') return { contentType: 'audio/mp4', extension: 'm4a' };
  if (ascii(0, 4) === 'OggS') return { contentType: 'audio/ogg', extension: 'ogg' };
  if (ascii(0, 4) === 'fLaC') return { contentType: 'audio/flac', extension: 'flac' };
  return null;
}
