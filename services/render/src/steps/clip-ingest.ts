import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RenderRequest } from '@aiprod/contracts';
import { conformClip, needsConform, probe } from '@aiprod/media';
import { shotClipKey } from '@aiprod/storage';
import type { RenderDeps } from '../app';
import { BackendFailure, type BackendOutput } from '../backends/backend';

/** Reading a downloaded clip's streams: ffprobe answers in a second for any sane file. */
const PROBE_TIMEOUT_MS = 30_000;
/** Re-encoding one shot (at most a few seconds of video) to the shot's size, rate and length. */
const CONFORM_TIMEOUT_MS = 120_000;

/**
 * Brings a finished vendor clip into our storage at once (vendor URLs expire): download, check it
 * is a readable video, conform it to the shot's size, rate and length, store it. Vendor-side
 * problems are BackendFailures (the file is paid for either way: `charged`).
 */
export async function ingestClip(
  deps: RenderDeps,
  msg: RenderRequest,
  output: BackendOutput,
): Promise<{ clipUri: string; sizeBytes: number; durationSeconds: number }> {
  const dir = await mkdtemp(join(deps.workDir, 'render-'));
  try {
    const file = join(dir, 'clip.mp4');
    try {
      await deps.backend.fetchResult(
        output,
        file,
        AbortSignal.any([deps.shutdown, AbortSignal.timeout(deps.timeouts.fetchMs)]),
      );
    } catch (error) {
      throw error instanceof BackendFailure ? error : new BackendFailure(deps.backend.classify(error));
    }
    const media = await probe(file, { timeoutMs: PROBE_TIMEOUT_MS }).catch((error: unknown) => {
      throw new BackendFailure({
        class: 'no_output',
        code: 'unreadable_video',
        message:
          `the vendor's file is not a readable video: ${error instanceof Error ? error.message : String(error)}`.slice(
            0,
            300,
          ),
        charged: true,
      });
    });
    if (!media.video) {
      throw new BackendFailure({
        class: 'no_output',
        code: 'no_video_stream',
        message: "the vendor's file has no video stream",
        charged: true,
      });
    }
    // Vendors render their own frame sizes, rates and rounded-up lengths; QA and assembly get the shot's.
    let clip = file;
    if (needsConform(media, msg.spec)) {
      clip = join(dir, 'conformed.mp4');
      await conformClip(file, clip, msg.spec, { timeoutMs: CONFORM_TIMEOUT_MS, signal: deps.shutdown });
    }
    const stored = await deps.storage.putFile(shotClipKey(msg), clip, {
      contentType: 'video/mp4',
      move: true,
    });
    return { clipUri: stored.uri, sizeBytes: stored.sizeBytes, durationSeconds: media.durationSeconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
