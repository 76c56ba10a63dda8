import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Outputs } from '@aiprod/client';

export interface DownloadedFile {
  name: string;
  path: string;
  sizeBytes: number;
  sha256: string;
}

interface Wanted {
  name: string;
  url: string;
  sizeBytes?: number;
  sha256?: string;
}

/**
 * Every file of a delivered job: its cuts (size and SHA-256 checked), their captions, each
 * language's voice track and the stills (size checked). With several languages every name carries
 * its language, so one language's cut never overwrites another's.
 */
export function filesOf(outputs: Outputs): Wanted[] {
  const languages = new Set(outputs.outputs.map((o) => o.language));
  const base = (o: Outputs['outputs'][number]) =>
    `${outputs.jobId}-${languages.size > 1 && o.language ? `${o.language}-` : ''}${o.variant.replace(':', 'x')}`;
  const files: Wanted[] = outputs.outputs.flatMap((o) => [
    { name: `${base(o)}.mp4`, url: o.url, sizeBytes: o.sizeBytes, sha256: o.sha256 },
    ...(o.captions
      ? [
          { name: `${base(o)}.vtt`, url: o.captions.vttUrl },
          { name: `${base(o)}.srt`, url: o.captions.srtUrl },
        ]
      : []),
  ]);
  for (const track of outputs.voiceTracks) {
    files.push({ name: `${outputs.jobId}-voice-${track.language}.wav`, url: track.url });
  }
  if (outputs.stills) {
    files.push({ name: `${outputs.jobId}-poster.jpg`, url: outputs.stills.posterUrl });
    files.push({ name: `${outputs.jobId}-contact-sheet.jpg`, url: outputs.stills.contactSheetUrl });
  }
  return files;
}

/**
 * Downloads each file into `dir` through a temporary name, renamed only once its size (the API's,
 * else Content-Length) and SHA-256 (when the API gives one) match: a file that is there is whole.
 */
export async function downloadFiles(files: Wanted[], dir: string, timeoutMs = 120_000): Promise<DownloadedFile[]> {
  await mkdir(dir, { recursive: true });
  const done: DownloadedFile[] = [];
  for (const file of files) {
    const response = await fetch(file.url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok || !response.body) throw new Error(`downloading ${file.name} failed with HTTP ${response.status}`);
    const name = stillName(file.name, response.headers.get('content-type'));
    const expected = file.sizeBytes ?? Number(response.headers.get('content-length') ?? NaN);
    const path = join(dir, name);
    const tmp = `${path}.part`;
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, next) {
        hash.update(chunk);
        size += chunk.length;
        next(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(response.body as never), tap, createWriteStream(tmp));
    const sha256 = hash.digest('hex');
    if (size !== expected || (file.sha256 && sha256 !== file.sha256)) {
      await rm(tmp, { force: true });
      throw new Error(
        `${name}: got ${size} bytes (sha256 ${sha256}), expected ${expected}${file.sha256 ? ` (sha256 ${file.sha256})` : ''}`,
      );
    }
    await rename(tmp, path);
    done.push({ name, path, sizeBytes: size, sha256 });
  }
  return done;
}

/** Stills keep the extension of what the server says they are (a PNG poster is not named .jpg). */
function stillName(name: string, contentType: string | null): string {
  if (name.endsWith('.mp4')) return name;
  const ext = contentType?.startsWith('image/png') ? '.png' : '.jpg';
  return name.replace(/\.jpg$/, ext);
}
