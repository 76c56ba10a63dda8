import { renderAnimatic } from '@aiprod/media';
import type { VideoBackend } from './backend';

/** The zero-cost animatic: palette gradients, a camera move and the shot's text, made by ffmpeg. */
export function localBackend(options: { timeoutMs: number }): VideoBackend {
  return {
    name: 'local',
    async render(spec, outFile, signal) {
      await renderAnimatic(spec, outFile, { timeoutMs: options.timeoutMs, signal });
      return { costUsd: 0 };
    },
  };
}
